// PackedWeights: the CPU runner's GEMM weights (float32 or bfloat16), packed once at load into
// kernels/cpu/packed_gemm's panel layout inside one mapping that is 2 MiB-aligned and advised
// for transparent huge pages; and the threaded GEMM over them.
//
// Why one kernel for every step size: a row's result then never depends on what else is in the
// step (packed_gemm.h's order contract), so seeded sampling gives the same tokens alone or
// batched; and the packed layout lets a decode stream each weight once per step.
// Why huge pages: a decode step streams every weight once; through 4 KiB pages the same stream
// read at about half the rate (one core of the 2-core dev machine: 17 vs 32 GB/s).
//
// Private to core/model (includes ATen). Ownership: PackedWeights owns the mapping; the
// PackedLinear views it hands out stay valid while it lives. Threads: immutable after Pack;
// PackedGemm and GatherPackedRows run on the calling thread plus ATen's intra-op pool.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/cpu/packed_gemm.h"

namespace ribbon {

// One packed [n, k] weight (out features n, in features k), of `dtype`.
struct PackedLinear {
  const void* data = nullptr;
  kernels::PackedDtype dtype = kernels::PackedDtype::kFloat32;
  int64_t n = 0;
  int64_t k = 0;
};

class PackedWeights {
 public:
  // Packs each tensor (2-D [n, k], floating point) into the mapping as `dtype`, in order, and
  // releases it right after (`*tensor` is reset), so peak memory stays near one copy of the
  // weights. Returns RESOURCE_EXHAUSTED when the mapping cannot be made, INVALID_ARGUMENT for a
  // tensor that is not a floating-point matrix.
  static absl::StatusOr<PackedWeights> Pack(std::span<at::Tensor* const> tensors,
                                            kernels::PackedDtype dtype,
                                            std::vector<PackedLinear>* linears);

  PackedWeights(PackedWeights&& other) noexcept;
  PackedWeights& operator=(PackedWeights&& other) noexcept;
  PackedWeights(const PackedWeights&) = delete;
  PackedWeights& operator=(const PackedWeights&) = delete;
  ~PackedWeights();

  int64_t bytes() const { return bytes_; }         // the packed weights, zero padding included
  bool huge_pages() const { return huge_pages_; }  // the kernel accepted the advice

 private:
  PackedWeights() = default;
  void* mapping_ = nullptr;
  size_t mapping_size_ = 0;
  int64_t bytes_ = 0;
  bool huge_pages_ = false;
};

// out[rows, n] = in[rows, k] @ w^T, or += when `accumulate` (rows contiguous: lda = k, ldo = n).
void PackedGemm(const PackedLinear& w, const float* in, float* out, int64_t rows, bool accumulate);

// out[r] = row ids[r] of the weight (a tied embedding read from the packed LM head).
void GatherPackedRows(const PackedLinear& w, const int32_t* ids, float* out, int64_t rows);

}  // namespace ribbon
