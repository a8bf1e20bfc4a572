// Engine::Impl: one step — schedule and plan (Prepare), launch it (Launch: the runner runs the
// forward and samples, on the pipeline's worker when steps overlap), land and deliver (Complete).
#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/engine/engine_impl.h"
#include "core/engine/plan_builder.h"
#include "spdlog/spdlog.h"

namespace ribbon {

// The step, as a loop over named parts (the shape of vLLM's EngineCore step): take in new
// requests and cancels (inbox), drop what has finished (sequence table), schedule and plan
// (Prepare: scheduler policy + plan builder), launch (pipeline + runner), and land the oldest
// step (Complete: out-of-memory policy, stop rules, delivery to the sinks).
absl::StatusOr<bool> Engine::Impl::StepOnce() {
  if (pipeline_.empty()) {
    DrainInbox();
    RemoveFinished();
    PublishStats();  // also when idle: cancels may just have emptied the engine
    if (table_.empty()) return false;
    std::unique_ptr<Step> step = Prepare(/*speculative=*/false);
    if (!step) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // nothing fits yet: do not spin
      PublishStats();
      return true;
    }
    Launch(std::move(step));
  }
  // Overlapping: the next step is planned and queued while the oldest runs; the worker starts
  // it the moment the oldest ends.
  if (pipeline_.overlap()) {
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
  std::vector<CacheMatch> matches;
  if (options_.prefix_cache) matches = PeekCachedPrefixes();
  const std::vector<sched::SeqState> states = Snapshot(matches);
  sched::SchedulerInput input{t0,
                              states,
                              {blocks_.free_blocks(), blocks_.total_blocks(), blocks_.block_size()},
                              token_budget_.load()};
  sched::ScheduleDecision decision = scheduler_->Schedule(input);
  const bool disruptive =
      !decision.preempted.empty() || !decision.rejected.empty() || !decision.expired.empty();
  if (speculative && disruptive) return nullptr;
  ApplyDecision(decision);
  TakeScheduledMatches(matches, decision);  // before any block is handed out below
  if (decision.chunks.empty()) return nullptr;
  auto step = std::make_unique<Step>();
  step->report.preempted = static_cast<int32_t>(decision.preempted.size());
  step->report.capacity = token_budget_.load();
  for (const auto& chunk : decision.chunks) {
    Sequence& seq = table_.At(chunk.id);
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
  const Step* previous = pipeline_.newest();
  PlanInputs in;
  in.chunks = step->chunks;
  in.ribbon_rows = decision.ribbon_rows;
  in.find = [this](uint64_t id) { return &table_.At(id); };
  if (previous) in.previous_samplers = previous->seqs.samplers;
  in.eos_token_ids = model_->config().eos_token_ids;
  if (absl::Status built = BuildStepPlan(in, blocks_, builder_, step->plan, step->seqs);
      !built.ok()) {
    // The policy and the block manager disagree: fail the step's requests, not the engine.
    spdlog::error("{}", built.ToString());
    for (const auto& chunk : step->chunks) Finish(table_.At(chunk.id), FinishReason::kError, built);
    return nullptr;
  }
  step->report.ribbon_rows = step->plan.num_rows;
  step->report.real_tokens = step->plan.real_tokens;
  step->report.prefix_query_tokens = std::exchange(prefix_query_tokens_, 0);
  step->report.prefix_hit_tokens = std::exchange(prefix_hit_tokens_, 0);
  step->report.schedule_seconds = NsToSeconds(SteadyNowNs() - t0);
  return step;
}

// Commits the step's chunks (num_computed advances now; a failed forward rolls them back) and
// launches it: on the worker when overlapping, behind the step in flight.
void Engine::Impl::Launch(std::unique_ptr<Step> step) {
  const TimeNs now = SteadyNowNs();
  for (const auto& chunk : step->chunks) {
    Sequence& seq = table_.At(chunk.id);
    const int32_t prompt_part = std::clamp(seq.prompt_len - seq.num_computed, 0, chunk.num_tokens);
    step->prompt_parts.push_back(prompt_part);
    step->report.prompt_tokens += prompt_part;
    step->report.decode_tokens += chunk.num_tokens - prompt_part;
    seq.num_computed += chunk.num_tokens;
    step->chunk_ends.push_back(seq.num_computed);
    ++seq.in_flight;
    if (seq.state == SeqState::kWaiting) {
      seq.info.first_scheduled = now;
      queued_.fetch_sub(1);
      queued_prompt_tokens_.fetch_sub(seq.prompt_len);
    }
    if (seq.state != SeqState::kRunning) Move(seq, SeqState::kRunning);
  }
  for (Sequence* seq : step->seqs.samplers) ++seq->pending_tokens;
  pipeline_.Launch(std::move(step), [this](Step& s) { RunForward(s); });
}

// The forward and the sampling, through the runner (which resolves the plan's links to the
// previous step's output itself). Touches only the step: it may run on the worker.
void Engine::Impl::RunForward(Step& step) {
  const int64_t step_number = steps_.load();
  step.forward_started = SteadyNowNs();
  step.forward_status = options_.debug_inject_oom && options_.debug_inject_oom(step_number)
                            ? absl::ResourceExhaustedError("injected out-of-memory")
                            : model_->Run(step.plan, step.output);
  step.forward_done = SteadyNowNs();
}

// Lands the oldest step: its sequences are released from it, then it is rolled back (aborted,
// out of memory: the policy shrinks the budget; other errors fail its requests) or delivered.
void Engine::Impl::Complete() {
  std::unique_ptr<Step> step = pipeline_.Land();
  for (const auto& chunk : step->chunks) {
    Sequence& seq = table_.At(chunk.id);
    if (--seq.in_flight == 0 && seq.finished()) blocks_.Free(seq.id);  // finished in flight
  }
  const absl::Status& status = step->forward_status;
  if (step->aborted) {
    RollBack(*step);  // it assumed a step that failed; it is planned again from scratch
  } else {
    ReportTimes(*step);
    if (status.ok()) {
      oom_policy_.OnStepRan();
      if (options_.prefix_cache) PublishComputedBlocks(*step);  // before Deliver ends any
      Deliver(*step);
    } else if (!absl::IsResourceExhausted(status) || !ShrinkBudget(step->plan.num_rows)) {
      spdlog::error("forward failed: {}", status.ToString());
      RollBack(*step);
      for (const auto& chunk : step->chunks)
        Finish(table_.At(chunk.id), FinishReason::kError, status);
    } else {
      step->report.oom_recovered = true;
      RollBack(*step);
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
  if (failed && !pipeline_.empty()) Complete();
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
  for (const auto& chunk : step.chunks) table_.At(chunk.id).num_computed -= chunk.num_tokens;
  for (Sequence* seq : step.seqs.samplers) --seq->pending_tokens;
}

void Engine::Impl::Deliver(Step& step) {
  const TimeNs now = SteadyNowNs();
  for (size_t c = 0; c < step.chunks.size(); ++c) {
    table_.At(step.chunks[c].id).info.prompt_tokens_computed += step.prompt_parts[c];
  }
  for (size_t i = 0; i < step.seqs.samplers.size(); ++i) {
    Sequence& seq = *step.seqs.samplers[i];
    --seq.pending_tokens;
    if (seq.finished()) continue;  // finished (cancelled) while its step was in flight
    const SampledToken& sampled = step.output.sampled[i];
    if (seq.info.first_token == 0) seq.info.first_token = now;
    const StopOutcome stop = CheckStop(seq.request.stop, model_->config().eos_token_ids,
                                       seq.generated(), static_cast<int64_t>(seq.tokens.size()),
                                       model_->config().max_position_embeddings, sampled.token);
    if (stop == StopOutcome::kStopToken) {  // withheld: never delivered
      Finish(seq, FinishReason::kStopToken, absl::OkStatus());
      continue;
    }
    seq.tokens.push_back(sampled.token);
    seq.sink->OnTokens(std::span<const SampledToken>(&sampled, 1));
    if (stop == StopOutcome::kLengthReached) Finish(seq, FinishReason::kLength, absl::OkStatus());
  }
}

void Engine::Impl::PublishStats() {
  running_.store(table_.count(SeqState::kRunning));
  live_count_.store(table_.size());
  prefix_evictions_.store(blocks_.evictions());
}

// Out of memory: the policy halves the step budget (or gives up after too many in a row); the
// caller rolls the step back. Nothing was sampled and num_computed returns to where it was, so no
// token is lost or duplicated; KV written for the failed rows is simply written again.
bool Engine::Impl::ShrinkBudget(int32_t failed_rows) {
  const OomPolicy::Decision d = oom_policy_.OnOutOfMemory(token_budget_.load(), failed_rows);
  if (!d.retry) return false;
  spdlog::warn("out of memory in a ribbon of {} rows: step budget {} -> {} tokens", failed_rows,
               token_budget_.load(), d.budget);
  token_budget_.store(d.budget);
  oom_recoveries_.fetch_add(1);
  return true;
}

}  // namespace ribbon
