#include "kernels/cpu/packed_gemm.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu/packed_gemm_tile.h"

namespace ribbon::kernels {
namespace {

bool HasAvx512() {
  static const bool has = __builtin_cpu_supports("avx512f");
  return has;
}

}  // namespace

int64_t PackedElementBytes(PackedDtype dtype) { return dtype == PackedDtype::kBFloat16 ? 2 : 4; }

int64_t PackedPanels(int64_t n) { return (n + kPanelWidth - 1) / kPanelWidth; }

int64_t PackedWeightElements(int64_t n, int64_t k) { return PackedPanels(n) * k * kPanelWidth; }

uint16_t FloatToBf16Bits(float x) {
  if (std::isnan(x)) return 0x7FC0;
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  const uint32_t rounding = 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

float Bf16BitsToFloat(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float x;
  std::memcpy(&x, &wide, sizeof(x));
  return x;
}

namespace {

template <class W, class Convert>
void PackPanels(const float* w, int64_t ldw, int64_t n, int64_t k, W* packed, int64_t panel_begin,
                int64_t panel_end, Convert convert) {
  // Row by row within a panel: the reads are contiguous, and the strided writes stay inside the
  // panel (at most k * 256 bytes), which sits in cache.
  for (int64_t p = panel_begin; p < panel_end; ++p) {
    W* panel = packed + p * k * kPanelWidth;
    for (int64_t c = 0; c < kPanelWidth; ++c) {
      const int64_t j = p * kPanelWidth + c;
      const float* row = j < n ? w + j * ldw : nullptr;
      for (int64_t i = 0; i < k; ++i) panel[i * kPanelWidth + c] = convert(row ? row[i] : 0.0f);
    }
  }
}

}  // namespace

void PackWeightCpu(const float* w, int64_t ldw, int64_t n, int64_t k, void* packed,
                   PackedDtype dtype, int64_t panel_begin, int64_t panel_end) {
  if (dtype == PackedDtype::kBFloat16) {
    PackPanels(w, ldw, n, k, static_cast<uint16_t*>(packed), panel_begin, panel_end,
               FloatToBf16Bits);
  } else {
    PackPanels(w, ldw, n, k, static_cast<float*>(packed), panel_begin, panel_end,
               [](float x) { return x; });
  }
}

void UnpackRowCpu(const void* packed, PackedDtype dtype, int64_t k, int64_t j, float* out) {
  const int64_t first = (j / kPanelWidth) * k * kPanelWidth + j % kPanelWidth;
  if (dtype == PackedDtype::kBFloat16) {
    const uint16_t* column = static_cast<const uint16_t*>(packed) + first;
    for (int64_t i = 0; i < k; ++i) out[i] = Bf16BitsToFloat(column[i * kPanelWidth]);
  } else {
    const float* column = static_cast<const float*>(packed) + first;
    for (int64_t i = 0; i < k; ++i) out[i] = column[i * kPanelWidth];
  }
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
