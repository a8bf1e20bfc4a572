#include "tests/core/metrics/sample_traffic.h"

#include "core/metrics/metrics_observer.h"

namespace ribbon::metrics::testing {
namespace {

constexpr TimeNs kMs = 1'000'000;

FinishInfo Finished(FinishReason reason, absl::Status status, int32_t prompt, int32_t generated,
                    TimeNs arrival, TimeNs queue_ms, TimeNs ttft_ms, TimeNs e2e_ms) {
  FinishInfo info;
  info.reason = reason;
  info.status = std::move(status);
  info.prompt_tokens = prompt;
  info.generated_tokens = generated;
  info.prompt_tokens_computed = prompt;
  info.arrival = arrival;
  info.first_scheduled = queue_ms < 0 ? 0 : arrival + queue_ms * kMs;
  info.first_token = ttft_ms < 0 ? 0 : arrival + ttft_ms * kMs;
  info.finished = arrival + e2e_ms * kMs;
  return info;
}

}  // namespace

RibbonMetricsOptions SampleOptions() {
  RibbonMetricsOptions options;
  options.build = {"0.1.0", "7bae7b2", "2.11.0", "none"};
  options.max_model_len = 2048;
  options.max_ribbon_tokens = 4096;
  return options;
}

void RecordSampleTraffic(const RibbonMetrics& metrics) {
  MetricsObserver observer(metrics);
  const GenerationRequest request;
  const TimeNs t0 = 1000 * kMs;
  observer.OnRequestFinished(
      request, Finished(FinishReason::kLength, absl::OkStatus(), 12, 16, t0, 3, 40, 300));
  observer.OnRequestFinished(
      request, Finished(FinishReason::kStopToken, absl::OkStatus(), 700, 3, t0, 120, 900, 1500));
  observer.OnRequestFinished(
      request, Finished(FinishReason::kStopString, absl::OkStatus(), 5, 1, t0, 1, 8, 9));
  observer.OnRequestFinished(
      request, Finished(FinishReason::kCancelled, absl::CancelledError("client went away"), 30, 0,
                        t0, -1, -1, 50));
  observer.OnRequestFinished(
      request, Finished(FinishReason::kDeadline, absl::DeadlineExceededError("late"), 30, 4, t0, 10,
                        30, 2000));
  metrics.CountRequest(absl::StatusCode::kResourceExhausted);
  metrics.CountRequest(absl::StatusCode::kInvalidArgument);

  for (int32_t i = 0; i < 20; ++i) {
    StepReport step;
    step.capacity = 256;
    step.real_tokens = 17 + 11 * i;
    step.ribbon_rows = step.real_tokens + (i % 5) * 3;
    step.prompt_tokens = i < 3 ? step.real_tokens - 2 : 0;
    step.decode_tokens = step.real_tokens - step.prompt_tokens;
    step.preempted = i == 7 ? 1 : 0;
    step.schedule_seconds = 40e-6;
    step.forward_seconds = 4.5e-3 + 1e-4 * i;
    step.sample_seconds = 3e-4;
    observer.OnStep(step);
  }
  metrics.oom_recoveries->Inc();

  EngineStats stats;
  stats.running = 3;
  stats.waiting = 2;
  stats.kv_blocks_total = 512;
  stats.kv_blocks_free = 384;
  metrics.UpdateFromEngineStats(stats);
  metrics.probe_max_ribbon_tokens->Set(4096);
  metrics.memory_bytes(MemoryKind::kWeights)->Set(988'000'000);
  metrics.memory_bytes(MemoryKind::kKvCache)->Set(2'147'483'648.0);
  metrics.memory_bytes(MemoryKind::kActivations)->Set(301'989'888);
}

}  // namespace ribbon::metrics::testing
