// Small-M float32 GEMM against a weight stored [n, k] row-major (torch's Linear layout):
// out[m, j] = sum_k a[m, k] * w[j, k] (or += when `accumulate`).
//
// Why: a decode step multiplies a few rows (one per sequence) by every weight matrix. A BLAS
// sgemm packs the [k, n] weight into its own panel layout on every call, so a step with 8 rows
// moves the weights about twice (the repack showed as 26% of a llama-100m batch-8 profile). Here
// each weight row is streamed once per call, read straight from where it lies, for all rows of
// the step at once; the same [n, k] tensor still serves large-M steps through BLAS (as a
// transposed operand), so there is one copy of the weights.
//
// Each output is a dot product over k, accumulated in 8 fp32 lanes (k in steps of 8) and summed
// across lanes in a fixed order, then the k % 8 tail in order: an output's value depends only on
// its row of `a` and of `w`, never on m or on which other rows or columns are in the call.
//
// Framework-free: raw pointers, no allocation, no threads of its own. The caller splits the
// columns [0, n) across threads and calls SmallGemmCpu on disjoint column ranges.
// Threads: any; concurrent calls on disjoint column ranges are safe.
#pragma once

#include <cstdint>

namespace ribbon::kernels {

struct SmallGemmArgs {
  const float* a = nullptr;  // [m, k], row r at a + r * lda
  int64_t lda = 0;
  const float* w = nullptr;  // [n, k], row j at w + j * ldw
  int64_t ldw = 0;
  float* out = nullptr;  // [m, n], row r at out + r * ldo
  int64_t ldo = 0;
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
  bool accumulate = false;
};

// Computes out[:, col_begin:col_end).
void SmallGemmCpu(const SmallGemmArgs& args, int64_t col_begin, int64_t col_end);

}  // namespace ribbon::kernels
