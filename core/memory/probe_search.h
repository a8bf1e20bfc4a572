// Memory probe, device half: on a device whose allocator reports running out of memory (CUDA),
// finds the largest ribbon that runs by real forward passes of growing size (doubling from a
// start size, then binary search down to a tolerance), backs off by a safety margin, and sizes
// the KV cache from what remains under a memory fraction.
//
// Pure code over the ProbeDevice interface: tests drive it with a fake device that has an
// injected out-of-memory threshold; core/memory/capacity.cpp drives it with a real runner.
// Ownership: ProbeMaxRibbon borrows the device for the call.
// Threads: one thread at a time, the thread allowed to run the model.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ribbon::memory {

// A device the probe can run trial ribbons on. Sizes are in rows (tokens); bytes are device bytes.
class ProbeDevice {
 public:
  virtual ~ProbeDevice() = default;
  // Runs one worst-case forward pass over a ribbon of `rows` rows. RESOURCE_EXHAUSTED means the
  // device ran out of memory and stays usable; any other error aborts the probe.
  virtual absl::Status TryRibbon(int32_t rows) = 0;
  // Returns the allocator's cached but unused blocks to the device.
  virtual void ReleaseCachedMemory() = 0;
  // Starts a new peak measurement for PeakActivationBytes.
  virtual void ResetPeakStats() = 0;
  // Peak bytes the passes since the last ResetPeakStats allocated on top of what was allocated
  // then, not counting the KV cache held for probing: the activation memory of those passes.
  virtual int64_t PeakActivationBytes() = 0;
  // Bytes free for new allocations now, counting memory held only for probing (its KV cache) as
  // free, since the engine's KV cache replaces it.
  virtual int64_t FreeBytes() = 0;
  virtual int64_t TotalBytes() = 0;
};

struct ProbeOptions {
  int32_t start_rows = 256;     // first trial; a multiple of `align`
  int32_t max_rows = 16384;     // cap: no trial is larger; reached without running out = the answer
  int32_t align = 16;           // every trial and the answer are multiples of this
  int32_t tolerance_rows = 64;  // the binary search stops once the bracket is this narrow
  double safety_margin =
      0.10;  // answer = AlignDown(largest that ran * (1 - margin)) when memory bounds
  double memory_fraction = 0.90;  // of TotalBytes(): what everything together may use
  int64_t kv_bytes_per_block = 0;
  int32_t min_kv_blocks = 1;  // a KV cache smaller than this is an error (one full context)
  int32_t max_shrinks = 3;    // retries, each a margin smaller, if the chosen ribbon runs out
};

// One trial of the search, in the order run.
struct ProbeTrial {
  int32_t rows = 0;
  bool fit = false;
};

struct ProbeResult {
  int32_t max_ribbon_rows = 0;    // the answer: no step may be larger
  int32_t largest_fit_rows = 0;   // largest trial that ran
  int32_t smallest_oom_rows = 0;  // smallest trial that ran out of memory; 0 = none up to the cap
  int64_t activation_bytes = 0;   // peak activation bytes of a pass at max_ribbon_rows
  int64_t used_bytes = 0;         // in use after that pass (weights, runtime, kept workspaces)
  int64_t total_bytes = 0;
  int64_t usable_bytes = 0;  // total_bytes * memory_fraction
  int64_t kv_bytes = 0;      // kv_blocks * kv_bytes_per_block
  int32_t kv_blocks = 0;
  std::vector<ProbeTrial> trials;
};

// Runs the search. Before every pass it releases cached memory and resets peak statistics.
// Errors: INVALID_ARGUMENT for inconsistent options; RESOURCE_EXHAUSTED when not even `align`
// rows run or the KV cache would get fewer than min_kv_blocks; the device's own errors.
absl::StatusOr<ProbeResult> ProbeMaxRibbon(ProbeDevice& device, const ProbeOptions& options);

// n rounded down to a multiple of align (align >= 1).
inline int32_t AlignRowsDown(int64_t n, int32_t align) {
  return static_cast<int32_t>(n / align * align);
}

}  // namespace ribbon::memory
