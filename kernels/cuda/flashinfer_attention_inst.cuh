// The FlashInfer template instances ribbon compiles, shared by kernels/cuda/flashinfer_attention.cu
// (which calls them) and kernels/cuda/flashinfer_attention_inst.cu (which instantiates them, one
// translation unit per element type, head dim and window so that ninja compiles them in
// parallel). Private to kernels/cuda; nvcc only. The FlashInfer headers come from the pinned
// flashinfer-python wheel (flashinfer/data/include, with its own cccl first on the path).
//
// Every instance: FA2 batch prefill over a paged NHD cache whose K and V have the same strides,
// causal mask, no positional encoding inside the kernel (ribbon applies RoPE before the cache
// write), no custom mask, no logits soft cap, no ALiBi, float32 QK accumulation.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <flashinfer/attention/default_prefill_params.cuh>
#include <flashinfer/attention/variants.cuh>

namespace ribbon::kernels::flashinfer_detail {

template <typename T>
using Params = flashinfer::BatchPrefillPagedParams<T, T, T, int32_t>;

template <bool kWindow>
using Variant = flashinfer::DefaultAttention</*use_custom_mask=*/false, kWindow,
                                             /*use_logits_soft_cap=*/false, /*use_alibi=*/false>;

// One launch of FlashInfer's BatchPrefillWithPagedKVCacheDispatched (flashinfer/attention/
// prefill.cuh) for this case. kCtaTileQ is the plan's query tile: 16, 64 or 128 (what
// FlashInfer's planner picks below head_dim 512).
// Declared only: flashinfer_attention_inst.cu defines it and instantiates each case, so the
// kernel bodies compile there and nowhere else.
template <typename T, uint32_t kHeadDim, bool kWindow, uint32_t kCtaTileQ>
cudaError_t Launch(const Params<T>& params, T* tmp_v, float* tmp_s, cudaStream_t stream);

}  // namespace ribbon::kernels::flashinfer_detail
