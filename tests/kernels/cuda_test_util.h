// Helpers for the CUDA kernel tests: device buffers, host-side conversion to and from the
// kernels' storage types, random data, poisoning. Test-only; host code.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cuda/element_type.h"

namespace ribbon::testing {

using kernels::ElementType;

#define CUDA_REQUIRE(expr) REQUIRE((expr) == cudaSuccess)

// Owns one cudaMalloc'd allocation.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
    CUDA_REQUIRE(cudaMalloc(&ptr_, bytes == 0 ? 1 : bytes));
  }
  ~DeviceBuffer() { cudaFree(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  template <typename T>
  static DeviceBuffer From(const std::vector<T>& host) {
    DeviceBuffer buffer(host.size() * sizeof(T));
    CUDA_REQUIRE(
        cudaMemcpy(buffer.ptr_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
    return buffer;
  }
  template <typename T>
  std::vector<T> To() const {
    std::vector<T> host(bytes_ / sizeof(T));
    CUDA_REQUIRE(cudaMemcpy(host.data(), ptr_, host.size() * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }
  // Fills with 0xFF bytes: NaN in float32, float16 and bfloat16, so unwritten outputs show.
  void Poison() { CUDA_REQUIRE(cudaMemset(ptr_, 0xFF, bytes_)); }

  void* get() const { return ptr_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

  DeviceBuffer(DeviceBuffer&& other) noexcept : ptr_(other.ptr_), bytes_(other.bytes_) {
    other.ptr_ = nullptr;
  }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Encodes floats into the storage type (round to nearest even), as raw bytes.
inline std::vector<std::byte> Encode(const std::vector<float>& values, ElementType type) {
  std::vector<std::byte> bytes(values.size() * kernels::ElementBytes(type));
  for (size_t i = 0; i < values.size(); ++i) {
    if (type == ElementType::kF32) {
      std::memcpy(bytes.data() + 4 * i, &values[i], 4);
    } else if (type == ElementType::kF16) {
      const __half h = __float2half_rn(values[i]);
      std::memcpy(bytes.data() + 2 * i, &h, 2);
    } else {
      const __nv_bfloat16 b = __float2bfloat16_rn(values[i]);
      std::memcpy(bytes.data() + 2 * i, &b, 2);
    }
  }
  return bytes;
}

inline std::vector<float> Decode(const std::vector<std::byte>& bytes, ElementType type) {
  const size_t n = bytes.size() / kernels::ElementBytes(type);
  std::vector<float> values(n);
  for (size_t i = 0; i < n; ++i) {
    if (type == ElementType::kF32) {
      std::memcpy(&values[i], bytes.data() + 4 * i, 4);
    } else if (type == ElementType::kF16) {
      __half h;
      std::memcpy(&h, bytes.data() + 2 * i, 2);
      values[i] = __half2float(h);
    } else {
      __nv_bfloat16 b;
      std::memcpy(&b, bytes.data() + 2 * i, 2);
      values[i] = __bfloat162float(b);
    }
  }
  return values;
}

// The values as the storage type holds them.
inline std::vector<float> Rounded(const std::vector<float>& values, ElementType type) {
  return Decode(Encode(values, type), type);
}

inline std::vector<float> RandomNormal(size_t n, std::mt19937& rng, float stddev = 1.0f) {
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> values(n);
  for (float& v : values) v = dist(rng);
  return values;
}

// ||got - want|| / ||want||; infinite when got has a NaN (an unwritten element).
inline double RelativeError(const std::vector<float>& got, const std::vector<float>& want) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(got[i])) return INFINITY;
    diff += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    norm += double(want[i]) * want[i];
  }
  return std::sqrt(diff / std::max(norm, 1e-30));
}

// Relative error a correct kernel stays under in this storage type (float32 accumulation).
inline double Tolerance(ElementType type) {
  switch (type) {
    case ElementType::kF32:
      return 1e-5;
    case ElementType::kF16:
      return 2e-3;
    case ElementType::kBF16:
      return 1.2e-2;
  }
  return 0;
}

}  // namespace ribbon::testing
