// Memory probe, CPU half: on the CPU running out of memory is not an error the process sees
// (Linux kills it), so the probe never runs a pass it has not predicted to fit. It measures the
// activation memory of a few worst-case passes at small sizes, fits bytes = fixed + per_row * rows,
// picks the largest ribbon the budget allows (backed off by a safety margin, capped), and climbs
// to it by doubling, checking the prediction at each rung and refitting, so that no pass
// extrapolates the fit more than twofold; the last rung verifies the prediction at the answer.
// The rest of the budget goes to the KV cache. With the worst-case shape (every row attends to a
// whole context) a runner's activations are linear in the rows, which the fit assumes.
//
// Pure code over the CpuProbeTarget interface: tests drive it with a fake of known per-row
// cost; core/memory/capacity.cpp drives it with the real CPU runner and /proc figures.
// Ownership: ProbeCpuCapacity borrows the target for the call.
// Threads: one thread at a time, the thread allowed to run the model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/memory/probe_plan.h"

namespace ribbon::memory {

class CpuProbeTarget {
 public:
  virtual ~CpuProbeTarget() = default;
  // Runs one worst-case pass over `rows` rows (BuildProbePlan) and returns its activation bytes:
  // the process's peak resident memory during the pass above its resident memory before the
  // probe began, less the KV cache the pass holds (ProbeKvBlocks(rows) blocks).
  virtual absl::StatusOr<int64_t> MeasurePass(int32_t rows) = 0;
};

struct CpuProbeOptions {
  int64_t budget_bytes = 0;       // resident memory the process must never exceed
  int64_t baseline_bytes = 0;     // resident before the probe: weights, code, runtime
  double memory_fraction = 0.90;  // of the budget: what the server plans to use at its peak
  int32_t start_rows = 16;        // first (warm-up) pass; a multiple of `align`
  int32_t max_rows = 16384;       // cap on the answer
  int32_t align = 16;
  double safety_margin =
      0.10;  // answer = AlignDown(memory limit * (1 - margin)) when memory bounds
  double verify_tolerance = 0.10;  // the pass at the answer must match the prediction this closely
  // Measured passes double while the largest takes less than min_signal_bytes (so page and
  // allocator noise stay small against it) and the next stays under small_pass_fraction of the
  // memory available to activations and KV.
  int64_t min_signal_bytes = int64_t{16} << 20;
  double small_pass_fraction = 0.25;
  int64_t resolution_bytes = int64_t{1} << 20;  // noise floor: a verification this close passes
  int32_t max_verify_attempts =
      3;                  // rungs that may miss the tolerance (each refits) before giving up
  ProbePlanOptions plan;  // the worst-case plan's shape: its KV cache counts against the budget
  int64_t kv_bytes_per_block = 0;
};

// Predicted activation bytes: fixed_bytes + bytes_per_row * rows.
struct ActivationFit {
  double fixed_bytes = 0;
  double bytes_per_row = 0;
  int64_t Predict(int32_t rows) const;
};

struct CpuProbePass {
  int32_t rows = 0;
  int64_t activation_bytes = 0;
};

struct CpuProbeResult {
  std::vector<CpuProbePass> passes;  // the passes fitted, in order: small ones, then the climb's
  ActivationFit fit;                 // the fit the answer was verified with
  int32_t max_ribbon_rows = 0;       // the answer: no step may be larger
  int32_t memory_limit_rows =
      0;  // largest ribbon the budget allows by the fit (may exceed the cap)
  int64_t predicted_activation_bytes = 0;  // at max_ribbon_rows
  int64_t measured_activation_bytes = 0;   // at max_ribbon_rows
  double prediction_error = 0;             // (measured - predicted) / predicted
  int64_t usable_bytes = 0;                // budget * memory_fraction
  int64_t reserved_activation_bytes =
      0;                 // max(predicted, measured): what the KV sizing leaves aside
  int64_t kv_bytes = 0;  // kv_blocks * kv_bytes_per_block
  int32_t kv_blocks = 0;
  int64_t planned_peak_bytes = 0;  // baseline + reserved activations + KV cache (<= usable)
  int64_t probe_peak_bytes = 0;    // highest baseline + pass KV + activations the probe reached
  // Non-empty when the passes did not bear the fit out (the prediction fell short of a pass
  // by more than the tolerance after every refit): says why. The answer is then conservative:
  // the largest pass that ran, with its activations plus the tolerance reserved.
  std::string fallback;
};

// A prediction above the measurement is safe (the reservation is the larger of the two) and
// never fails a rung; one below it by more than the tolerance triggers a refit, and after
// max_verify_attempts such misses the probe settles for the conservative answer (`fallback`)
// rather than refusing the model: allocators are not perfectly linear.
// Errors: INVALID_ARGUMENT for inconsistent options; RESOURCE_EXHAUSTED when the budget cannot
// hold the baseline, one ribbon of `align` rows and one context of KV; the target's own errors.
absl::StatusOr<CpuProbeResult> ProbeCpuCapacity(CpuProbeTarget& target,
                                                const CpuProbeOptions& options);

}  // namespace ribbon::memory
