// ProbeAttention (declared in cuda_attention.h): a fused backend's self-check at load time, so a
// libtorch build or GPU that cannot run it (or runs it with other semantics) is reported as
// unsupported with the reason, instead of producing wrong tokens later.
#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/randn.h>
#include <c10/core/InferenceMode.h>
#include <c10/cuda/CUDAGuard.h>

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/common/status_macros.h"
#include "core/model/cuda/cuda_attention.h"
#include "core/model/cuda/torch_status.h"

namespace ribbon::gpu {
namespace {

struct ProbeSegment {
  int32_t first_position;
  int32_t rows;
};

// Ribbons that exercise the bottom-right causal alignment: a prefill, a later chunk and a decode
// row; then decode rows only (flash takes another path when every segment has one query).
// cuDNN's packed path takes only prefills from position 0.
std::vector<std::vector<ProbeSegment>> ProbeRibbons(AttentionBackend backend) {
  if (backend == AttentionBackend::kCudnn) return {{{0, 13}, {0, 7}, {0, 1}}};
  return {{{0, 13}, {9, 5}, {20, 1}}, {{20, 1}, {3, 1}, {11, 1}}};
}

StepPlan ProbePlan(const std::vector<ProbeSegment>& segments) {
  StepPlan plan;
  plan.block_size = 4;
  plan.max_blocks_per_seq = 6;
  plan.num_seqs = static_cast<int32_t>(segments.size());
  std::vector<int32_t> blocks(plan.num_seqs * plan.max_blocks_per_seq);
  std::iota(blocks.begin(), blocks.end(), 0);
  std::reverse(blocks.begin(), blocks.end());  // pages out of order, as a real cache has them
  plan.block_tables = blocks;
  plan.cu_seqlens = {0};
  for (const auto& seg : segments) {
    for (int32_t j = 0; j < seg.rows; ++j) {
      plan.token_ids.push_back(0);
      plan.positions.push_back(seg.first_position + j);
      plan.slot_mapping.push_back(-1);
    }
    plan.cu_seqlens.push_back(static_cast<int32_t>(plan.positions.size()));
    plan.kv_lens.push_back(seg.first_position + seg.rows);
  }
  plan.real_tokens = static_cast<int32_t>(plan.positions.size());
  for (int32_t pad = 0; pad < 3; ++pad) {
    plan.token_ids.push_back(0);
    plan.positions.push_back(0);
    plan.slot_mapping.push_back(-1);
  }
  plan.num_rows = static_cast<int32_t>(plan.positions.size());
  return plan;
}

absl::Status CompareWithReference(AttentionBackend backend, const AttentionShape& shape,
                                  at::Device device, const StepPlan& plan) {
  c10::InferenceMode inference;
  c10::cuda::CUDAGuard guard(device);
  const auto stream = c10::cuda::getCurrentCUDAStream(device.index());
  PlanUploader uploader;
  ASSIGN_OR_RETURN(const DevicePlan d, uploader.Upload(plan, stream));
  const int64_t q = int64_t{shape.num_heads} * shape.head_dim,
                kv = int64_t{shape.num_kv_heads} * shape.head_dim;
  const int64_t slots = static_cast<int64_t>(plan.block_tables.size()) * plan.block_size;
  const auto options = at::TensorOptions().dtype(shape.dtype).device(device);
  AttentionIo io{at::randn({plan.num_rows, q + 2 * kv}, options), at::randn({slots, kv}, options),
                 at::randn({slots, kv}, options), at::empty({plan.num_rows, q}, options)};
  AttentionIo reference_io = io;
  reference_io.out = at::empty({plan.num_rows, q}, options);

  CudaAttention fused(backend, shape);
  CudaAttention reference(AttentionBackend::kReference, shape);
  fused.BeginStep(d);
  reference.BeginStep(d);
  if (fused.step_backend() != backend) {
    return absl::InternalError("the attention probe's plan does not select the probed backend");
  }
  RETURN_IF_ERROR(fused.Run(d, io, stream));
  RETURN_IF_ERROR(reference.Run(d, reference_io, stream));
  const at::Tensor want = reference_io.out.to(at::kFloat);
  const double error =
      (io.out.to(at::kFloat) - want).norm().item<double>() / want.norm().item<double>();
  if (!(error < 2e-2)) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "attention_backend \"%s\" disagrees with the reference kernel on a packed probe ribbon "
        "(relative error %.3g); use \"reference\"",
        AttentionBackendName(backend), error));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ProbeAttention(AttentionBackend backend, const AttentionShape& shape,
                            at::Device device) {
  if (backend == AttentionBackend::kReference) return absl::OkStatus();
  absl::Status status = GuardTorch("attention probe", [&] {
    for (const auto& segments : ProbeRibbons(backend)) {
      RETURN_IF_ERROR(CompareWithReference(backend, shape, device, ProbePlan(segments)));
    }
    return absl::OkStatus();
  });
  if (status.code() == absl::StatusCode::kInternal) {
    return absl::UnimplementedError(
        absl::StrCat("attention_backend \"", AttentionBackendName(backend),
                     "\" is not usable with this libtorch and GPU: ", status.message()));
  }
  return status;
}

}  // namespace ribbon::gpu
