#include "core/memory/probe_runner.h"

#include "core/common/status_macros.h"
#include "core/memory/host_memory.h"

namespace ribbon::memory {

ProbePassRunner::ProbePassRunner(ModelRunner& model, const ProbePlanOptions& plan_options,
                                 std::function<bool()> cancelled)
    : model_(model), plan_options_(plan_options), cancelled_(std::move(cancelled)) {}

absl::Status ProbePassRunner::PrepareKv(int32_t rows) {
  const int32_t blocks = ProbeKvBlocks(rows, plan_options_);
  if (blocks == kv_blocks_) return absl::OkStatus();
  RETURN_IF_ERROR(ReleaseKv());
  RETURN_IF_ERROR(model_.AllocateKvCache(blocks, plan_options_.block_size));
  kv_blocks_ = blocks;
  return absl::OkStatus();
}

absl::Status ProbePassRunner::Run(int32_t rows) {
  if (cancelled_ && cancelled_()) return absl::CancelledError("memory probe: shutdown requested");
  BlockManager blocks({.num_blocks = kv_blocks_, .block_size = plan_options_.block_size});
  StepPlan plan;
  RETURN_IF_ERROR(BuildProbePlan(rows, plan_options_, blocks, plan));
  StepOutput output;
  ++passes_;
  return model_.Run(plan, output);
}

absl::Status ProbePassRunner::ReleaseKv() {
  RETURN_IF_ERROR(model_.AllocateKvCache(0, plan_options_.block_size));
  kv_blocks_ = 0;
  return absl::OkStatus();
}

absl::StatusOr<int64_t> CpuRunnerTarget::MeasurePass(int32_t rows) {
  RETURN_IF_ERROR(passes_.PrepareKv(rows));
  RETURN_IF_ERROR(ResetPeakResident());
  RETURN_IF_ERROR(passes_.Run(rows));
  ASSIGN_OR_RETURN(const ProcessMemory memory, ReadProcessMemory());
  return memory.peak_resident_bytes - baseline_bytes_ - passes_.kv_bytes();
}

void RunnerProbeDevice::Keep(const absl::Status& status) {
  if (status_.ok()) status_ = status;
}

absl::Status RunnerProbeDevice::TryRibbon(int32_t rows) {
  RETURN_IF_ERROR(status_);
  RETURN_IF_ERROR(passes_.PrepareKv(rows));
  return passes_.Run(rows);
}

void RunnerProbeDevice::ReleaseCachedMemory() { Keep(memory_.EmptyCache()); }

void RunnerProbeDevice::ResetPeakStats() {
  Keep(memory_.ResetPeakStats());
  const auto stats = memory_.Stats();
  Keep(stats.status());
  allocated_at_reset_ = stats.ok() ? stats->allocated_bytes : 0;
  kv_at_reset_ = passes_.kv_bytes();
}

// The pass may have swapped the KV cache (freed the old, allocated the new): the peak counts
// the new one and not the old, so both are corrected for.
int64_t RunnerProbeDevice::PeakActivationBytes() {
  const auto stats = memory_.Stats();
  Keep(stats.status());
  if (!stats.ok()) return 0;
  return stats->peak_allocated_bytes - allocated_at_reset_ + kv_at_reset_ - passes_.kv_bytes();
}

int64_t RunnerProbeDevice::FreeBytes() {
  const auto info = memory_.Info();
  Keep(info.status());
  return info.ok() ? info->free_bytes + passes_.kv_bytes() : 0;
}

int64_t RunnerProbeDevice::TotalBytes() {
  const auto info = memory_.Info();
  Keep(info.status());
  return info.ok() ? info->total_bytes : 0;
}

}  // namespace ribbon::memory
