// Engine::Impl: one step — schedule and plan (Prepare), run the forward (Launch), sample and
// deliver (Complete) — and the pipeline that overlaps the next step's Prepare with a forward.
#include <algorithm>
#include <limits>
#include <thread>
#include <unordered_map>

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
  if (flights_.empty()) {
    DrainInbox();
    RemoveFinished();
    PublishStats();  // also when idle: cancels may just have emptied the engine
    if (live_.empty()) return false;
    std::unique_ptr<Step> step = Prepare(/*speculative=*/false);
    if (!step) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // nothing fits yet: do not spin
      PublishStats();
      return true;
    }
    Launch(std::move(step));
  }
  // Pipelined: the next step is planned and queued while the oldest runs; the worker starts it
  // the moment the oldest's tokens are drawn.
  if (worker_) {
    if (std::unique_ptr<Step> next = Prepare(/*speculative=*/true)) Launch(std::move(next));
  }
  Complete();
  RemoveFinished();
  PublishStats();
  return true;
}

std::unique_ptr<Step> Engine::Impl::Prepare(bool speculative) {
  const TimeNs t0 = SteadyNowNs();
  if (token_budget_.load() == 0) token_budget_.store(options_.scheduler.max_ribbon_tokens);
  const std::vector<sched::SeqState> states = Snapshot();
  sched::SchedulerInput input{t0,
                              states,
                              {blocks_.free_blocks(), blocks_.total_blocks(), blocks_.block_size()},
                              token_budget_.load()};
  sched::ScheduleDecision decision = scheduler_->Schedule(input);
  const bool disruptive =
      !decision.preempted.empty() || !decision.rejected.empty() || !decision.expired.empty();
  if (speculative && disruptive) return nullptr;
  ApplyDecision(decision);
  if (decision.chunks.empty()) return nullptr;
  auto step = std::make_unique<Step>();
  step->report.preempted = static_cast<int32_t>(decision.preempted.size());
  step->report.capacity = token_budget_.load();
  for (const auto& chunk : decision.chunks) {
    Sequence& seq = *by_id_.at(chunk.id);
    const int32_t rows = std::max(chunk.num_tokens, chunk.padded_tokens);
    if (absl::Status fits = blocks_.EnsureCapacity(seq.id, seq.num_computed + rows); !fits.ok()) {
      // The policy promised these blocks; failing the request beats corrupting another's KV.
      spdlog::error("scheduler over-committed KV: {}", fits.ToString());
      Finish(seq, FinishReason::kError,
             absl::InternalError(absl::StrCat("scheduler over-committed KV: ", fits.message())));
      continue;
    }
    step->chunks.push_back(chunk);
  }
  if (step->chunks.empty()) return nullptr;
  const Step* previous = flights_.empty() ? nullptr : flights_.back().get();
  PlanInputs in;
  in.chunks = step->chunks;
  in.ribbon_rows = decision.ribbon_rows;
  in.find = [this](uint64_t id) { return by_id_.at(id); };
  if (previous) in.previous_samplers = previous->seqs.samplers;
  in.eos_token_ids = model_->config().eos_token_ids;
  if (absl::Status built = BuildStepPlan(in, blocks_, builder_, step->plan, step->seqs);
      !built.ok()) {
    // The policy and the block manager disagree: fail the step's requests, not the engine.
    spdlog::error("{}", built.ToString());
    for (const auto& chunk : step->chunks)
      Finish(*by_id_.at(chunk.id), FinishReason::kError, built);
    return nullptr;
  }
  step->report.ribbon_rows = step->plan.num_rows;
  step->report.real_tokens = step->plan.real_tokens;
  step->report.schedule_seconds = NsToSeconds(SteadyNowNs() - t0);
  return step;
}

// Commits the step's chunks (num_computed advances now; a failed forward rolls them back) and
// starts its forward: on the worker when pipelined, behind the step in flight.
void Engine::Impl::Launch(std::unique_ptr<Step> step) {
  const TimeNs now = SteadyNowNs();
  Step* previous = flights_.empty() ? nullptr : flights_.back().get();
  for (const auto& chunk : step->chunks) {
    Sequence& seq = *by_id_.at(chunk.id);
    const int32_t prompt_part = std::clamp(seq.prompt_len - seq.num_computed, 0, chunk.num_tokens);
    step->prompt_parts.push_back(prompt_part);
    step->report.prompt_tokens += prompt_part;
    step->report.decode_tokens += chunk.num_tokens - prompt_part;
    seq.num_computed += chunk.num_tokens;
    seq.running = true;
    ++seq.in_flight;
    if (!seq.ever_scheduled) {
      seq.ever_scheduled = true;
      seq.info.first_scheduled = now;
      queued_.fetch_sub(1);
      queued_prompt_tokens_.fetch_sub(seq.prompt_len);
    }
  }
  for (Sequence* seq : step->seqs.samplers) ++seq->pending_tokens;
  flights_.push_back(std::move(step));
  Step* s = flights_.back().get();
  if (!worker_) {
    s->forward_status = RunForward(*s);
    return;
  }
  worker_->Launch([this, s, previous] {
    if (previous && !previous->forward_status.ok()) {
      s->aborted = true;
      return s->forward_status = absl::AbortedError("the step before it failed");
    }
    return RunForward(*s);
  });
}

// The forward and the sampling, through the runner (which resolves the plan's links to the
// previous step's output itself).
absl::Status Engine::Impl::RunForward(Step& step) {
  const int64_t step_number = steps_.load();
  step.forward_started = SteadyNowNs();
  step.forward_status = options_.debug_inject_oom && options_.debug_inject_oom(step_number)
                            ? absl::ResourceExhaustedError("injected out-of-memory")
                            : model_->Run(step.plan, step.output);
  step.forward_done = SteadyNowNs();
  return step.forward_status;
}

void Engine::Impl::Complete() {
  if (worker_) worker_->Wait().IgnoreError();  // the step holds its own status
  std::unique_ptr<Step> step = std::move(flights_.front());
  flights_.pop_front();
  for (const auto& chunk : step->chunks) {
    Sequence& seq = *by_id_.at(chunk.id);
    if (--seq.in_flight == 0 && !seq.sink) blocks_.Free(seq.id);  // finished while in flight
  }
  const absl::Status& status = step->forward_status;
  if (step->aborted) {
    RollBack(*step);  // it assumed a step that failed; it is planned again from scratch
  } else {
    ReportTimes(*step);
    if (absl::IsResourceExhausted(status) && ++oom_streak_ <= kMaxOomRetriesAtFloor) {
      ShrinkBudget(step->plan.num_rows);
      step->report.oom_recovered = true;
      RollBack(*step);
    } else if (!status.ok()) {
      spdlog::error("forward failed: {}", status.ToString());
      RollBack(*step);
      for (const auto& chunk : step->chunks)
        Finish(*by_id_.at(chunk.id), FinishReason::kError, status);
    } else {
      oom_streak_ = 0;
      Deliver(*step);
    }
  }
  DrainInbox();  // cancels take effect between steps
  if (!step->aborted) {
    steps_.fetch_add(1);
    if (observer_) observer_->OnStep(step->report);
  }
  const bool failed = !step->forward_status.ok();
  step.reset();
  // The step queued behind a failed one will not run: land it now, before anything is planned
  // on top of it.
  if (failed && !flights_.empty()) Complete();
}

// Forward time (sampling included: the runner samples) and how long the forward waited since the
// previous one: host time the device idled.
void Engine::Impl::ReportTimes(Step& step) {
  const double exposed =
      last_forward_done_ > 0
          ? NsToSeconds(std::max<TimeNs>(0, step.forward_started - last_forward_done_))
          : 0.0;
  step.report.forward_seconds = NsToSeconds(step.forward_done - step.forward_started);
  step.report.host_exposed_seconds = exposed;
  step.report.host_gap_seconds = exposed;
  step.report.sample_seconds = step.output.sample_seconds;
  last_forward_done_ = step.forward_done;
}

// The forward did not happen: the chunks go back to where they were.
void Engine::Impl::RollBack(const Step& step) {
  for (const auto& chunk : step.chunks) by_id_.at(chunk.id)->num_computed -= chunk.num_tokens;
  for (Sequence* seq : step.seqs.samplers) --seq->pending_tokens;
}

void Engine::Impl::Deliver(Step& step) {
  const TimeNs now = SteadyNowNs();
  for (size_t c = 0; c < step.chunks.size(); ++c) {
    by_id_.at(step.chunks[c].id)->info.prompt_tokens_computed += step.prompt_parts[c];
  }
  for (size_t i = 0; i < step.seqs.samplers.size(); ++i) {
    Sequence& seq = *step.seqs.samplers[i];
    --seq.pending_tokens;
    if (!seq.sink) continue;  // finished (cancelled) while its step was in flight
    const SampledToken& sampled = step.output.sampled[i];
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

void Engine::Impl::PublishStats() {
  int32_t running = 0;
  for (const auto& seq : live_) running += seq->running && seq->sink ? 1 : 0;
  running_.store(running);
  live_count_.store(static_cast<int32_t>(live_.size()));
}

std::optional<FinishReason> Engine::Impl::StopReason(const Sequence& seq, int32_t token) const {
  const StopConditions& stop = seq.request.stop;
  if (seq.generated() >= stop.min_new_tokens) {
    if (Contains(stop.stop_token_ids, token)) return FinishReason::kStopToken;
    if (!stop.ignore_eos && Contains(model_->config().eos_token_ids, token))
      return FinishReason::kStopToken;
  }
  if (seq.generated() + 1 >= stop.max_new_tokens) return FinishReason::kLength;
  // The new token sits at position tokens.size(); past the context it can never be fed back.
  if (static_cast<int64_t>(seq.tokens.size()) >= model_->config().max_position_embeddings)
    return FinishReason::kLength;
  return std::nullopt;
}

// Out of memory: halve the step budget (aligned, never below min_ribbon_tokens); the caller
// rolls the step back. Nothing was sampled and num_computed returns to where it was, so no
// token is lost or duplicated; KV written for the failed rows is simply written again.
void Engine::Impl::ShrinkBudget(int32_t failed_rows) {
  const int32_t floor = std::max(1, options_.min_ribbon_tokens);
  const int32_t halved =
      sched::AlignUp(std::max(1, failed_rows / 2), std::max(1, options_.scheduler.align));
  const int32_t budget = std::max(floor, std::min(token_budget_.load(), halved));
  spdlog::warn("out of memory in a ribbon of {} rows: step budget {} -> {} tokens", failed_rows,
               token_budget_.load(), budget);
  token_budget_.store(budget);
  oom_recoveries_.fetch_add(1);
}

}  // namespace ribbon
