// Internal to kernels/cpu/packed_gemm*.cpp: the register tile of PackedGemmCpu, written once over
// a vector type and compiled once per instruction set (packed_gemm_avx512.cpp with AVX-512,
// packed_gemm_avx2.cpp with AVX2), each inside its own namespace so the two copies never meet
// at link time. The dispatcher (packed_gemm.cpp) picks one at run time.
//
// Every output is one fused multiply-add chain over k in order (packed_gemm.h's contract): the
// tile only decides how many chains run side by side, never the order within one, so the vector
// width, the tile shape and the row range cannot change a result.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/packed_gemm.h"

namespace ribbon::kernels::packed_gemm_detail {

// How far ahead (panel rows) a multi-row tile asks for its weights. A tile of several rows runs
// each panel row through R x C fused multiply-adds, long enough for the hardware prefetcher to
// fall behind: llama-100m decode, 2 threads, Intel Xeon (2026-12-05), batch 8 +24 %, batch 32
// +11 %. A one-row tile streams faster without it (batch 1 -17 % with it), so it has none. The
// distance (4, 16 or 64 rows) made no measurable difference. Prefetching changes no result.
constexpr int64_t kPrefetchRows = 16;
constexpr int kCacheLineBytes = 64;

// Rows [row0, row0 + R) against columns [c0, c0 + C * lanes) of one panel of W (float or
// uint16_t bfloat16 bits: V::Load widens either to float32 lanes); `valid` is how many of the
// panel's 64 columns exist (fewer only in the last panel).
template <class V, class W, int R, int C>
inline void Tile(const PackedGemmArgs& g, const W* panel, int64_t col_base, int64_t row0, int c0,
                 int valid) {
  typename V::T acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc[r][c] = V::Zero();
  }
  const float* a[R];
  for (int r = 0; r < R; ++r) a[r] = g.a + (row0 + r) * g.lda;
  const W* w = panel + c0;
  for (int64_t i = 0; i < g.k; ++i, w += kPanelWidth) {
    if constexpr (R > 1) {
      for (int c = 0; c < C * V::kLanes; c += kCacheLineBytes / static_cast<int>(sizeof(W))) {
        __builtin_prefetch(w + kPrefetchRows * kPanelWidth + c);
      }
    }
    typename V::T wv[C];
    for (int c = 0; c < C; ++c) wv[c] = V::Load(w + c * V::kLanes);
    for (int r = 0; r < R; ++r) {
      const typename V::T av = V::Set1(a[r][i]);
      for (int c = 0; c < C; ++c) acc[r][c] = V::Fma(av, wv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r) {
    float* out = g.out + (row0 + r) * g.ldo + col_base + c0;
    for (int c = 0; c < C; ++c) {
      const int first = c0 + c * V::kLanes;
      float* o = out + c * V::kLanes;
      if (first + V::kLanes <= valid) {
        V::Store(o, g.accumulate ? V::Add(V::Load(o), acc[r][c]) : acc[r][c]);
      } else if (first < valid) {
        alignas(64) float lanes[V::kLanes];
        V::Store(lanes, acc[r][c]);
        for (int l = 0; l < valid - first; ++l) o[l] = g.accumulate ? o[l] + lanes[l] : lanes[l];
      }
    }
  }
}

// The R rows left over after the full tiles of RMax rows (R < RMax), as one tile.
template <class V, class W, int R, int C>
inline void TailRows(const PackedGemmArgs& g, const W* panel, int64_t col_base, int64_t row0,
                     int64_t rows, int c0, int valid) {
  if constexpr (R > 0) {
    if (rows == R) {
      Tile<V, W, R, C>(g, panel, col_base, row0, c0, valid);
    } else {
      TailRows<V, W, R - 1, C>(g, panel, col_base, row0, rows, c0, valid);
    }
  }
}

// Panels [panel_begin, panel_end) x rows [row_begin, row_end): each panel in passes of C vectors
// (one pass with AVX-512, two with AVX2), each pass over the rows RMax at a time, so a panel
// stays in cache while every row of the range goes by.
template <class V, class W, int RMax, int C>
void GemmOf(const PackedGemmArgs& g, int64_t panel_begin, int64_t panel_end, int64_t row_begin,
            int64_t row_end) {
  for (int64_t p = panel_begin; p < panel_end; ++p) {
    const W* panel = static_cast<const W*>(g.packed) + p * g.k * kPanelWidth;
    const int64_t col_base = p * kPanelWidth;
    const int valid = static_cast<int>(std::min<int64_t>(kPanelWidth, g.n - col_base));
    for (int c0 = 0; c0 < valid; c0 += C * V::kLanes) {
      int64_t r = row_begin;
      for (; r + RMax <= row_end; r += RMax) {
        Tile<V, W, RMax, C>(g, panel, col_base, r, c0, valid);
      }
      TailRows<V, W, RMax - 1, C>(g, panel, col_base, r, row_end - r, c0, valid);
    }
  }
}

template <class V, int RMax, int C>
void Gemm(const PackedGemmArgs& g, int64_t panel_begin, int64_t panel_end, int64_t row_begin,
          int64_t row_end) {
  if (g.dtype == PackedDtype::kBFloat16) {
    GemmOf<V, uint16_t, RMax, C>(g, panel_begin, panel_end, row_begin, row_end);
  } else {
    GemmOf<V, float, RMax, C>(g, panel_begin, panel_end, row_begin, row_end);
  }
}

// One per instruction set, defined in packed_gemm_<isa>.cpp.
void GemmAvx512(const PackedGemmArgs& g, int64_t panel_begin, int64_t panel_end, int64_t row_begin,
                int64_t row_end);
void GemmAvx2(const PackedGemmArgs& g, int64_t panel_begin, int64_t panel_end, int64_t row_begin,
              int64_t row_end);

}  // namespace ribbon::kernels::packed_gemm_detail
