// Capacity measurement: how large a step (ribbon) the model can run and how many KV cache blocks
// fit beside it, measured on the loaded model with real forward passes, never guessed.
// MeasureCapacity runs the CPU probe (cpu_probe.h: predicted from small passes, never past the
// budget, verified at the answer) or, for a CUDA runner, the out-of-memory search
// (probe_search.h). The engine sizes itself from the report; `ribbond probe` prints
// FormatCapacityTable.
//
// Ownership: MeasureCapacity borrows the runner and leaves it with an empty KV cache (the caller
// then allocates report.kv_blocks, e.g. through Engine::Create). Threads: the thread allowed to
// run the model, before the engine starts; the probe reads process-wide memory figures, so no
// other large allocations should run meanwhile. FormatCapacityTable: any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "core/memory/device_memory.h"
#include "core/model/model_runner.h"

namespace ribbon::memory {

struct MeasureOptions {
  std::string device = "cpu";         // the runner's device as loaded: "cpu" or "cuda[:N]"
  int32_t block_size = 16;            // the engine's KV block size
  int32_t align = 16;                 // the scheduler's row alignment
  int32_t max_ribbon_tokens = 16384;  // cap on the answer
  int32_t max_sample_rows = 256;      // most sequences sampling in one step (max_running_seqs)
  int32_t context_tokens = 0;         // 0 = the model's max_position_embeddings
  int64_t budget_bytes = 0;           // CPU: 0 = DetectMemoryBudget() (host_memory.h)
  double memory_fraction = 0.90;      // of the budget (CPU) or device memory (CUDA) to plan for
  double safety_margin = 0.10;        // backed off from the largest ribbon memory allows
  double verify_tolerance = 0.10;     // CPU: the prediction must hold this well at the answer
  int32_t start_rows = 0;             // first pass; 0 = 16 on the CPU, 256 on CUDA
  int32_t tolerance_rows = 64;        // CUDA: bisection stops at this bracket width
  // Checked before every pass: true stops the probe with CANCELLED (a daemon told to shut down
  // while it measures). Empty = never.
  std::function<bool()> cancelled;
};

struct CapacityReport {
  std::string device;  // ModelRunner::Describe()
  int64_t weight_bytes = 0;
  int64_t baseline_bytes = 0;  // in use before the probe: resident (CPU), used on the device (CUDA)
  double activation_bytes_per_token = 0;
  int64_t activation_fixed_bytes = 0;      // the fit's intercept (CPU); 0 on CUDA
  int64_t activation_bytes = 0;            // reserved for a step of max_ribbon_tokens
  int64_t predicted_activation_bytes = 0;  // CPU: the fit at max_ribbon_tokens
  int64_t measured_activation_bytes = 0;   // peak of the pass at max_ribbon_tokens
  double prediction_error = 0;             // CPU: (measured - predicted) / predicted
  int32_t max_ribbon_tokens = 0;           // the step's token budget to configure
  // Largest step memory allows before the margin; 0 = not reached below the cap.
  int32_t memory_limit_tokens = 0;
  int32_t smallest_oom_tokens = 0;  // device: smallest trial that ran out of memory (0 = none)
  double safety_margin = 0;         // device: backed off from memory_limit_tokens by this
  int32_t kv_blocks = 0;
  int32_t block_size = 0;
  int64_t kv_bytes = 0;
  int64_t budget_bytes = 0;  // CPU budget or device memory
  std::string budget_source;
  int64_t usable_bytes = 0;        // budget_bytes * memory_fraction
  int64_t planned_peak_bytes = 0;  // baseline + activations + KV cache
  int32_t passes = 0;              // forward passes the probe ran
  double seconds = 0;              // wall time of the probe
  // Non-empty when the probe could not measure what it wanted and chose a conservative answer:
  // why, and which options set the figures by hand.
  std::string note;
};

absl::StatusOr<CapacityReport> MeasureCapacity(ModelRunner& runner, const MeasureOptions& options);

// The out-of-memory search over `memory`'s allocator, whatever the runner's device: what
// MeasureCapacity does for "cuda[:N]" with CUDA's allocator, here with the caller's (a test
// fake with an injected capacity runs the very same code).
absl::StatusOr<CapacityReport> MeasureCapacityOnDevice(ModelRunner& runner,
                                                       const MeasureOptions& options,
                                                       DeviceMemory& memory);

// The table `ribbond probe` prints: one figure per line, bytes in binary units.
std::string FormatCapacityTable(const CapacityReport& report);

}  // namespace ribbon::memory
