// FakeRunner: a ModelRunner for tests, with a model simple enough to predict and failures that
// can be injected, on a simulated device allocator (FakeDeviceMemory) so the memory probe's
// device search runs over it exactly as over a CUDA device.
//
// The "model": the KV cache holds token ids; a row writes its token to its slot, and the logits
// of a sample row at position p favour Next(tokens at positions 0..p of its sequence, read back
// through the block table), a hash of that prefix. So greedy output depends on everything the
// runner is handed (tokens, positions, slots, block tables, links) and nothing else, and the
// expected continuation of a prompt is computable without the runner (ExpectedGreedy).
//
// Memory: the weights, the KV cache and each step's activations (bytes_per_row * num_rows) are
// allocated on the FakeDeviceMemory; exceeding its capacity throws std::bad_alloc inside the
// runners' shared GuardTorch, which makes it RESOURCE_EXHAUSTED: the path a real out-of-memory
// takes. Threads: one at a time, as ModelRunner.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/memory/device_memory.h"
#include "core/model/host_sampling_runner.h"

namespace ribbon::testing {

// A device of fixed capacity; allocations beyond it fail. No caching: EmptyCache does nothing.
class FakeDeviceMemory final : public memory::DeviceMemory {
 public:
  explicit FakeDeviceMemory(int64_t capacity_bytes) : capacity_(capacity_bytes) {}
  std::string Source() const override { return "fake device"; }
  absl::StatusOr<memory::CudaMemoryInfo> Info() override;
  absl::Status EmptyCache() override { return absl::OkStatus(); }
  absl::Status ResetPeakStats() override;
  absl::StatusOr<memory::CudaAllocatorStats> Stats() override;

  bool Allocate(int64_t bytes);  // false (and nothing held) when it does not fit
  void Free(int64_t bytes);
  int64_t allocated() const { return allocated_; }
  int64_t capacity() const { return capacity_; }

 private:
  const int64_t capacity_;
  int64_t allocated_ = 0;
  int64_t peak_ = 0;
};

struct FakeRunnerOptions {
  int32_t vocab_size = 97;
  int32_t max_position = 512;
  std::vector<int32_t> eos_token_ids = {1};
  int64_t weight_bytes = 1 << 20;
  int64_t kv_bytes_per_token = 1 << 10;  // KV bytes per cached token (all layers)
  int64_t bytes_per_row = 1 << 12;       // activation bytes of one step row
  // Test-only faults: called with the step's plan before it runs.
  std::function<bool(const StepPlan&)> fail_step;  // true: the step fails with INTERNAL
};

class FakeRunner final : public HostSamplingRunner {
 public:
  // `memory` must outlive the runner; the weights are allocated on it at once (the constructor
  // aborts if they do not fit: a test setup error).
  FakeRunner(const FakeRunnerOptions& options, FakeDeviceMemory& memory);
  ~FakeRunner() override;

  const ModelConfig& config() const override { return config_; }
  std::string Describe() const override { return "fake runner"; }
  int64_t weight_bytes() const override { return options_.weight_bytes; }
  int64_t KvBytesPerBlock(int32_t block_size) const override {
    return options_.kv_bytes_per_token * block_size;
  }
  absl::Status AllocateKvCache(int32_t num_blocks, int32_t block_size) override;

  int64_t steps() const { return steps_; }
  int64_t out_of_memory_steps() const { return oom_steps_; }

  // The token the fake model predicts after `prefix` (greedy).
  static int32_t Next(std::span<const int32_t> prefix, int32_t vocab_size);
  // Greedy continuation of `prompt` by `n` tokens, computed without any runner.
  static std::vector<int32_t> ExpectedGreedy(std::vector<int32_t> prompt, int32_t n,
                                             int32_t vocab_size);

 protected:
  PlanLimits Limits() const override;
  bool HasKvCache() const override { return kv_allocated_; }
  absl::Status ComputeLogits(const StepPlan& plan, std::span<const int32_t> row_tokens,
                             std::span<float> logits) override;

 private:
  void ReleaseKv();
  absl::Status RunRows(const StepPlan& plan, std::span<const int32_t> row_tokens,
                       std::span<float> logits);

  FakeRunnerOptions options_;
  FakeDeviceMemory& memory_;
  ModelConfig config_;
  std::vector<int32_t> kv_;  // a token id per slot
  bool kv_allocated_ = false;
  int64_t kv_bytes_ = 0;
  int32_t num_blocks_ = 0;
  int32_t block_size_ = 16;
  int64_t steps_ = 0;
  int64_t oom_steps_ = 0;
};

}  // namespace ribbon::testing
