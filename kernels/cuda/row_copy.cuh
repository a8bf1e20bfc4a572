// Row copies at the widest access (16, 8, 4, 2 or 1 bytes) that every row start and length
// allows, shared by the gather-style kernels. Private to kernels/cuda (.cu files only).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <initializer_list>
#include <type_traits>

namespace ribbon::kernels::detail {

// Bytes per access usable for rows starting at the given addresses / strides with `row_bytes`.
inline int32_t CopyWidth(std::initializer_list<uint64_t> values) {
  uint64_t all = 0;
  for (uint64_t v : values) all |= v;
  for (int32_t width : {16, 8, 4, 2}) {
    if (all % width == 0) return width;
  }
  return 1;
}

template <int kWidth>
struct Chunk;
template <>
struct Chunk<16> {
  using Type = uint4;
};
template <>
struct Chunk<8> {
  using Type = uint2;
};
template <>
struct Chunk<4> {
  using Type = uint32_t;
};
template <>
struct Chunk<2> {
  using Type = uint16_t;
};
template <>
struct Chunk<1> {
  using Type = uint8_t;
};

// The calling block copies `row_bytes` bytes from src to dst, kWidth bytes per access.
template <int kWidth>
__device__ __forceinline__ void CopyRowBytes(void* dst, const void* src, int64_t row_bytes) {
  using T = typename Chunk<kWidth>::Type;
  const T* s = static_cast<const T*>(src);
  T* d = static_cast<T*>(dst);
  const int64_t n = row_bytes / kWidth;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) d[i] = s[i];
}

// Calls fn(std::integral_constant<int, W>{}) for the runtime width W.
template <typename Fn>
cudaError_t DispatchWidth(int32_t width, Fn&& fn) {
  switch (width) {
    case 16:
      return fn(std::integral_constant<int, 16>{});
    case 8:
      return fn(std::integral_constant<int, 8>{});
    case 4:
      return fn(std::integral_constant<int, 4>{});
    case 2:
      return fn(std::integral_constant<int, 2>{});
    default:
      return fn(std::integral_constant<int, 1>{});
  }
}

}  // namespace ribbon::kernels::detail
