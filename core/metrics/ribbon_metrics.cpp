#include "core/metrics/ribbon_metrics.h"

#include <cmath>

#include "core/common/status_macros.h"
#include "core/metrics/buckets.h"

namespace ribbon::metrics {

std::string_view StepPhaseLabel(StepPhase phase) {
  switch (phase) {
    case StepPhase::kSchedule:
      return "schedule";
    case StepPhase::kForward:
      return "forward";
    case StepPhase::kSample:
      return "sample";
    case StepPhase::kHostGap:
      return "host_gap";
  }
  return "unknown";
}

std::string_view MemoryKindLabel(MemoryKind kind) {
  switch (kind) {
    case MemoryKind::kWeights:
      return "weights";
    case MemoryKind::kKvCache:
      return "kv_cache";
    case MemoryKind::kActivations:
      return "activations";
  }
  return "unknown";
}

std::string_view FinishReasonLabel(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStopToken:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kStopString:
      return "stop_string";
    case FinishReason::kCancelled:
      return "cancelled";
    case FinishReason::kDeadline:
      return "deadline";
    case FinishReason::kError:
      return "error";
  }
  return "error";
}

// vLLM's bounds are kept as they are wherever they exist; the extra bounds below vLLM's lowest
// are there because ribbon's small models answer in milliseconds, where vLLM's buckets would
// put everything in the first one.
namespace catalogue_buckets {

std::vector<double> TimeToFirstToken() {
  return {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,   0.75,
          1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
}

std::vector<double> InterTokenLatency() {
  return {0.001, 0.0025, 0.005, 0.0075,                                   // ribbon's additions
          0.01,  0.025,  0.05,  0.075,  0.1, 0.15, 0.2,  0.3,  0.4, 0.5,  // vLLM from here on
          0.75,  1.0,    2.5,   5.0,    7.5, 10.0, 20.0, 40.0, 80.0};
}

std::vector<double> RequestLatency() {
  return {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,                       // ribbon's additions
          0.3,   0.5,   0.8,  1.0,   1.5,  2.0,  2.5,   5.0,   10.0,  // vLLM from here on
          15.0,  20.0,  30.0, 40.0,  50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
}

std::vector<double> StepDuration() {
  return {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,   0.05,     0.1,     0.25,   0.5,     1.0,    2.5,   5.0,    10.0};
}

std::vector<double> Ratio() {
  return {0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0};
}

}  // namespace catalogue_buckets

namespace {

absl::StatusOr<Counter*> PlainCounter(Registry& registry, std::string name, std::string help) {
  ASSIGN_OR_RETURN(Family<Counter> * family,
                   registry.AddCounter({std::move(name), std::move(help), {}}));
  return family->WithLabels(std::span<const std::string_view>());
}

absl::StatusOr<Gauge*> PlainGauge(Registry& registry, std::string name, std::string help) {
  ASSIGN_OR_RETURN(Family<Gauge> * family,
                   registry.AddGauge({std::move(name), std::move(help), {}}));
  return family->WithLabels(std::span<const std::string_view>());
}

absl::StatusOr<Histogram*> PlainHistogram(Registry& registry, std::string name, std::string help,
                                          std::vector<double> bounds) {
  ASSIGN_OR_RETURN(
      Family<Histogram> * family,
      registry.AddHistogram({std::move(name), std::move(help), {}}, std::move(bounds)));
  return family->WithLabels(std::span<const std::string_view>());
}

absl::Status RegisterCounters(Registry& registry, RibbonMetrics& m) {
  ASSIGN_OR_RETURN(
      m.prompt_tokens,
      PlainCounter(
          registry, "ribbon_prompt_tokens_total",
          "Prompt tokens of finished requests (as sent by clients; recomputation not counted)."));
  ASSIGN_OR_RETURN(
      m.generation_tokens,
      PlainCounter(registry, "ribbon_generation_tokens_total",
                   "Generated tokens of finished requests (as delivered to clients)."));
  ASSIGN_OR_RETURN(
      Family<Counter> * requests,
      registry.AddCounter({"ribbon_requests_total",
                           "Requests ended, by final status code (Submit rejections included).",
                           {"code"}}));
  for (size_t code = 0; code < kNumStatusCodes; ++code) {
    const std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
    ASSIGN_OR_RETURN(m.requests_by_code[code], requests->WithLabels({name}));
  }
  ASSIGN_OR_RETURN(Family<Counter> * success,
                   registry.AddCounter({"ribbon_request_success_total",
                                        "Requests finished with status OK, by finish reason.",
                                        {"finish_reason"}}));
  for (size_t reason = 0; reason < kNumFinishReasons; ++reason) {
    const std::string_view label = FinishReasonLabel(static_cast<FinishReason>(reason));
    ASSIGN_OR_RETURN(m.request_success_by_reason[reason], success->WithLabels({label}));
  }
  ASSIGN_OR_RETURN(
      m.preemptions,
      PlainCounter(registry, "ribbon_preemptions_total",
                   "Requests preempted (KV blocks released, to be recomputed later)."));
  ASSIGN_OR_RETURN(
      m.oom_recoveries,
      PlainCounter(
          registry, "ribbon_oom_recoveries_total",
          "Device out-of-memory errors the engine recovered from by shrinking the ribbon."));
  ASSIGN_OR_RETURN(m.steps, PlainCounter(registry, "ribbon_steps_total",
                                         "Engine steps run (one ribbon forward each)."));
  ASSIGN_OR_RETURN(m.prefix_cache_queries,
                   PlainCounter(registry, "ribbon_prefix_cache_queries_total",
                                "Prompt tokens looked up in the prefix cache."));
  ASSIGN_OR_RETURN(m.prefix_cache_hits,
                   PlainCounter(registry, "ribbon_prefix_cache_hits_total",
                                "Prompt tokens found in the prefix cache (their KV reused)."));
  ASSIGN_OR_RETURN(m.prefix_cache_evictions,
                   PlainCounter(registry, "ribbon_prefix_cache_evictions_total",
                                "Cached KV blocks evicted to hold other data."));
  return absl::OkStatus();
}

absl::Status RegisterGauges(Registry& registry, const RibbonMetricsOptions& options,
                            RibbonMetrics& m) {
  ASSIGN_OR_RETURN(m.requests_running, PlainGauge(registry, "ribbon_requests_running",
                                                  "Requests holding KV blocks and being stepped."));
  ASSIGN_OR_RETURN(m.requests_waiting,
                   PlainGauge(registry, "ribbon_requests_waiting",
                              "Requests queued (not yet scheduled, or preempted)."));
  ASSIGN_OR_RETURN(m.kv_cache_usage_ratio,
                   PlainGauge(registry, "ribbon_kv_cache_usage_ratio",
                              "Fraction of KV cache blocks in use, 0 to 1."));
  ASSIGN_OR_RETURN(
      Family<Gauge> * blocks,
      registry.AddGauge({"ribbon_kv_blocks", "KV cache blocks by state (free, used).", {"state"}}));
  ASSIGN_OR_RETURN(m.kv_blocks_free, blocks->WithLabels({"free"}));
  ASSIGN_OR_RETURN(m.kv_blocks_used, blocks->WithLabels({"used"}));
  ASSIGN_OR_RETURN(m.prefix_cache_blocks,
                   PlainGauge(registry, "ribbon_prefix_cache_blocks",
                              "Full KV blocks findable in the prefix cache (in use or idle)."));
  ASSIGN_OR_RETURN(
      m.probe_max_ribbon_tokens,
      PlainGauge(registry, "ribbon_probe_max_ribbon_tokens",
                 "Largest ribbon (tokens per step) the startup memory probe found to fit."));
  ASSIGN_OR_RETURN(
      m.memory_bytes_family,
      registry.AddGauge({"ribbon_memory_bytes",
                         "Device memory in bytes by use (weights, kv_cache, activations).",
                         {"kind"}}));
  for (size_t kind = 0; kind < kNumMemoryKinds; ++kind) {
    const std::string_view label = MemoryKindLabel(static_cast<MemoryKind>(kind));
    ASSIGN_OR_RETURN(m.memory_bytes_by_kind[kind], m.memory_bytes_family->WithLabels({label}));
  }
  ASSIGN_OR_RETURN(Family<Gauge> * build,
                   registry.AddGauge({"ribbon_build_info",
                                      "Always 1; the labels say which build is running.",
                                      {"version", "commit", "torch", "cuda"}}));
  const BuildInfo& b = options.build;
  ASSIGN_OR_RETURN(m.build_info, build->WithLabels({b.version, b.commit, b.torch, b.cuda}));
  m.build_info->Set(1.0);
  return absl::OkStatus();
}

absl::Status RegisterRequestHistograms(Registry& registry, const RibbonMetricsOptions& options,
                                       RibbonMetrics& m) {
  namespace cb = catalogue_buckets;
  ASSIGN_OR_RETURN(m.time_to_first_token,
                   PlainHistogram(registry, "ribbon_time_to_first_token_seconds",
                                  "Seconds from arrival to the first generated token, per request.",
                                  cb::TimeToFirstToken()));
  ASSIGN_OR_RETURN(
      m.inter_token_latency,
      PlainHistogram(
          registry, "ribbon_inter_token_latency_seconds",
          "Seconds between consecutive generated tokens; one observation per gap, valued at the "
          "request's mean gap.",
          cb::InterTokenLatency()));
  ASSIGN_OR_RETURN(
      m.e2e_request_latency,
      PlainHistogram(registry, "ribbon_e2e_request_latency_seconds",
                     "Seconds from arrival to finish, per request.", cb::RequestLatency()));
  ASSIGN_OR_RETURN(m.request_queue_time,
                   PlainHistogram(registry, "ribbon_request_queue_time_seconds",
                                  "Seconds from arrival to first scheduling, per request.",
                                  cb::RequestLatency()));
  ASSIGN_OR_RETURN(m.request_prompt_tokens,
                   PlainHistogram(registry, "ribbon_request_prompt_tokens",
                                  "Prompt tokens per finished request.",
                                  OneTwoFiveBuckets(options.max_model_len)));
  ASSIGN_OR_RETURN(m.request_generation_tokens,
                   PlainHistogram(registry, "ribbon_request_generation_tokens",
                                  "Generated tokens per finished request.",
                                  OneTwoFiveBuckets(options.max_model_len)));
  return absl::OkStatus();
}

absl::Status RegisterStepHistograms(Registry& registry, const RibbonMetricsOptions& options,
                                    RibbonMetrics& m) {
  namespace cb = catalogue_buckets;
  ASSIGN_OR_RETURN(
      Family<Histogram> * step,
      registry.AddHistogram({"ribbon_step_duration_seconds",
                             "Seconds per engine step, by phase (schedule, forward, sample).",
                             {"phase"}},
                            cb::StepDuration()));
  for (size_t phase = 0; phase < kNumStepPhases; ++phase) {
    const std::string_view label = StepPhaseLabel(static_cast<StepPhase>(phase));
    ASSIGN_OR_RETURN(m.step_duration_by_phase[phase], step->WithLabels({label}));
  }
  const int32_t powers_of_two =
      static_cast<int32_t>(std::floor(std::log2(std::max<int64_t>(options.max_ribbon_tokens, 1)))) +
      1;
  ASSIGN_OR_RETURN(m.ribbon_tokens, PlainHistogram(registry, "ribbon_ribbon_tokens",
                                                   "Rows per step's ribbon, padding included.",
                                                   ExponentialBuckets(1, 2, powers_of_two)));
  ASSIGN_OR_RETURN(m.ribbon_fill_ratio,
                   PlainHistogram(registry, "ribbon_ribbon_fill_ratio",
                                  "Real tokens / token budget of the step, 0 to 1.", cb::Ratio()));
  ASSIGN_OR_RETURN(
      m.ribbon_padding_ratio,
      PlainHistogram(registry, "ribbon_ribbon_padding_ratio",
                     "Padding rows / rows of the step's ribbon, 0 to 1.", cb::Ratio()));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RibbonMetrics> RibbonMetrics::Register(Registry& registry,
                                                      const RibbonMetricsOptions& options) {
  RibbonMetrics m;
  RETURN_IF_ERROR(RegisterCounters(registry, m));
  RETURN_IF_ERROR(RegisterGauges(registry, options, m));
  RETURN_IF_ERROR(RegisterRequestHistograms(registry, options, m));
  RETURN_IF_ERROR(RegisterStepHistograms(registry, options, m));
  return m;
}

Counter* RibbonMetrics::requests_total(absl::StatusCode code) const {
  const auto index = static_cast<size_t>(code);
  return requests_by_code[index < kNumStatusCodes
                              ? index
                              : static_cast<size_t>(absl::StatusCode::kUnknown)];
}

void RibbonMetrics::CountRequest(absl::StatusCode code) const { requests_total(code)->Inc(); }

void RibbonMetrics::UpdateFromEngineStats(const EngineStats& stats) const {
  requests_running->Set(stats.running);
  requests_waiting->Set(stats.waiting);
  const int32_t used = stats.kv_blocks_total - stats.kv_blocks_free;
  kv_blocks_free->Set(stats.kv_blocks_free);
  kv_blocks_used->Set(used);
  kv_cache_usage_ratio->Set(
      stats.kv_blocks_total > 0 ? static_cast<double>(used) / stats.kv_blocks_total : 0.0);
  prefix_cache_blocks->Set(stats.prefix_cached_blocks);
  // The engine counts evictions since it started; the counter follows it by the difference.
  const int64_t seen = evictions_seen->exchange(stats.prefix_evictions);
  if (stats.prefix_evictions > seen)
    prefix_cache_evictions->Inc(static_cast<uint64_t>(stats.prefix_evictions - seen));
}

}  // namespace ribbon::metrics
