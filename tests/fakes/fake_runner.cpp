#include "tests/fakes/fake_runner.h"

#include <cstdlib>
#include <new>

#include "core/model/torch_guard.h"

namespace ribbon::testing {

absl::StatusOr<memory::CudaMemoryInfo> FakeDeviceMemory::Info() {
  return memory::CudaMemoryInfo{capacity_ - allocated_, capacity_};
}

absl::Status FakeDeviceMemory::ResetPeakStats() {
  peak_ = allocated_;
  return absl::OkStatus();
}

absl::StatusOr<memory::CudaAllocatorStats> FakeDeviceMemory::Stats() {
  return memory::CudaAllocatorStats{allocated_, peak_};
}

bool FakeDeviceMemory::Allocate(int64_t bytes) {
  if (bytes < 0 || allocated_ + bytes > capacity_) return false;
  allocated_ += bytes;
  peak_ = std::max(peak_, allocated_);
  return true;
}

void FakeDeviceMemory::Free(int64_t bytes) { allocated_ -= bytes; }

FakeRunner::FakeRunner(const FakeRunnerOptions& options, FakeDeviceMemory& memory)
    : options_(options), memory_(memory) {
  config_.architecture = "FakeForCausalLM";
  config_.model_type = "fake";
  config_.vocab_size = options.vocab_size;
  config_.max_position_embeddings = options.max_position;
  config_.eos_token_ids = options.eos_token_ids;
  config_.num_layers = 1;
  if (!memory_.Allocate(options.weight_bytes)) std::abort();
}

FakeRunner::~FakeRunner() {
  ReleaseKv();
  memory_.Free(options_.weight_bytes);
}

void FakeRunner::ReleaseKv() {
  memory_.Free(kv_bytes_);
  kv_bytes_ = 0;
  kv_.clear();
  kv_.shrink_to_fit();
  kv_allocated_ = false;
  num_blocks_ = 0;
}

absl::Status FakeRunner::AllocateKvCache(int32_t num_blocks, int32_t block_size) {
  if (block_size <= 0 || num_blocks < 0)
    return absl::InvalidArgumentError("num_blocks must be >= 0 and block_size positive");
  ForgetPreviousStep();
  ReleaseKv();
  block_size_ = block_size;
  if (num_blocks == 0) return absl::OkStatus();
  return GuardTorch("allocating the KV cache", [&] {
    const int64_t bytes = KvBytesPerBlock(block_size) * num_blocks;
    if (!memory_.Allocate(bytes)) throw std::bad_alloc();
    kv_bytes_ = bytes;
    kv_.assign(static_cast<size_t>(num_blocks) * block_size, 0);
    kv_allocated_ = true;
    num_blocks_ = num_blocks;
    return absl::OkStatus();
  });
}

PlanLimits FakeRunner::Limits() const {
  return {options_.vocab_size, options_.max_position, num_blocks_, block_size_};
}

int32_t FakeRunner::Next(std::span<const int32_t> prefix, int32_t vocab_size) {
  uint64_t h = 1469598103934665603ull;
  for (size_t q = 0; q < prefix.size(); ++q) {
    h ^= static_cast<uint64_t>(prefix[q]) * 1315423911ull + q;
    h *= 1099511628211ull;
  }
  // Ids 0 and 1 (pad and EOS) are never predicted, so greedy runs go to their length.
  return 2 + static_cast<int32_t>(h % static_cast<uint64_t>(vocab_size - 2));
}

std::vector<int32_t> FakeRunner::ExpectedGreedy(std::vector<int32_t> prompt, int32_t n,
                                                int32_t vocab_size) {
  std::vector<int32_t> out;
  for (int32_t i = 0; i < n; ++i) {
    out.push_back(Next(prompt, vocab_size));
    prompt.push_back(out.back());
  }
  return out;
}

absl::Status FakeRunner::RunRows(const StepPlan& plan, std::span<const int32_t> row_tokens,
                                 std::span<float> logits) {
  const int32_t real_rows = plan.cu_seqlens.back();
  for (int32_t r = 0; r < real_rows; ++r) {
    if (plan.slot_mapping[r] >= 0) kv_[plan.slot_mapping[r]] = row_tokens[r];
  }
  std::vector<int32_t> prefix;
  size_t next_sample = 0;
  for (int32_t s = 0; s < plan.num_seqs && next_sample < plan.sample_rows.size(); ++s) {
    const int32_t* table =
        plan.block_tables.data() + static_cast<size_t>(s) * plan.max_blocks_per_seq;
    for (int32_t r = plan.cu_seqlens[s]; r < plan.cu_seqlens[s + 1]; ++r) {
      if (next_sample >= plan.sample_rows.size() || plan.sample_rows[next_sample] != r) continue;
      prefix.clear();
      for (int32_t q = 0; q <= plan.positions[r]; ++q)
        prefix.push_back(kv_[table[q / block_size_] * block_size_ + q % block_size_]);
      const int32_t favoured = Next(prefix, options_.vocab_size);
      float* row = logits.data() + next_sample * static_cast<size_t>(options_.vocab_size);
      for (int32_t v = 0; v < options_.vocab_size; ++v) {
        const int32_t distance = (v - favoured + options_.vocab_size) % options_.vocab_size;
        row[v] = v == favoured ? 8.0f : -0.05f * static_cast<float>(distance);
      }
      ++next_sample;
    }
  }
  return absl::OkStatus();
}

absl::Status FakeRunner::ComputeLogits(const StepPlan& plan, std::span<const int32_t> row_tokens,
                                       std::span<float> logits) {
  return GuardTorch("fake forward step", [&] {
    ++steps_;
    if (options_.fail_step && options_.fail_step(plan))
      return absl::InternalError("injected step failure");
    const int64_t activations = options_.bytes_per_row * plan.num_rows;
    if (!memory_.Allocate(activations)) {
      ++oom_steps_;
      throw std::bad_alloc();
    }
    const absl::Status status = RunRows(plan, row_tokens, logits);
    memory_.Free(activations);
    return status;
  });
}

}  // namespace ribbon::testing
