#include "core/metrics/metrics_observer.h"

#include "core/common/time.h"

namespace ribbon::metrics {

void MetricsObserver::OnStep(const StepReport& report) {
  const RibbonMetrics& m = metrics_;
  m.steps->Inc();
  if (report.preempted > 0) m.preemptions->Inc(static_cast<uint64_t>(report.preempted));
  if (report.oom_recovered) m.oom_recoveries->Inc();
  if (report.prefix_query_tokens > 0)
    m.prefix_cache_queries->Inc(static_cast<uint64_t>(report.prefix_query_tokens));
  if (report.prefix_hit_tokens > 0)
    m.prefix_cache_hits->Inc(static_cast<uint64_t>(report.prefix_hit_tokens));
  m.ribbon_tokens->Observe(report.ribbon_rows);
  if (report.capacity > 0) {
    m.ribbon_fill_ratio->Observe(static_cast<double>(report.real_tokens) / report.capacity);
  }
  if (report.ribbon_rows > 0) {
    m.ribbon_padding_ratio->Observe(static_cast<double>(report.ribbon_rows - report.real_tokens) /
                                    report.ribbon_rows);
  }
  m.step_duration_seconds(StepPhase::kSchedule)->Observe(report.schedule_seconds);
  m.step_duration_seconds(StepPhase::kForward)->Observe(report.forward_seconds);
  m.step_duration_seconds(StepPhase::kSample)->Observe(report.sample_seconds);
  m.step_duration_seconds(StepPhase::kHostGap)->Observe(report.host_gap_seconds);
}

void MetricsObserver::OnRequestFinished(const GenerationRequest& request, const FinishInfo& info) {
  const RibbonMetrics& m = metrics_;
  m.CountRequest(info.status.code());
  if (info.status.ok()) m.request_success_total(info.reason)->Inc();

  m.prompt_tokens->Inc(static_cast<uint64_t>(info.prompt_tokens));
  m.generation_tokens->Inc(static_cast<uint64_t>(info.generated_tokens));
  m.request_prompt_tokens->Observe(info.prompt_tokens);
  m.request_generation_tokens->Observe(info.generated_tokens);

  m.e2e_request_latency->Observe(NsToSeconds(info.finished - info.arrival));
  if (info.first_scheduled != 0) {
    m.request_queue_time->Observe(NsToSeconds(info.first_scheduled - info.arrival));
  }
  if (info.first_token != 0) {
    m.time_to_first_token->Observe(NsToSeconds(info.first_token - info.arrival));
    if (info.generated_tokens >= 2) {
      const uint64_t gaps = static_cast<uint64_t>(info.generated_tokens - 1);
      const double mean_gap = NsToSeconds(info.finished - info.first_token) / gaps;
      m.inter_token_latency->Observe(mean_gap, gaps);
    }
  }
}

}  // namespace ribbon::metrics
