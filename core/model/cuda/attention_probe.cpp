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
#include "core/plan/plan_builder.h"

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

// Built by the engine's PlanBuilder: pages out of order, as a real cache has them; no KV
// writes (the probe fills the cache itself); three alignment rows.
StepPlan ProbePlan(const std::vector<ProbeSegment>& segments) {
  constexpr int32_t kBlockSize = 4, kBlocksPerSeq = 6;
  const int32_t n = static_cast<int32_t>(segments.size());
  std::vector<int32_t> blocks(static_cast<size_t>(n) * kBlocksPerSeq);
  std::iota(blocks.begin(), blocks.end(), 0);
  std::reverse(blocks.begin(), blocks.end());
  StepPlan plan;
  PlanBuilder builder(kBlockSize, kBlockSize * kBlocksPerSeq);
  builder.Reset(plan);
  std::vector<int32_t> tokens;
  for (int32_t s = 0; s < n; ++s) {
    tokens.assign(segments[s].rows, 0);
    SegmentSpec spec;
    spec.tokens = tokens;
    spec.start = segments[s].first_position;
    spec.num_tokens = segments[s].rows;
    spec.block_table = std::span<const int32_t>(blocks).subspan(s * kBlocksPerSeq, kBlocksPerSeq);
    spec.write_kv = false;
    builder.Add(spec).IgnoreError();  // fixed shapes inside the table: cannot fail
  }
  builder.Finish({.min_rows = plan.real_tokens + 3});
  return plan;
}

absl::Status CompareWithReference(AttentionBackend backend, const AttentionShape& shape,
                                  at::Device device, const StepPlan& plan) {
  c10::InferenceMode inference;
  c10::cuda::CUDAGuard guard(device);
  const auto stream = c10::cuda::getCurrentCUDAStream(device.index());
  PlanUploader uploader;
  ASSIGN_OR_RETURN(const DevicePlan d, uploader.Upload(plan, plan.token_ids, stream));
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
