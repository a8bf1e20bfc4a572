#include "core/model/cuda/cuda_attention.h"

#include <ATen/ops/_cudnn_attention_forward.h>
#include <ATen/ops/_flash_attention_forward.h>
#include <ATen/ops/empty.h>

#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/common/status_macros.h"
#include "core/model/cuda/torch_status.h"
#include "kernels/cuda/kv_gather.h"
#include "kernels/cuda/paged_attention.h"

namespace ribbon::gpu {
namespace {

kernels::ElementType ElementOf(at::ScalarType dtype) {
  switch (dtype) {
    case at::kHalf:
      return kernels::ElementType::kF16;
    case at::kBFloat16:
      return kernels::ElementType::kBF16;
    default:
      return kernels::ElementType::kF32;
  }
}

// Why the fused kernels cannot take this shape, or "" when they can.
std::string FusedRejects(const AttentionShape& shape) {
  if (shape.dtype != at::kHalf && shape.dtype != at::kBFloat16) {
    return "fused attention kernels need float16 or bfloat16 (this model runs in float32)";
  }
  if (shape.head_dim % 8 != 0 || shape.head_dim > 256) {
    return absl::StrCat(
        "fused attention kernels need head_dim a multiple of 8 up to 256 (this model has ",
        shape.head_dim, ")");
  }
  return "";
}

float Scale(const AttentionShape& shape) {
  return 1.0f / std::sqrt(static_cast<float>(shape.head_dim));
}

kernels::FlashInferShape FlashInferShapeOf(const AttentionShape& shape, int32_t block_size) {
  return {shape.num_heads, shape.num_kv_heads,   shape.head_dim,
          block_size,      shape.sliding_window, ElementOf(shape.dtype)};
}

// At least `bytes` of uint8 in `tensor` (grown to twice what it was, so steps settle).
void Reserve(at::Tensor& tensor, size_t bytes, const at::TensorOptions& options) {
  const int64_t want = static_cast<int64_t>(std::max<size_t>(bytes, 1));
  if (tensor.defined() && tensor.numel() >= want) return;
  const int64_t capacity = std::max<int64_t>(want, tensor.defined() ? 2 * tensor.numel() : 0);
  tensor = at::empty({capacity}, options.dtype(at::kByte));
}

}  // namespace

const char* AttentionBackendName(AttentionBackend backend) {
  switch (backend) {
    case AttentionBackend::kReference:
      return "reference";
    case AttentionBackend::kFlash:
      return "flash";
    case AttentionBackend::kCudnn:
      return "cudnn";
    case AttentionBackend::kFlashInfer:
      return "flashinfer";
  }
  return "?";
}

absl::StatusOr<AttentionBackend> ResolveAttentionBackend(const std::string& name,
                                                         const AttentionShape& shape) {
  const std::string rejects = FusedRejects(shape);
  // "auto" stays flash until a GPU measurement shows flashinfer's gain (docs/gpu.md).
  if (name == "auto")
    return rejects.empty() ? AttentionBackend::kFlash : AttentionBackend::kReference;
  if (name == "reference") return AttentionBackend::kReference;
  if (name == "flashinfer") {
    const std::string why = kernels::FlashInferRejects(FlashInferShapeOf(shape, 1));
    if (why.empty()) return AttentionBackend::kFlashInfer;
    return absl::InvalidArgumentError(absl::StrCat("attention_backend \"flashinfer\": ", why,
                                                   "; use \"flash\" or \"reference\""));
  }
  if (name != "flash" && name != "cudnn") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown attention_backend \"", name, "\" (auto, reference, flash, cudnn, flashinfer)"));
  }
  if (!rejects.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("attention_backend \"", name, "\": ", rejects, "; use \"reference\""));
  }
  if (name == "cudnn" && shape.sliding_window > 0) {
    return absl::InvalidArgumentError(
        "attention_backend \"cudnn\": libtorch's cuDNN attention has no sliding window; "
        "use \"flash\" or \"reference\"");
  }
  return name == "flash" ? AttentionBackend::kFlash : AttentionBackend::kCudnn;
}

CudaAttention::CudaAttention(AttentionBackend backend, const AttentionShape& shape)
    : backend_(backend), shape_(shape), step_backend_(backend) {}

void CudaAttention::BeginStep(const DevicePlan& plan) {
  AttentionBackend chosen = backend_;
  if (backend_ == AttentionBackend::kCudnn && !plan.full_prefill) chosen = AttentionBackend::kFlash;
  if (chosen != AttentionBackend::kReference && !plan.queries_end_at_kv)
    chosen = AttentionBackend::kReference;
  ++steps_;
  if (chosen != backend_) ++fallback_steps_;
  step_backend_ = chosen;
  planned_ = false;
}

std::string CudaAttention::Describe() const {
  std::string text = AttentionBackendName(backend_);
  switch (backend_) {
    case AttentionBackend::kReference:
      absl::StrAppend(&text, " (ribbon paged varlen kernel)");
      break;
    case AttentionBackend::kFlash:
      absl::StrAppend(&text, " (libtorch flash varlen, K/V gathered from the paged cache)");
      break;
    case AttentionBackend::kCudnn:
      absl::StrAppend(
          &text,
          " (libtorch cuDNN packed attention for prefills from position 0, flash for other steps)");
      break;
    case AttentionBackend::kFlashInfer:
      absl::StrAppend(&text, " (FlashInfer FA2 paged prefill over the cache, planned per step)");
      break;
  }
  if (fallback_steps_ > 0)
    absl::StrAppend(&text, ", ", fallback_steps_, " of ", steps_, " steps on another kernel");
  return text;
}

absl::Status CudaAttention::Run(const DevicePlan& plan, const AttentionIo& io,
                                c10::cuda::CUDAStream stream) {
  if (step_backend_ == AttentionBackend::kFlashInfer) {
    if (!planned_) {
      const absl::Status status = PlanFlashInfer(plan, stream);
      if (absl::IsFailedPrecondition(status)) {  // rows FlashInfer cannot align: reference
        step_backend_ = AttentionBackend::kReference;
        ++fallback_steps_;
      } else if (!status.ok()) {
        return status;
      }
      planned_ = true;
    }
    if (step_backend_ == AttentionBackend::kFlashInfer) return RunFlashInfer(plan, io, stream);
  }
  if (step_backend_ == AttentionBackend::kReference) return RunReference(plan, io, stream.stream());
  return RunFused(plan, io, stream);
}

void CudaAttention::EnsureFlashInferWorkspace(const kernels::FlashInferWorkspaceBytes& needs,
                                              at::Device device) {
  const auto on_device = at::TensorOptions().device(device);
  Reserve(fi_float_, needs.float_bytes, on_device);
  Reserve(fi_int_, needs.int_bytes, on_device);
  Reserve(fi_pinned_, needs.int_bytes, at::TensorOptions().pinned_memory(true));
}

absl::Status CudaAttention::PlanFlashInfer(const DevicePlan& plan, c10::cuda::CUDAStream stream) {
  if (plan.host == nullptr) {
    return absl::InternalError("the flashinfer attention backend needs the step's host plan");
  }
  const StepPlan& host = *plan.host;
  const kernels::FlashInferShape shape = FlashInferShapeOf(shape_, plan.block_size);
  RETURN_IF_ERROR(kernels::BuildFlashInferIndices(
      shape, {host.cu_seqlens, host.positions, host.block_tables, host.max_blocks_per_seq},
      fi_indices_));
  ASSIGN_OR_RETURN(const kernels::FlashInferWorkspaceBytes needs,
                   kernels::FlashInferWorkspaceNeeds(shape, fi_indices_));
  fi_copied_.synchronize();  // the last step's staging copy out of fi_pinned_ has finished
  EnsureFlashInferWorkspace(needs, stream.device());
  const kernels::FlashInferWorkspace workspace{
      fi_float_.data_ptr(), static_cast<size_t>(fi_float_.numel()), fi_int_.data_ptr(),
      fi_pinned_.data_ptr(), static_cast<size_t>(std::min(fi_int_.numel(), fi_pinned_.numel()))};
  ASSIGN_OR_RETURN(fi_plan_,
                   kernels::PlanFlashInferStep(shape, fi_indices_, workspace, stream.stream()));
  fi_copied_.record(stream);
  return absl::OkStatus();
}

absl::Status CudaAttention::RunFlashInfer(const DevicePlan& plan, const AttentionIo& io,
                                          c10::cuda::CUDAStream stream) {
  kernels::FlashInferRunArgs a;
  a.q = io.qkv.data_ptr();
  a.q_row_stride = io.qkv.stride(0);
  a.k_cache = io.k_cache.data_ptr();
  a.v_cache = io.v_cache.data_ptr();
  a.out = io.out.data_ptr();
  a.num_rows = plan.num_rows;
  a.scale = Scale(shape_);
  return kernels::RunFlashInfer(fi_plan_, a, stream.stream());
}

absl::Status CudaAttention::RunReference(const DevicePlan& plan, const AttentionIo& io,
                                         cudaStream_t stream) const {
  kernels::PagedAttentionCudaArgs a;
  a.q = io.qkv.data_ptr();
  a.q_row_stride = io.qkv.stride(0);
  a.k_cache = io.k_cache.data_ptr();
  a.v_cache = io.v_cache.data_ptr();
  a.out = io.out.data_ptr();
  a.cu_seqlens = plan.cu_seqlens;
  a.positions = plan.positions;
  a.block_tables = plan.block_tables;
  a.num_rows = plan.num_rows;
  a.num_seqs = plan.num_seqs;
  a.max_blocks_per_seq = plan.max_blocks_per_seq;
  a.num_heads = shape_.num_heads;
  a.num_kv_heads = shape_.num_kv_heads;
  a.head_dim = shape_.head_dim;
  a.block_size = plan.block_size;
  a.sliding_window = shape_.sliding_window;
  a.scale = Scale(shape_);
  a.type = ElementOf(shape_.dtype);
  return CudaStatus(kernels::PagedAttentionCuda(a, stream), "reference paged attention");
}

absl::Status CudaAttention::GatherKv(const DevicePlan& plan, const AttentionIo& io,
                                     cudaStream_t stream) {
  const int64_t kv_width = io.k_cache.size(1);
  if (!k_gathered_.defined() || k_gathered_.size(0) < plan.total_kv) {
    const int64_t capacity =
        std::max<int64_t>(plan.total_kv, 2 * (k_gathered_.defined() ? k_gathered_.size(0) : 0));
    k_gathered_ = at::empty({capacity, kv_width}, io.k_cache.options());
    v_gathered_ = at::empty({capacity, kv_width}, io.k_cache.options());
  }
  kernels::KvGatherArgs a;
  a.k_cache = io.k_cache.data_ptr();
  a.v_cache = io.v_cache.data_ptr();
  a.k_out = k_gathered_.data_ptr();
  a.v_out = v_gathered_.data_ptr();
  a.cu_kv = plan.cu_kv;
  a.block_tables = plan.block_tables;
  a.num_seqs = plan.num_seqs;
  a.max_blocks_per_seq = plan.max_blocks_per_seq;
  a.block_size = plan.block_size;
  a.total_tokens = plan.total_kv;
  a.row_bytes = kv_width * io.k_cache.element_size();
  return CudaStatus(kernels::GatherKv(a, stream), "gathering K/V for fused attention");
}

absl::Status CudaAttention::RunFused(const DevicePlan& plan, const AttentionIo& io,
                                     c10::cuda::CUDAStream stream) {
  const int64_t real = plan.real_rows, heads = shape_.num_heads, kv_heads = shape_.num_kv_heads;
  const int64_t hd = shape_.head_dim;
  if (real < plan.num_rows) io.out.narrow(0, real, plan.num_rows - real).zero_();
  if (real == 0) return absl::OkStatus();
  if (auto status = GatherKv(plan, io, stream.stream()); !status.ok()) return status;
  const at::Tensor q = io.qkv.narrow(0, 0, real).narrow(1, 0, heads * hd).view({real, heads, hd});
  const at::Tensor k = k_gathered_.narrow(0, 0, plan.total_kv).view({plan.total_kv, kv_heads, hd});
  const at::Tensor v = v_gathered_.narrow(0, 0, plan.total_kv).view({plan.total_kv, kv_heads, hd});
  const double scale = Scale(shape_);
  at::Tensor result;
  if (step_backend_ == AttentionBackend::kFlash) {
    std::optional<int64_t> left, right;
    if (shape_.sliding_window > 0) {
      left = shape_.sliding_window - 1;
      right = 0;
    }
    result =
        std::get<0>(at::_flash_attention_forward(q, k, v, plan.cu_seqlens_tensor, plan.cu_kv_tensor,
                                                 plan.max_q, plan.max_kv, 0.0, /*is_causal=*/true,
                                                 /*return_debug_mask=*/false, scale, left, right));
  } else {
    result = std::get<0>(at::_cudnn_attention_forward(
        q.contiguous(), k, v, /*attn_bias=*/std::nullopt, plan.cu_seqlens_tensor, plan.cu_kv_tensor,
        plan.max_q, plan.max_kv, /*compute_log_sumexp=*/false, 0.0,
        /*is_causal=*/true, /*return_debug_mask=*/false, scale));
  }
  io.out.narrow(0, 0, real).view({real, heads, hd}).copy_(result);
  return absl::OkStatus();
}

}  // namespace ribbon::gpu
