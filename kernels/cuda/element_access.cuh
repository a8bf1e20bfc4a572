// Device-side helpers shared by the .cu files of kernels/cuda: loads and stores of float32,
// float16 and bfloat16 through float, rounding to a storage type, and dispatch from ElementType
// to a template. Private to kernels/cuda (included by .cu files only).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/element_type.h"

namespace ribbon::kernels::detail {

__device__ __forceinline__ float ToFloat(float x) { return x; }
__device__ __forceinline__ float ToFloat(__half x) { return __half2float(x); }
__device__ __forceinline__ float ToFloat(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T>
__device__ __forceinline__ T FromFloat(float x);
template <>
__device__ __forceinline__ float FromFloat<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __half FromFloat<__half>(float x) {
  return __float2half_rn(x);
}
template <>
__device__ __forceinline__ __nv_bfloat16 FromFloat<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// The value `x` takes when stored as T (identity for float). Used where the GPU path rounds an
// intermediate exactly where transformers' eager PyTorch code does, so that 16-bit results agree.
template <typename T>
__device__ __forceinline__ float RoundTo(float x) {
  return ToFloat(FromFloat<T>(x));
}

// Calls fn(T{}) with T the storage type of `type`; returns fn's cudaError_t.
template <typename Fn>
cudaError_t DispatchElement(ElementType type, Fn&& fn) {
  switch (type) {
    case ElementType::kF32:
      return fn(float{});
    case ElementType::kF16:
      return fn(__half{});
    case ElementType::kBF16:
      return fn(__nv_bfloat16{});
  }
  return cudaErrorInvalidValue;
}

// Index of the segment containing `row` in the ascending offsets cu[0..n]: the s with
// cu[s] <= row < cu[s + 1] (binary search; the caller guarantees cu[0] <= row < cu[n]).
__device__ __forceinline__ int32_t SegmentOf(const int32_t* cu, int32_t n, int32_t row) {
  int32_t lo = 0, hi = n;
  while (hi - lo > 1) {
    const int32_t mid = (lo + hi) / 2;
    if (cu[mid] <= row)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

// Grid size for `work` items of `per_block` each, capped at the 1-D grid limit.
inline unsigned int BlocksFor(int64_t work, int64_t per_block) {
  const int64_t blocks = (work + per_block - 1) / per_block;
  return static_cast<unsigned int>(blocks < 1 ? 1 : (blocks > 2147483647 ? 2147483647 : blocks));
}

}  // namespace ribbon::kernels::detail
