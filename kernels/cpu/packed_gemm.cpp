#include "kernels/cpu/packed_gemm.h"

#include <algorithm>

#include "kernels/cpu/packed_gemm_tile.h"

namespace ribbon::kernels {
namespace {

bool HasAvx512() {
  static const bool has = __builtin_cpu_supports("avx512f");
  return has;
}

}  // namespace

int64_t PackedPanels(int64_t n) { return (n + kPanelWidth - 1) / kPanelWidth; }

int64_t PackedWeightFloats(int64_t n, int64_t k) { return PackedPanels(n) * k * kPanelWidth; }

void PackWeightCpu(const float* w, int64_t ldw, int64_t n, int64_t k, float* packed,
                   int64_t panel_begin, int64_t panel_end) {
  // Row by row within a panel: the reads are contiguous, and the strided writes stay inside the
  // panel (at most k * 256 bytes), which sits in cache.
  for (int64_t p = panel_begin; p < panel_end; ++p) {
    float* panel = packed + p * k * kPanelWidth;
    for (int64_t c = 0; c < kPanelWidth; ++c) {
      const int64_t j = p * kPanelWidth + c;
      const float* row = j < n ? w + j * ldw : nullptr;
      for (int64_t i = 0; i < k; ++i) panel[i * kPanelWidth + c] = row ? row[i] : 0.0f;
    }
  }
}

void UnpackRowCpu(const float* packed, int64_t k, int64_t j, float* out) {
  const float* column = packed + (j / kPanelWidth) * k * kPanelWidth + j % kPanelWidth;
  for (int64_t i = 0; i < k; ++i) out[i] = column[i * kPanelWidth];
}

void PackedGemmCpu(const PackedGemmArgs& args, int64_t panel_begin, int64_t panel_end,
                   int64_t row_begin, int64_t row_end) {
  panel_end = std::min(panel_end, PackedPanels(args.n));
  row_end = std::min(row_end, args.m);
  if (panel_begin >= panel_end || row_begin >= row_end) return;
  if (HasAvx512()) {
    packed_gemm_detail::GemmAvx512(args, panel_begin, panel_end, row_begin, row_end);
  } else {
    packed_gemm_detail::GemmAvx2(args, panel_begin, panel_end, row_begin, row_end);
  }
}

const char* PackedGemmIsa() { return HasAvx512() ? "avx512" : "avx2"; }

}  // namespace ribbon::kernels
