#include "kernels/cuda/layer_ops.h"

#include "kernels/cuda/element_access.cuh"
#include "kernels/cuda/row_copy.cuh"

namespace ribbon::kernels {
namespace {

using detail::BlocksFor;
using detail::FromFloat;
using detail::RoundTo;
using detail::ToFloat;

constexpr int kNormThreads = 256;

// Sum of `value` over the block (blockDim.x a multiple of 32, at most 1024); every thread gets it.
__device__ float BlockSum(float value) {
  __shared__ float partial[32];
  for (int offset = 16; offset > 0; offset /= 2)
    value += __shfl_xor_sync(0xffffffffu, value, offset);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) partial[warp] = value;
  __syncthreads();
  const int warps = blockDim.x / 32;
  value = lane < warps ? partial[lane] : 0.0f;
  for (int offset = 16; offset > 0; offset /= 2)
    value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

template <typename T>
__global__ void RmsNormKernel(const T* x, int64_t x_stride, const T* weight, T* out,
                              int64_t out_stride, int64_t dim, float eps) {
  const T* xr = x + blockIdx.x * x_stride;
  T* o = out + blockIdx.x * out_stride;
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    const float v = ToFloat(xr[i]);
    sum += v * v;
  }
  sum = BlockSum(sum);
  // float32 follows the CPU runner (sum / dim, 1 / sqrt); 16-bit follows torch's mean (sum times
  // 1 / dim) and torch.rsqrt.
  const float n = static_cast<float>(dim);
  const float mean = (sizeof(T) == 4 ? sum / n : sum * (1.0f / n)) + eps;
  const float inv = sizeof(T) == 4 ? 1.0f / sqrtf(mean) : rsqrtf(mean);
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    const float normed = RoundTo<T>(__fmul_rn(ToFloat(xr[i]), inv));
    o[i] = FromFloat<T>(__fmul_rn(ToFloat(weight[i]), normed));
  }
}

template <typename T>
__global__ void RopeKernel(T* qkv, int64_t row_stride, int32_t heads, int32_t head_dim,
                           const int32_t* positions, const float* cos, const float* sin) {
  const int32_t half = head_dim / 2;
  T* row = qkv + blockIdx.x * row_stride;
  const int64_t table = static_cast<int64_t>(positions[blockIdx.x]) * half;
  for (int32_t pair = threadIdx.x; pair < heads * half; pair += blockDim.x) {
    const int32_t head = pair / half, i = pair % half;
    T* x = row + static_cast<int64_t>(head) * head_dim;
    const float c = RoundTo<T>(cos[table + i]);
    const float s = RoundTo<T>(sin[table + i]);
    const float a = ToFloat(x[i]);
    const float b = ToFloat(x[i + half]);
    x[i] = FromFloat<T>(__fadd_rn(RoundTo<T>(__fmul_rn(a, c)), RoundTo<T>(-__fmul_rn(b, s))));
    x[i + half] = FromFloat<T>(__fadd_rn(RoundTo<T>(__fmul_rn(b, c)), RoundTo<T>(__fmul_rn(a, s))));
  }
}

template <typename T>
__global__ void SiluMulKernel(const T* gate_up, T* out, int64_t rows, int64_t inter) {
  const int64_t total = rows * inter;
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < total;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = k / inter, i = k % inter;
    const float g = ToFloat(gate_up[r * 2 * inter + i]);
    const float u = ToFloat(gate_up[r * 2 * inter + inter + i]);
    const float silu = __fdiv_rn(g, __fadd_rn(1.0f, expf(-g)));
    out[k] = FromFloat<T>(__fmul_rn(RoundTo<T>(silu), u));
  }
}

template <int kWidth>
__global__ void GatherRowsKernel(const char* table, int64_t table_row_bytes, const int32_t* ids,
                                 char* out, int64_t row_bytes) {
  const int64_t r = blockIdx.x;
  detail::CopyRowBytes<kWidth>(out + r * row_bytes, table + ids[r] * table_row_bytes, row_bytes);
}

template <int kWidth>
__global__ void WriteKvKernel(const char* k_src, const char* v_src, int64_t src_row_bytes,
                              const int32_t* slots, int64_t row_bytes, char* k_cache,
                              char* v_cache) {
  const int64_t r = blockIdx.x;
  const int64_t slot = slots[r];
  if (slot < 0) return;
  detail::CopyRowBytes<kWidth>(k_cache + slot * row_bytes, k_src + r * src_row_bytes, row_bytes);
  detail::CopyRowBytes<kWidth>(v_cache + slot * row_bytes, v_src + r * src_row_bytes, row_bytes);
}

int ThreadsFor(int64_t work, int cap) {
  int threads = 32;
  while (threads < cap && threads < work) threads *= 2;
  return threads;
}

uint64_t Address(const void* p) { return reinterpret_cast<uint64_t>(p); }

}  // namespace

cudaError_t RmsNorm(const RmsNormArgs& a, cudaStream_t stream) {
  if (a.rows == 0) return cudaSuccess;
  if (a.dim <= 0 || a.rows > 2147483647) return cudaErrorInvalidValue;
  return detail::DispatchElement(a.type, [&](auto zero) {
    using T = decltype(zero);
    RmsNormKernel<T><<<static_cast<unsigned>(a.rows), ThreadsFor(a.dim, kNormThreads), 0, stream>>>(
        static_cast<const T*>(a.x), a.x_stride, static_cast<const T*>(a.weight),
        static_cast<T*>(a.out), a.out_stride, a.dim, a.eps);
    return cudaGetLastError();
  });
}

cudaError_t ApplyRope(const RopeArgs& a, cudaStream_t stream) {
  if (a.rows == 0) return cudaSuccess;
  if (a.head_dim <= 0 || a.head_dim % 2 != 0 || a.rows > 2147483647) return cudaErrorInvalidValue;
  const int32_t heads = a.num_q_heads + a.num_kv_heads;
  return detail::DispatchElement(a.type, [&](auto zero) {
    using T = decltype(zero);
    RopeKernel<T>
        <<<static_cast<unsigned>(a.rows), ThreadsFor(heads * a.head_dim / 2, 256), 0, stream>>>(
            static_cast<T*>(a.qkv), a.row_stride, heads, a.head_dim, a.positions, a.cos, a.sin);
    return cudaGetLastError();
  });
}

cudaError_t SiluMul(const SiluMulArgs& a, cudaStream_t stream) {
  if (a.rows == 0 || a.inter == 0) return cudaSuccess;
  return detail::DispatchElement(a.type, [&](auto zero) {
    using T = decltype(zero);
    const unsigned blocks = std::min<unsigned>(BlocksFor(a.rows * a.inter, 256), 65536u);
    SiluMulKernel<T><<<blocks, 256, 0, stream>>>(static_cast<const T*>(a.gate_up),
                                                 static_cast<T*>(a.out), a.rows, a.inter);
    return cudaGetLastError();
  });
}

cudaError_t GatherRows(const GatherRowsArgs& a, cudaStream_t stream) {
  if (a.rows == 0) return cudaSuccess;
  if (a.rows > 2147483647) return cudaErrorInvalidValue;
  const int32_t width =
      detail::CopyWidth({Address(a.table), Address(a.out), static_cast<uint64_t>(a.row_bytes),
                         static_cast<uint64_t>(a.table_row_bytes)});
  return detail::DispatchWidth(width, [&](auto w) {
    GatherRowsKernel<decltype(w)::value><<<static_cast<unsigned>(a.rows), 128, 0, stream>>>(
        static_cast<const char*>(a.table), a.table_row_bytes, a.ids, static_cast<char*>(a.out),
        a.row_bytes);
    return cudaGetLastError();
  });
}

cudaError_t WriteKv(const WriteKvArgs& a, cudaStream_t stream) {
  if (a.rows == 0) return cudaSuccess;
  if (a.rows > 2147483647) return cudaErrorInvalidValue;
  const int64_t elem = ElementBytes(a.type);
  const int64_t row_bytes = a.kv_width * elem;
  const int64_t src_row_bytes = a.src_stride * elem;
  const int32_t width =
      detail::CopyWidth({Address(a.k_src), Address(a.v_src), Address(a.k_cache), Address(a.v_cache),
                         static_cast<uint64_t>(row_bytes), static_cast<uint64_t>(src_row_bytes)});
  return detail::DispatchWidth(width, [&](auto w) {
    WriteKvKernel<decltype(w)::value><<<static_cast<unsigned>(a.rows), 128, 0, stream>>>(
        static_cast<const char*>(a.k_src), static_cast<const char*>(a.v_src), src_row_bytes,
        a.slot_mapping, row_bytes, static_cast<char*>(a.k_cache), static_cast<char*>(a.v_cache));
    return cudaGetLastError();
  });
}

}  // namespace ribbon::kernels
