// DevicePlan: a StepPlan's integer arrays on the GPU, uploaded with one host-to-device copy from
// a pinned staging buffer, plus the host-side facts the attention backends choose by.
// Private to core/model/cuda (includes ATen).
//
// Ownership: a DevicePlan points into its PlanUploader's device buffer and is valid until the
// next Upload. Threads: the runner's thread (the engine thread).
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAStream.h>

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/plan/step_plan.h"

namespace ribbon::gpu {

// Host-side facts about a plan that the attention backends choose by (computed on the host, no
// device needed).
struct PlanFacts {
  int32_t real_rows = 0;  // cu_seqlens[num_seqs]
  int32_t total_kv = 0;   // sum of kv_lens: rows of the gathered varlen K/V
  int32_t max_q = 0;      // longest segment (query rows)
  int32_t max_kv = 0;     // longest kv_len
  // Every segment's rows carry positions kv_len - n, ..., kv_len - 1: the causal alignment the
  // fused varlen kernels assume (queries end where the keys end).
  bool queries_end_at_kv = true;
  // Additionally every segment starts at position 0 (n == kv_len): a plain packed prefill.
  bool full_prefill = true;
  std::vector<int32_t> cu_kv;  // [num_seqs + 1], prefix sums of kv_lens
};

// The plan must have passed ValidatePlan (core/plan/validate_plan.h; sizes are trusted).
PlanFacts SummarisePlan(const StepPlan& plan);

struct DevicePlan {
  int32_t num_rows = 0;
  int32_t num_seqs = 0;
  int32_t real_rows = 0;  // cu_seqlens[num_seqs]
  int32_t max_blocks_per_seq = 0;
  int32_t block_size = 0;
  int32_t num_samples = 0;
  int32_t total_kv = 0;  // as PlanFacts
  int32_t max_q = 0;
  int32_t max_kv = 0;
  bool queries_end_at_kv = true;
  bool full_prefill = true;

  const int32_t* token_ids = nullptr;     // [num_rows]
  const int32_t* positions = nullptr;     // [num_rows]
  const int32_t* slot_mapping = nullptr;  // [num_rows]
  const int32_t* cu_seqlens = nullptr;    // [num_seqs + 1]
  const int32_t* cu_kv = nullptr;         // [num_seqs + 1], prefix sums of kv_lens
  const int32_t* block_tables = nullptr;  // [num_seqs, max_blocks_per_seq]
  const int32_t* sample_rows = nullptr;   // [num_samples]
  at::Tensor cu_seqlens_tensor;  // int32 [num_seqs + 1] views of the above, for ATen kernels
  at::Tensor cu_kv_tensor;
  // The host plan this was uploaded from (the flashinfer backend plans from its arrays); valid
  // for the step, null where a DevicePlan is made by hand.
  const StepPlan* host = nullptr;
};

class PlanUploader {
 public:
  // Stages `plan` in pinned memory and copies it to the stream's device (asynchronously).
  // Waits first for the previous upload's copy, so the staging buffer is never overwritten
  // while in flight.
  // `row_tokens` replaces plan.token_ids (the runner's links resolved), size plan.num_rows.
  absl::StatusOr<DevicePlan> Upload(const StepPlan& plan, std::span<const int32_t> row_tokens,
                                    c10::cuda::CUDAStream stream);

 private:
  at::Tensor pinned_;  // int32, pinned host memory
  at::Tensor device_;  // int32, device memory
  at::cuda::CUDAEvent copied_;
};

}  // namespace ribbon::gpu
