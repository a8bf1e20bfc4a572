// CudaAttention: one layer's attention over a ribbon on the GPU, by the selected backend:
//   reference  our paged varlen kernel (kernels/cuda/paged_attention.h): any dtype, any even
//              head_dim <= 256; the correctness reference for the others.
//   flash      libtorch's flash varlen attention (at::_flash_attention_forward with cu_seqlens)
//              over K/V gathered from the paged cache by one kernel (kernels/cuda/kv_gather.h).
//   cudnn      libtorch's cuDNN fused attention on packed (ragged) inputs
//              (at::_cudnn_attention_forward with cu_seqlens), same gather.
//   flashinfer FlashInfer's FA2 paged batch prefill (kernels/cuda/flashinfer_attention.h) reading
//              the cache in place, no gather: a host plan built once per step (on the first
//              layer's Run) and reused by every layer. float16/bfloat16, head_dim 64 or 128.
// The fused kernels align the causal mask bottom-right (a segment's queries end where its keys
// end). A step whose plan breaks that (positions clamped at the context limit) runs on the
// reference kernel; cuDNN's packed path is used only for plain packed prefills (each segment
// starts at position 0) and flash takes its other steps. Both count as fallback steps.
// "auto" does not pick flashinfer yet: it stays flash until a GPU measurement shows the gain
// (docs/gpu.md).
// Private to core/model/cuda (includes ATen).
//
// Ownership: owns its gather workspaces and FlashInfer's plan workspaces. Threads: the runner's
// thread. Run() may throw c10::Error (the caller converts it).
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAStream.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/model/cuda/device_plan.h"
#include "kernels/cuda/flashinfer_attention.h"

namespace ribbon::gpu {

enum class AttentionBackend { kReference, kFlash, kCudnn, kFlashInfer };

const char* AttentionBackendName(AttentionBackend backend);

struct AttentionShape {
  int32_t num_heads = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  int32_t sliding_window = 0;  // 0 = none
  at::ScalarType dtype = at::kFloat;
};

// Resolves a ModelLoadOptions::attention_backend name ("auto", "reference", "flash", "cudnn",
// "flashinfer") for this shape: "auto" is flash where flash accepts the dtype and head_dim, else
// reference.
// INVALID_ARGUMENT for unknown names or a fused backend that cannot take the shape, with why.
absl::StatusOr<AttentionBackend> ResolveAttentionBackend(const std::string& name,
                                                         const AttentionShape& shape);

// The tensors of one layer's attention in one step.
struct AttentionIo {
  at::Tensor qkv;      // [num_rows, q + 2 kv] after RoPE; queries at columns [0, q)
  at::Tensor k_cache;  // [slots, kv] of this layer, already holding this step's keys
  at::Tensor v_cache;
  at::Tensor out;  // [num_rows, q], contiguous; every row is written (padding rows with 0)
};

class CudaAttention {
 public:
  CudaAttention(AttentionBackend backend, const AttentionShape& shape);

  // Picks the kernel for this plan; call once per step before the layers. flashinfer plans on
  // the step's first Run (it needs the stream); a plan FlashInfer refuses (misaligned rows)
  // moves the step to the reference kernel there.
  void BeginStep(const DevicePlan& plan);
  absl::Status Run(const DevicePlan& plan, const AttentionIo& io, c10::cuda::CUDAStream stream);

  AttentionBackend backend() const { return backend_; }
  AttentionBackend step_backend() const { return step_backend_; }
  int64_t steps() const { return steps_; }
  int64_t fallback_steps() const { return fallback_steps_; }
  std::string Describe() const;

 private:
  absl::Status RunReference(const DevicePlan& plan, const AttentionIo& io,
                            cudaStream_t stream) const;
  absl::Status RunFused(const DevicePlan& plan, const AttentionIo& io,
                        c10::cuda::CUDAStream stream);
  absl::Status GatherKv(const DevicePlan& plan, const AttentionIo& io, cudaStream_t stream);
  absl::Status PlanFlashInfer(const DevicePlan& plan, c10::cuda::CUDAStream stream);
  void EnsureFlashInferWorkspace(const kernels::FlashInferWorkspaceBytes& needs, at::Device device);
  absl::Status RunFlashInfer(const DevicePlan& plan, const AttentionIo& io,
                             c10::cuda::CUDAStream stream);

  AttentionBackend backend_;
  AttentionShape shape_;
  AttentionBackend step_backend_;
  int64_t steps_ = 0;
  int64_t fallback_steps_ = 0;
  at::Tensor k_gathered_, v_gathered_;  // [capacity, kv] workspaces for the fused kernels
  // flashinfer: this step's plan (planned_ once per step), its host page lists, and the
  // workspaces it lives in; copied_ marks the end of the last staging copy from fi_pinned_.
  bool planned_ = false;
  kernels::FlashInferIndices fi_indices_;
  kernels::FlashInferPlan fi_plan_;
  at::Tensor fi_float_, fi_int_, fi_pinned_;  // uint8
  at::cuda::CUDAEvent fi_copied_;
};

// Runs `backend` and the reference kernel on the same random packed ribbon (prefills, a chunk
// and decodes; only prefills for cuDNN) and compares. OK, or UNIMPLEMENTED when the backend
// fails to run here, or FAILED_PRECONDITION when it disagrees with the reference.
absl::Status ProbeAttention(AttentionBackend backend, const AttentionShape& shape,
                            at::Device device);

}  // namespace ribbon::gpu
