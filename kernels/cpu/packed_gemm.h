// Float32 GEMM against a weight packed once, at load, into 64-column panels; one kernel for every
// number of rows (a one-token decode, a batch of decodes, a 2,048-token prefill).
//
//   out[r, j] = s, or out[r, j] + s when `accumulate`, where
//   s = 0; for i = 0 .. k-1 in order: s = fma(a[r, i], w[j, i], s)      (float32, fused)
//
// The packed weight is float32, or bfloat16 (rounded to nearest even when packed): then w[j, i]
// above is the bfloat16 value widened exactly to float32, and everything else is the same: the
// activations, the products and the sum stay float32. Half the bytes to stream per decode step,
// and unlike a bf16 x bf16 GEMM with a bf16 output, no rounding of activations or results.
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
// A one-row call walks up to 4 of its panels side by side (several memory streams read faster
// than one), so a one-row GEMM is best split into one contiguous range of panels per thread.
#pragma once

#include <cstdint>

namespace ribbon::kernels {

inline constexpr int64_t kPanelWidth = 64;

// The element type of a packed weight.
enum class PackedDtype : uint8_t { kFloat32, kBFloat16 };

// Bytes per element of `dtype` (4 or 2).
int64_t PackedElementBytes(PackedDtype dtype);
// ceil(n / 64).
int64_t PackedPanels(int64_t n);
// Elements a packed [n, k] weight occupies: PackedPanels(n) * k * 64.
int64_t PackedWeightElements(int64_t n, int64_t k);

// Packs w ([n, k] float32 row-major, row j at w + j * ldw: torch's Linear layout) into `packed`
// (64-byte aligned, PackedWeightElements(n, k) elements of `dtype`): panel p holds columns
// [64p, 64p + 64) as [k][64]; columns past n are zero. bfloat16 rounds to nearest even (as
// torch's conversion does). Panels [panel_begin, panel_end) only, so callers may split it.
void PackWeightCpu(const float* w, int64_t ldw, int64_t n, int64_t k, void* packed,
                   PackedDtype dtype, int64_t panel_begin, int64_t panel_end);

// Copies weight row j (w[j, 0..k)) back out of the packed layout, as float32: a tied embedding
// is looked up in the packed LM head instead of being kept twice.
void UnpackRowCpu(const void* packed, PackedDtype dtype, int64_t k, int64_t j, float* out);

// float32 -> bfloat16 bits, rounded to nearest even (NaN stays NaN); and back, exactly.
uint16_t FloatToBf16Bits(float x);
float Bf16BitsToFloat(uint16_t bits);

struct PackedGemmArgs {
  const float* a = nullptr;  // [m, k], row r at a + r * lda
  int64_t lda = 0;
  const void* packed = nullptr;  // PackWeightCpu's layout of an [n, k] weight, of `dtype`
  int64_t n = 0;
  int64_t k = 0;
  float* out = nullptr;  // [m, n], row r at out + r * ldo
  int64_t ldo = 0;
  int64_t m = 0;
  bool accumulate = false;
  PackedDtype dtype = PackedDtype::kFloat32;
};

// Computes out[row_begin:row_end, 64 * panel_begin : min(64 * panel_end, n)).
void PackedGemmCpu(const PackedGemmArgs& args, int64_t panel_begin, int64_t panel_end,
                   int64_t row_begin, int64_t row_end);

// The instruction set PackedGemmCpu uses on this machine: "avx512", "avx2" or "portable".
const char* PackedGemmIsa();

}  // namespace ribbon::kernels
