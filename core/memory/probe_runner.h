// The memory probe's adapters onto a real ModelRunner: ProbePassRunner runs worst-case passes
// (BuildProbePlan) through ModelRunner::Run (forward and sampling), holding a KV cache sized for
// each pass; CpuRunnerTarget measures them with /proc (host_memory.h); CudaRunnerDevice measures
// them with the CUDA caching allocator (cuda_memory.h) and treats RESOURCE_EXHAUSTED from the
// runner as out-of-memory.
//
// Ownership: each adapter borrows the runner; the caller keeps it alive and must not use it
// elsewhere meanwhile. The runner's KV cache is replaced by the probe's (call ReleaseKv when
// done). Threads: the thread allowed to run the model, one at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "core/memory/cpu_probe.h"
#include "core/memory/device_memory.h"
#include "core/memory/probe_plan.h"
#include "core/memory/probe_search.h"
#include "core/model/model_runner.h"

namespace ribbon::memory {

class ProbePassRunner {
 public:
  // `cancelled` (may be empty) is checked before every pass: true fails it with CANCELLED.
  ProbePassRunner(ModelRunner& model, const ProbePlanOptions& plan_options,
                  std::function<bool()> cancelled = {});

  // Makes the runner hold a KV cache of exactly ProbeKvBlocks(rows) blocks, freeing the previous
  // one first so that the two never coexist.
  absl::Status PrepareKv(int32_t rows);
  // Builds the worst-case plan over `rows` rows and runs the model over it. Needs PrepareKv(rows).
  // The plan and the runner's step buffers (logits, sampled tokens) live only for the call or
  // are the runner's own, so a measurement counts them.
  absl::Status Run(int32_t rows);
  // Leaves the runner with an empty KV cache.
  absl::Status ReleaseKv();

  int64_t kv_bytes() const { return kv_blocks_ * model_.KvBytesPerBlock(plan_options_.block_size); }
  int32_t passes() const { return passes_; }

 private:
  ModelRunner& model_;
  ProbePlanOptions plan_options_;
  std::function<bool()> cancelled_;
  int32_t kv_blocks_ = 0;
  int32_t passes_ = 0;
};

// Activation bytes of a pass = peak resident during it - resident before the probe - pass KV.
class CpuRunnerTarget final : public CpuProbeTarget {
 public:
  // `baseline_bytes`: the process's resident bytes before the probe's first pass.
  CpuRunnerTarget(ProbePassRunner& passes, int64_t baseline_bytes)
      : passes_(passes), baseline_bytes_(baseline_bytes) {}
  absl::StatusOr<int64_t> MeasurePass(int32_t rows) override;

 private:
  ProbePassRunner& passes_;
  const int64_t baseline_bytes_;
};

// ProbeDevice over a runner on a device with an allocator (DeviceMemory). The interface's void
// calls cannot fail, so their first error is kept (status()) and fails every later TryRibbon.
class RunnerProbeDevice final : public ProbeDevice {
 public:
  RunnerProbeDevice(ProbePassRunner& passes, DeviceMemory& memory)
      : passes_(passes), memory_(memory) {}

  absl::Status TryRibbon(int32_t rows) override;
  void ReleaseCachedMemory() override;
  void ResetPeakStats() override;
  int64_t PeakActivationBytes() override;
  int64_t FreeBytes() override;
  int64_t TotalBytes() override;

  const absl::Status& status() const { return status_; }

 private:
  void Keep(const absl::Status& status);

  ProbePassRunner& passes_;
  DeviceMemory& memory_;
  absl::Status status_;
  int64_t allocated_at_reset_ = 0;
  int64_t kv_at_reset_ = 0;
};

}  // namespace ribbon::memory
