// Float32 GEMM against a weight packed once, at load, into 64-column panels; one kernel for every
// number of rows (a one-token decode, a batch of decodes, a 2,048-token prefill).
//
//   out[r, j] = s, or out[r, j] + s when `accumulate`, where
//   s = 0; for i = 0 .. k-1 in order: s = fma(a[r, i], w[j, i], s)      (float32, fused)
//
// That order is the contract: an output depends only on its row of `a` and its weight row, so it
// is bitwise the same whatever the number of rows, the other rows, the panel or row range of the
// call, or the instruction set that ran it (AVX-512, AVX2 and the portable loop all compute the
// same single fused chain per output). This is what makes a sequence's logits independent of what
// else is in the step, so a seeded request samples the same tokens alone or batched.
//
// Why panels: a panel holds 64 output columns as [k][64], so one pass over k reads the panel as
// one contiguous stream (a decode step streams each weight once, at the memory's full speed), and
// every k step feeds 64 columns x up to 6 rows of fused multiply-adds from registers (a prefill
// runs near the cores' peak). A BLAS sgemm re-packs the [n, k] weight on every call instead.
//
// Framework-free: raw pointers, no allocation, no threads of its own. The caller splits the work
// into (panel, row range) pieces across threads; concurrent calls on disjoint pieces are safe.
#pragma once

#include <cstdint>

namespace ribbon::kernels {

inline constexpr int64_t kPanelWidth = 64;

// ceil(n / 64).
int64_t PackedPanels(int64_t n);
// Floats a packed [n, k] weight occupies: PackedPanels(n) * k * 64.
int64_t PackedWeightFloats(int64_t n, int64_t k);

// Packs w ([n, k] row-major, row j at w + j * ldw: torch's Linear layout) into `packed` (64-byte
// aligned, PackedWeightFloats(n, k) floats): panel p holds columns [64p, 64p + 64) as [k][64];
// columns past n are zero. Panels [panel_begin, panel_end) only, so callers may split it.
void PackWeightCpu(const float* w, int64_t ldw, int64_t n, int64_t k, float* packed,
                   int64_t panel_begin, int64_t panel_end);

// Copies weight row j (w[j, 0..k)) back out of the packed layout: a tied embedding is looked up
// in the packed LM head instead of being kept twice.
void UnpackRowCpu(const float* packed, int64_t k, int64_t j, float* out);

struct PackedGemmArgs {
  const float* a = nullptr;  // [m, k], row r at a + r * lda
  int64_t lda = 0;
  const float* packed = nullptr;  // PackWeightCpu's layout of an [n, k] weight
  int64_t n = 0;
  int64_t k = 0;
  float* out = nullptr;  // [m, n], row r at out + r * ldo
  int64_t ldo = 0;
  int64_t m = 0;
  bool accumulate = false;
};

// Computes out[row_begin:row_end, 64 * panel_begin : min(64 * panel_end, n)).
void PackedGemmCpu(const PackedGemmArgs& args, int64_t panel_begin, int64_t panel_end,
                   int64_t row_begin, int64_t row_end);

// The instruction set PackedGemmCpu uses on this machine: "avx512", "avx2" or "portable".
const char* PackedGemmIsa();

}  // namespace ribbon::kernels
