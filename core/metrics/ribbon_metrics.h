// RibbonMetrics: ribbon's metric catalogue (docs/metrics.md), registered in a Registry, with a
// typed handle per series so that the engine and the server record without any lookup.
// Names, labels and bucket bounds follow vLLM's where the two overlap (see the .cpp).
//
// Who records what:
//   - MetricsObserver (metrics_observer.h) records every step and every request the engine
//     finished: token counters, request histograms, requests_total{code} and
//     request_success_total{finish_reason}, step histograms, steps and preemptions.
//   - The server records requests the engine never accepted (Submit errors) with
//     CountRequest(code), OOM recoveries (oom_recoveries->Inc()), the probe and memory gauges,
//     and calls UpdateFromEngineStats(engine.Stats()) right before each Registry::Serialize().
//
// Ownership: a RibbonMetrics is a bundle of pointers into the Registry it was registered in;
// that Registry must outlive it. Copying it is cheap and copies share the series.
// Threads: every handle may be recorded from any thread (see metric.h); Register once.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/engine/engine.h"
#include "core/engine/request.h"
#include "core/metrics/registry.h"

namespace ribbon::metrics {

// Values of ribbon_build_info's labels.
struct BuildInfo {
  std::string version;
  std::string commit;
  std::string torch;
  std::string cuda;  // "none" on CPU-only builds
};

struct RibbonMetricsOptions {
  BuildInfo build;
  // Top bound of request_prompt_tokens / request_generation_tokens (1-2-5 steps up to it,
  // as vLLM); normally the model's context length.
  int64_t max_model_len = 4096;
  // Top bound of ribbon_tokens (powers of two from 1 up to it); normally the step token budget.
  int64_t max_ribbon_tokens = 16384;
};

// kHostGap: host work the forward waited for between steps, sampling excluded (what the
// pipelined dispatcher hides).
enum class StepPhase { kSchedule = 0, kForward = 1, kSample = 2, kHostGap = 3 };
inline constexpr size_t kNumStepPhases = 4;
std::string_view StepPhaseLabel(StepPhase phase);

enum class MemoryKind { kWeights = 0, kKvCache = 1, kActivations = 2 };
inline constexpr size_t kNumMemoryKinds = 3;
std::string_view MemoryKindLabel(MemoryKind kind);

inline constexpr size_t kNumStatusCodes = 17;   // absl::StatusCode OK (0) .. UNAUTHENTICATED (16)
inline constexpr size_t kNumFinishReasons = 6;  // FinishReason enumerators
// finish_reason label value: "stop", "length", "stop_string", "cancelled", "deadline", "error".
std::string_view FinishReasonLabel(FinishReason reason);

struct RibbonMetrics {
  // Registers the whole catalogue. Errors only if a name is already taken in `registry`.
  static absl::StatusOr<RibbonMetrics> Register(Registry& registry,
                                                const RibbonMetricsOptions& options);

  // Counts one request that ended with `code` (every code, OK included, has its series).
  void CountRequest(absl::StatusCode code) const;
  // Copies the engine's point-in-time state into the gauges.
  void UpdateFromEngineStats(const EngineStats& stats) const;

  Counter* requests_total(absl::StatusCode code) const;
  Counter* request_success_total(FinishReason reason) const {
    return request_success_by_reason[static_cast<size_t>(reason)];
  }
  Histogram* step_duration_seconds(StepPhase phase) const {
    return step_duration_by_phase[static_cast<size_t>(phase)];
  }
  Gauge* memory_bytes(MemoryKind kind) const {
    return memory_bytes_by_kind[static_cast<size_t>(kind)];
  }

  // Counters.
  Counter* prompt_tokens = nullptr;
  Counter* generation_tokens = nullptr;
  std::array<Counter*, kNumStatusCodes> requests_by_code{};             // {code}
  std::array<Counter*, kNumFinishReasons> request_success_by_reason{};  // {finish_reason}
  Counter* preemptions = nullptr;
  Counter* oom_recoveries = nullptr;
  Counter* steps = nullptr;
  Counter* prefix_cache_queries = nullptr;    // prompt tokens looked up in the prefix cache
  Counter* prefix_cache_hits = nullptr;       // of those, found
  Counter* prefix_cache_evictions = nullptr;  // cached blocks reused for other data

  // Gauges.
  Gauge* requests_running = nullptr;
  Gauge* requests_waiting = nullptr;
  Gauge* kv_cache_usage_ratio = nullptr;
  Gauge* kv_blocks_free = nullptr;  // {state="free"}
  Gauge* kv_blocks_used = nullptr;  // {state="used"}
  Gauge* probe_max_ribbon_tokens = nullptr;
  Gauge* prefix_cache_blocks = nullptr;  // full blocks findable in the prefix cache
  std::array<Gauge*, kNumMemoryKinds> memory_bytes_by_kind{};  // {kind}
  Family<Gauge>* memory_bytes_family = nullptr;                // for kinds beyond MemoryKind
  Gauge* build_info = nullptr;  // always 1; the labels carry the information

  // Histograms.
  // Engine eviction count already added to prefix_cache_evictions (UpdateFromEngineStats);
  // shared by the copies of this handle set.
  std::shared_ptr<std::atomic<int64_t>> evictions_seen = std::make_shared<std::atomic<int64_t>>(0);

  Histogram* time_to_first_token = nullptr;
  Histogram* inter_token_latency = nullptr;
  Histogram* e2e_request_latency = nullptr;
  Histogram* request_queue_time = nullptr;
  std::array<Histogram*, kNumStepPhases> step_duration_by_phase{};  // {phase}
  Histogram* ribbon_tokens = nullptr;
  Histogram* ribbon_fill_ratio = nullptr;
  Histogram* ribbon_padding_ratio = nullptr;
  Histogram* request_prompt_tokens = nullptr;
  Histogram* request_generation_tokens = nullptr;
};

// Bucket bounds of the catalogue's histograms, exposed for tests and docs.
namespace catalogue_buckets {
std::vector<double> TimeToFirstToken();
std::vector<double> InterTokenLatency();
std::vector<double> RequestLatency();  // e2e and queue time
std::vector<double> StepDuration();
std::vector<double> Ratio();  // fill and padding ratios
}  // namespace catalogue_buckets

}  // namespace ribbon::metrics
