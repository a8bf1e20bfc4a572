// PackedWeights: the CPU runner's GEMM weights (float32 or bfloat16), packed once at load into
// kernels/cpu/packed_gemm's panel layout inside one HugePageMapping; and the threaded GEMM over
// them.
//
// Why one kernel for every step size: a row's result then never depends on what else is in the
// step (packed_gemm.h's order contract), so seeded sampling gives the same tokens alone or
// batched; and the packed layout lets a decode stream each weight once per step.
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
#include "core/model/cpu_huge_pages.h"
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

  int64_t bytes() const { return bytes_; }  // the packed weights, zero padding included
  bool huge_pages() const { return mapping_.huge_pages(); }  // the kernel accepted the advice

 private:
  PackedWeights() = default;
  HugePageMapping mapping_;
  int64_t bytes_ = 0;
};

// out[rows, n] = in[rows, k] @ w^T, or += when `accumulate` (rows contiguous: lda = k, ldo = n).
void PackedGemm(const PackedLinear& w, const float* in, float* out, int64_t rows, bool accumulate);

// A decode-sized step's gate/up GEMM and SiLU-mul in one pass of the threads: gate_up_out[rows,
// 2 * inter] = in @ gate_up^T as PackedGemm computes it, and act[rows, inter] as cpu::SiluMul
// computes it from that, bit for bit. Each thread takes a range of gate columns and the matching
// up columns, then SiLU-muls its own outputs while they are in its cache, where one GEMM and a
// SiluMul after it left every activation half on the other core. False, having done nothing, when
// the step is not decode-sized or inter is not a whole number of panels (gate_up.n must be
// 2 * inter): then the caller runs PackedGemm and cpu::SiluMul.
bool PackedGemmSiluMul(const PackedLinear& gate_up, const float* in, float* gate_up_out, float* act,
                       int64_t rows, int64_t inter);

// out[r] = row ids[r] of the weight (a tied embedding read from the packed LM head).
void GatherPackedRows(const PackedLinear& w, const int32_t* ids, float* out, int64_t rows);

}  // namespace ribbon
