#include "core/model/cuda/cuda_attention.h"

#include <ATen/ops/_cudnn_attention_forward.h>
#include <ATen/ops/_flash_attention_forward.h>
#include <ATen/ops/empty.h>

#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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

}  // namespace

const char* AttentionBackendName(AttentionBackend backend) {
  switch (backend) {
    case AttentionBackend::kReference:
      return "reference";
    case AttentionBackend::kFlash:
      return "flash";
    case AttentionBackend::kCudnn:
      return "cudnn";
  }
  return "?";
}

absl::StatusOr<AttentionBackend> ResolveAttentionBackend(const std::string& name,
                                                         const AttentionShape& shape) {
  const std::string rejects = FusedRejects(shape);
  if (name == "auto")
    return rejects.empty() ? AttentionBackend::kFlash : AttentionBackend::kReference;
  if (name == "reference") return AttentionBackend::kReference;
  if (name != "flash" && name != "cudnn") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown attention_backend \"", name, "\" (auto, reference, flash, cudnn)"));
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
  }
  if (fallback_steps_ > 0)
    absl::StrAppend(&text, ", ", fallback_steps_, " of ", steps_, " steps on another kernel");
  return text;
}

absl::Status CudaAttention::Run(const DevicePlan& plan, const AttentionIo& io,
                                c10::cuda::CUDAStream stream) {
  if (step_backend_ == AttentionBackend::kReference) return RunReference(plan, io, stream.stream());
  return RunFused(plan, io, stream);
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
