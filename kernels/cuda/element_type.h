// ElementType: the floating-point storage types the CUDA kernels accept. Framework-free: the
// libtorch adapters in core/model/cuda translate at::ScalarType into this.
// Header-only, host code; any thread.
#pragma once

#include <cstdint>

namespace ribbon::kernels {

enum class ElementType : int32_t { kF32, kF16, kBF16 };

constexpr int32_t ElementBytes(ElementType type) { return type == ElementType::kF32 ? 4 : 2; }

constexpr const char* ElementTypeName(ElementType type) {
  switch (type) {
    case ElementType::kF32:
      return "float32";
    case ElementType::kF16:
      return "float16";
    case ElementType::kBF16:
      return "bfloat16";
  }
  return "?";
}

}  // namespace ribbon::kernels
