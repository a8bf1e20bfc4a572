// Engine::Impl: one step (schedule, plan, forward, sample), finishing, and the step thread.
#include <algorithm>
#include <limits>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/engine/engine_impl.h"
#include "core/engine/plan_builder.h"
#include "spdlog/spdlog.h"

namespace ribbon {
namespace {

bool Contains(const std::vector<int32_t>& ids, int32_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

absl::StatusOr<bool> Engine::Impl::StepOnce() {
  DrainInbox();
  live_count_.store(static_cast<int32_t>(live_.size()));
  if (live_.empty()) return false;
  StepReport report;
  const TimeNs t0 = SteadyNowNs();
  const std::vector<sched::SeqState> states = Snapshot();
  if (token_budget_.load() == 0) token_budget_.store(options_.scheduler.max_ribbon_tokens);
  sched::SchedulerInput input{t0, states, {blocks_.free_blocks(), blocks_.total_blocks(), blocks_.block_size()},
                              token_budget_.load()};
  const sched::ScheduleDecision decision = scheduler_->Schedule(input);
  ApplyDecision(decision);
  report.preempted = static_cast<int32_t>(decision.preempted.size());
  report.capacity = token_budget_.load();
  absl::Status status = absl::OkStatus();
  if (!decision.chunks.empty()) {
    status = Run(decision, report);
  } else if (decision.expired.empty() && decision.rejected.empty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // nothing fits yet: do not spin
  }
  RemoveFinished();
  int32_t running = 0;
  for (const auto& seq : live_) running += seq->running ? 1 : 0;
  running_.store(running);
  live_count_.store(static_cast<int32_t>(live_.size()));
  steps_.fetch_add(1);
  if (observer_) observer_->OnStep(report);
  if (!status.ok()) return status;
  return true;
}

absl::Status Engine::Impl::Run(const sched::ScheduleDecision& decision, StepReport& report) {
  const TimeNs t0 = SteadyNowNs();
  for (const auto& chunk : decision.chunks) {
    Sequence& seq = *by_id_.at(chunk.id);
    const int32_t rows = std::max(chunk.num_tokens, chunk.padded_tokens);
    absl::Status fits = blocks_.EnsureCapacity(seq.id, seq.num_computed + rows);
    if (!fits.ok()) {
      // The policy promised these blocks; failing the request beats corrupting another's KV.
      Finish(seq, FinishReason::kError, absl::InternalError(absl::StrCat("scheduler over-committed KV: ", fits.message())));
      return fits;
    }
  }
  PlanInputs in{decision.chunks, decision.ribbon_rows,
                static_cast<int32_t>(model_->config().max_position_embeddings),
                [this](uint64_t id) { return by_id_.at(id); }};
  const std::vector<Sequence*> samplers = BuildStepPlan(in, blocks_, plan_);
  report.ribbon_rows = plan_.num_rows;
  report.real_tokens = plan_.real_tokens;
  logits_.resize(samplers.size() * static_cast<size_t>(model_->config().vocab_size));
  const TimeNs t1 = SteadyNowNs();
  absl::Status forward = Forward(report);
  const TimeNs t2 = SteadyNowNs();
  report.schedule_seconds = NsToSeconds(t1 - t0);
  report.forward_seconds = NsToSeconds(t2 - t1);
  if (report.oom_recovered) return absl::OkStatus();  // nothing advanced; the sequences run again
  if (!forward.ok()) {
    spdlog::error("forward failed: {}", forward.ToString());
    for (const auto& chunk : decision.chunks) Finish(*by_id_.at(chunk.id), FinishReason::kError, forward);
    return forward;
  }
  for (const auto& chunk : decision.chunks) {
    Sequence& seq = *by_id_.at(chunk.id);
    const int32_t prompt_part = std::clamp(seq.prompt_len - seq.num_computed, 0, chunk.num_tokens);
    report.prompt_tokens += prompt_part;
    report.decode_tokens += chunk.num_tokens - prompt_part;
  }
  SampleAndAdvance(samplers, decision.chunks);
  report.sample_seconds = NsToSeconds(SteadyNowNs() - t2);
  return absl::OkStatus();
}

absl::Status Engine::Impl::Forward(StepReport& report) {
  absl::Status status = options_.debug_inject_oom && options_.debug_inject_oom(steps_.load())
                            ? absl::ResourceExhaustedError("injected out-of-memory")
                            : model_->Forward(plan_, logits_);
  if (!absl::IsResourceExhausted(status)) {
    oom_streak_ = 0;
    return status;
  }
  // Shrink and retry; a ribbon already at the floor is retried as it is (the shortage may be
  // transient), and only a streak of failures there fails its requests.
  if (++oom_streak_ > kMaxOomRetriesAtFloor && plan_.num_rows <= std::max(1, options_.min_ribbon_tokens)) {
    oom_streak_ = 0;
    return status;
  }
  ShrinkBudget(plan_.num_rows);
  report.oom_recovered = true;
  return status;
}

// Out of memory: halve the step budget (aligned, never below min_ribbon_tokens) and put the
// step's sequences back as they were. Nothing was sampled and num_computed did not move, so no
// token is lost or duplicated; KV written for the failed rows is simply written again.
void Engine::Impl::ShrinkBudget(int32_t failed_rows) {
  const int32_t floor = std::max(1, options_.min_ribbon_tokens);
  const int32_t halved = sched::AlignUp(std::max(1, failed_rows / 2), std::max(1, options_.scheduler.align));
  const int32_t budget = std::max(floor, std::min(token_budget_.load(), halved));
  spdlog::warn("out of memory in a ribbon of {} rows: step budget {} -> {} tokens", failed_rows,
               token_budget_.load(), budget);
  token_budget_.store(budget);
  oom_recoveries_.fetch_add(1);
}

void Engine::Impl::SampleAndAdvance(const std::vector<Sequence*>& samplers,
                                    std::span<const sched::ScheduledChunk> chunks) {
  const TimeNs now = SteadyNowNs();
  for (const auto& chunk : chunks) {
    Sequence& seq = *by_id_.at(chunk.id);
    seq.info.prompt_tokens_computed += std::clamp(seq.prompt_len - seq.num_computed, 0, chunk.num_tokens);
    seq.num_computed += chunk.num_tokens;
    seq.running = true;
    if (!seq.ever_scheduled) {
      seq.ever_scheduled = true;
      seq.info.first_scheduled = now;
      queued_.fetch_sub(1);
      queued_prompt_tokens_.fetch_sub(seq.prompt_len);
    }
  }
  const int64_t vocab = model_->config().vocab_size;
  for (size_t i = 0; i < samplers.size(); ++i) {
    Sequence& seq = *samplers[i];
    std::span<float> row(logits_.data() + i * vocab, static_cast<size_t>(vocab));
    if (seq.generated() < seq.request.stop.min_new_tokens) {
      for (int32_t id : seq.request.stop.stop_token_ids) if (id >= 0 && id < vocab) row[id] = -std::numeric_limits<float>::infinity();
      if (!seq.request.stop.ignore_eos) {
        for (int32_t id : model_->config().eos_token_ids) if (id >= 0 && id < vocab) row[id] = -std::numeric_limits<float>::infinity();
      }
    }
    const SamplingContext context{seq.prompt(), seq.output(), static_cast<uint64_t>(seq.generated())};
    SampledToken sampled = SampleToken(row, seq.request.sampling, context);
    if (seq.info.first_token == 0) seq.info.first_token = now;
    const std::optional<FinishReason> stop = StopReason(seq, sampled.token);
    if (stop == FinishReason::kStopToken) {
      Finish(seq, *stop, absl::OkStatus());
      continue;
    }
    seq.tokens.push_back(sampled.token);
    seq.sink->OnTokens(std::span<const SampledToken>(&sampled, 1));
    if (stop) Finish(seq, *stop, absl::OkStatus());
  }
}

std::optional<FinishReason> Engine::Impl::StopReason(const Sequence& seq, int32_t token) const {
  const StopConditions& stop = seq.request.stop;
  if (seq.generated() >= stop.min_new_tokens) {
    if (Contains(stop.stop_token_ids, token)) return FinishReason::kStopToken;
    if (!stop.ignore_eos && Contains(model_->config().eos_token_ids, token)) return FinishReason::kStopToken;
  }
  if (seq.generated() + 1 >= stop.max_new_tokens) return FinishReason::kLength;
  // The new token sits at position tokens.size(); past the context it can never be fed back.
  if (static_cast<int64_t>(seq.tokens.size()) >= model_->config().max_position_embeddings) return FinishReason::kLength;
  return std::nullopt;
}

void Engine::Impl::Finish(Sequence& seq, FinishReason reason, absl::Status status) {
  if (!seq.sink) return;  // already finished
  blocks_.Free(seq.id);
  seq.running = false;
  if (!seq.ever_scheduled) {
    queued_.fetch_sub(1);
    queued_prompt_tokens_.fetch_sub(seq.prompt_len);
    seq.ever_scheduled = true;
  }
  seq.info.reason = reason;
  seq.info.status = std::move(status);
  seq.info.generated_tokens = seq.generated();
  seq.info.finished = SteadyNowNs();
  std::shared_ptr<RequestSink> sink = std::move(seq.sink);
  sink->OnFinish(seq.info);
  if (observer_) observer_->OnRequestFinished(seq.request, seq.info);
}

void Engine::Impl::RemoveFinished() {
  auto finished = [](const std::unique_ptr<Sequence>& seq) { return !seq->sink; };
  for (const auto& seq : live_) {
    if (finished(seq)) by_id_.erase(seq->id);
  }
  live_.erase(std::remove_if(live_.begin(), live_.end(), finished), live_.end());
}

void Engine::Impl::Loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || !inbox_.empty() || !cancels_.empty() || live_count_.load() > 0; });
    }
    if (options_.debug_step_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(options_.debug_step_delay_ms));
    absl::StatusOr<bool> stepped = StepOnce();
    if (!stepped.ok()) spdlog::error("engine step failed: {}", stepped.status().ToString());
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ && inbox_.empty() && live_count_.load() == 0) break;
  }
}

void Engine::Impl::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] { Loop(); });
}

void Engine::Impl::Shutdown(absl::Duration grace) {
  bool threaded;
  {
    std::lock_guard<std::mutex> lock(mu_);
    accepting_ = false;
    threaded = thread_.joinable();
  }
  const absl::Time give_up = absl::Now() + grace;
  while (threaded && absl::Now() < give_up) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (inbox_.empty() && live_count_.load() == 0) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    abort_all_ = true;
    stop_ = true;
  }
  wake_.notify_all();
  if (threaded) {
    thread_.join();
  } else {
    DrainInbox();
  }
}

EngineStats Engine::Impl::Stats() const {
  EngineStats s;
  s.running = running_.load();
  s.waiting = queued_.load();
  s.kv_blocks_free = blocks_.free_blocks();
  s.kv_blocks_total = blocks_.total_blocks();
  s.steps = steps_.load();
  s.preemptions = preemptions_.load();
  s.oom_recoveries = oom_recoveries_.load();
  s.token_budget = token_budget_.load();
  return s;
}

}  // namespace ribbon
