// MetricsObserver: the EngineObserver that turns the engine's step reports and finished
// requests into the RibbonMetrics catalogue. The mapping, exactly:
//
// Per finished request (OnRequestFinished), from FinishInfo:
//   requests_total{code=status code}  +1            e2e_request_latency  finished - arrival
//   request_success_total{finish_reason} +1 if OK   request_queue_time   first_scheduled - arrival
//   prompt_tokens_total     += prompt_tokens          (only if it was scheduled)
//   generation_tokens_total += generated_tokens     time_to_first_token  first_token - arrival
//   request_prompt_tokens / request_generation_tokens   (only if a token was produced)
//   inter_token_latency: (finished - first_token) / (generated - 1), observed generated - 1
//     times (once per gap), when generated >= 2.
// Token counters are advanced at finish so that they equal, to the token, what clients sent
// and received, whatever the preemptions and recomputations in between.
//
// Per step (OnStep), from StepReport:
//   steps_total +1, preemptions_total += preempted, ribbon_tokens = ribbon_rows,
//   ribbon_fill_ratio = real_tokens / capacity (if capacity > 0),
//   ribbon_padding_ratio = (ribbon_rows - real_tokens) / ribbon_rows (if ribbon_rows > 0),
//   step_duration_seconds{phase} for schedule, forward and sample.
//
// Ownership: holds a copy of the RibbonMetrics handles; their Registry must outlive it.
// Threads: called on the engine thread (EngineObserver contract); never blocks, never locks.
#pragma once

#include "core/engine/engine.h"
#include "core/engine/request.h"
#include "core/metrics/ribbon_metrics.h"

namespace ribbon::metrics {

class MetricsObserver final : public EngineObserver {
 public:
  explicit MetricsObserver(RibbonMetrics metrics) : metrics_(metrics) {}

  void OnStep(const StepReport& report) override;
  void OnRequestFinished(const GenerationRequest& request, const FinishInfo& info) override;

 private:
  RibbonMetrics metrics_;
};

}  // namespace ribbon::metrics
