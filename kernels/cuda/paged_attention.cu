#include "kernels/cuda/paged_attention.h"

#include <cmath>

#include "kernels/cuda/element_access.cuh"

namespace ribbon::kernels {
namespace {

using detail::FromFloat;
using detail::ToFloat;

constexpr int kWarpsPerBlock = 4;
constexpr int kPerLane = kCudaMaxHeadDim / 32;

__device__ __forceinline__ float WarpSum(float value) {
  for (int offset = 16; offset > 0; offset /= 2)
    value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

template <typename T>
__device__ void ZeroRow(T* out, int32_t head_dim, int lane) {
  for (int32_t d = lane; d < head_dim; d += 32) out[d] = FromFloat<T>(0.0f);
}

// One warp computes one (row, query head); lane l owns elements l, l + 32, ... of the head.
template <typename T>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    PagedAttentionKernel(PagedAttentionCudaArgs a) {
  const int64_t item = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (item >= static_cast<int64_t>(a.num_rows) * a.num_heads) return;
  const int32_t row = static_cast<int32_t>(item / a.num_heads);
  const int32_t head = static_cast<int32_t>(item % a.num_heads);
  const int32_t hd = a.head_dim;
  T* out = static_cast<T*>(a.out) + item * hd;
  if (row >= a.cu_seqlens[a.num_seqs]) {
    ZeroRow(out, hd, lane);
    return;
  }
  const int32_t seq = detail::SegmentOf(a.cu_seqlens, a.num_seqs, row);
  const int32_t kv_head = head / (a.num_heads / a.num_kv_heads);
  const int32_t pos = a.positions[row];
  const int32_t first = a.sliding_window > 0 ? max(0, pos - a.sliding_window + 1) : 0;
  const int32_t* table = a.block_tables + static_cast<int64_t>(seq) * a.max_blocks_per_seq;
  const T* q = static_cast<const T*>(a.q) + static_cast<int64_t>(row) * a.q_row_stride +
               static_cast<int64_t>(head) * hd;
  const T* k_cache = static_cast<const T*>(a.k_cache) + static_cast<int64_t>(kv_head) * hd;
  const T* v_cache = static_cast<const T*>(a.v_cache) + static_cast<int64_t>(kv_head) * hd;
  const int64_t token_stride = static_cast<int64_t>(a.num_kv_heads) * hd;

  float qv[kPerLane], acc[kPerLane];
#pragma unroll
  for (int j = 0; j < kPerLane; ++j) {
    const int32_t d = lane + 32 * j;
    qv[j] = d < hd ? ToFloat(q[d]) : 0.0f;
    acc[j] = 0.0f;
  }
  float running_max = -INFINITY, denom = 0.0f;
  for (int32_t t = first; t <= pos; ++t) {
    const int64_t slot =
        static_cast<int64_t>(table[t / a.block_size]) * a.block_size + t % a.block_size;
    const T* k = k_cache + slot * token_stride;
    const T* v = v_cache + slot * token_stride;
    float partial = 0.0f;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int32_t d = lane + 32 * j;
      if (d < hd) partial += qv[j] * ToFloat(k[d]);
    }
    const float score = WarpSum(partial) * a.scale;
    const float new_max = fmaxf(running_max, score);
    const float correction = expf(running_max - new_max);
    const float p = expf(score - new_max);
    denom = denom * correction + p;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int32_t d = lane + 32 * j;
      if (d < hd) acc[j] = acc[j] * correction + p * ToFloat(v[d]);
    }
    running_max = new_max;
  }
  const float inv = 1.0f / denom;
#pragma unroll
  for (int j = 0; j < kPerLane; ++j) {
    const int32_t d = lane + 32 * j;
    if (d < hd) out[d] = FromFloat<T>(acc[j] * inv);
  }
}

}  // namespace

cudaError_t PagedAttentionCuda(const PagedAttentionCudaArgs& a, cudaStream_t stream) {
  if (a.num_rows == 0) return cudaSuccess;
  if (a.head_dim <= 0 || a.head_dim > kCudaMaxHeadDim || a.num_kv_heads <= 0 ||
      a.num_heads % a.num_kv_heads != 0 || a.block_size <= 0) {
    return cudaErrorInvalidValue;
  }
  const int64_t items = static_cast<int64_t>(a.num_rows) * a.num_heads;
  return detail::DispatchElement(a.type, [&](auto zero) {
    using T = decltype(zero);
    PagedAttentionKernel<T>
        <<<detail::BlocksFor(items, kWarpsPerBlock), kWarpsPerBlock * 32, 0, stream>>>(a);
    return cudaGetLastError();
  });
}

}  // namespace ribbon::kernels
