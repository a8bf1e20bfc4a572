#include "core/model/cuda/device_plan.h"

#include <ATen/ops/empty.h>

#include <algorithm>
#include <cstring>

#include "core/model/cuda/torch_status.h"

namespace ribbon::gpu {
namespace {}  // namespace

PlanFacts SummarisePlan(const StepPlan& plan) {
  PlanFacts f;
  f.real_rows = plan.cu_seqlens.back();
  f.cu_kv.assign(1, 0);
  for (int32_t s = 0; s < plan.num_seqs; ++s) {
    const int32_t begin = plan.cu_seqlens[s], n = plan.cu_seqlens[s + 1] - begin,
                  kv = plan.kv_lens[s];
    f.cu_kv.push_back(f.cu_kv.back() + kv);
    f.max_q = std::max(f.max_q, n);
    f.max_kv = std::max(f.max_kv, kv);
    for (int32_t j = 0; j < n && f.queries_end_at_kv; ++j) {
      f.queries_end_at_kv = plan.positions[begin + j] == kv - n + j;
    }
    f.full_prefill = f.full_prefill && n == kv;
  }
  f.full_prefill = f.full_prefill && f.queries_end_at_kv;
  f.total_kv = f.cu_kv.back();
  return f;
}

absl::StatusOr<DevicePlan> PlanUploader::Upload(const StepPlan& plan,
                                                std::span<const int32_t> row_tokens,
                                                c10::cuda::CUDAStream stream) {
  const PlanFacts facts = SummarisePlan(plan);
  DevicePlan d;
  d.num_rows = plan.num_rows;
  d.num_seqs = plan.num_seqs;
  d.real_rows = facts.real_rows;
  d.max_blocks_per_seq = plan.max_blocks_per_seq;
  d.block_size = plan.block_size;
  d.num_samples = static_cast<int32_t>(plan.sample_rows.size());
  d.total_kv = facts.total_kv;
  d.max_q = facts.max_q;
  d.max_kv = facts.max_kv;
  d.queries_end_at_kv = facts.queries_end_at_kv;
  d.full_prefill = facts.full_prefill;
  const std::vector<int32_t>& cu_kv = facts.cu_kv;

  const std::vector<std::span<const int32_t>> parts = {
      row_tokens, plan.positions,    plan.slot_mapping, plan.cu_seqlens,
      cu_kv,      plan.block_tables, plan.sample_rows};
  int64_t total = 0;
  for (const auto& part : parts) total += static_cast<int64_t>(part.size());
  copied_.synchronize();
  if (!pinned_.defined() || pinned_.numel() < total) {
    const int64_t capacity =
        std::max<int64_t>(total, 2 * (pinned_.defined() ? pinned_.numel() : 0));
    pinned_ = at::empty({capacity}, at::TensorOptions().dtype(at::kInt).pinned_memory(true));
    device_ = at::empty({capacity}, at::TensorOptions().dtype(at::kInt).device(stream.device()));
  }
  int32_t* host = pinned_.data_ptr<int32_t>();
  const int32_t* dev = device_.data_ptr<int32_t>();
  std::vector<const int32_t*> where;
  int64_t offset = 0;
  for (const auto& part : parts) {
    if (!part.empty()) std::memcpy(host + offset, part.data(), part.size() * sizeof(int32_t));
    where.push_back(dev + offset);
    offset += static_cast<int64_t>(part.size());
  }
  const cudaError_t error =
      cudaMemcpyAsync(device_.data_ptr<int32_t>(), host, total * sizeof(int32_t),
                      cudaMemcpyHostToDevice, stream.stream());
  if (error != cudaSuccess) return CudaStatus(error, "uploading the step plan");
  copied_.record(stream);
  d.token_ids = where[0];
  d.positions = where[1];
  d.slot_mapping = where[2];
  d.cu_seqlens = where[3];
  d.cu_kv = where[4];
  d.block_tables = where[5];
  d.sample_rows = where[6];
  const int64_t cu_offset = where[3] - dev, kv_offset = where[4] - dev;
  d.cu_seqlens_tensor = device_.narrow(0, cu_offset, plan.num_seqs + 1);
  d.cu_kv_tensor = device_.narrow(0, kv_offset, plan.num_seqs + 1);
  d.host = &plan;
  return d;
}

}  // namespace ribbon::gpu
