// Internal to kernels/cpu/packed_gemm*.cpp: the register tile of PackedGemmCpu, written once over
// a vector type and compiled once per instruction set (packed_gemm_avx512.cpp with AVX-512,
// packed_gemm_avx2.cpp with AVX2), each inside its own namespace so the two copies never meet
// at link time. The dispatcher (packed_gemm.cpp) picks one at run time.
//
// Every output is one fused multiply-add chain over k in order (packed_gemm.h's contract): the
// tile only decides how many chains run side by side, never the order within one, so the vector
// width, the tile shape, the row range and the k blocking cannot change a result (a chain paused
// at a block boundary goes to memory as a float and comes back unchanged).
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/packed_gemm.h"

namespace ribbon::kernels::packed_gemm_detail {

// How far ahead (panel rows) a lone multi-row tile asks for its weights. A tile of several rows
// runs each panel row through R x C fused multiply-adds, long enough for the hardware prefetcher
// to fall behind: llama-100m decode, 2 threads, Intel Xeon (2026-12-05), batch 8 +24 %. A
// one-row tile streams faster without it (batch 1 -17 % with it), so it has none.
constexpr int64_t kPrefetchRows = 16;
constexpr int kCacheLineBytes = 64;

// More rows than one tile holds, up to kGroupRows (a batch of decodes), are run k block by k
// block (kBlockSteps panel rows, 16 KiB of float32 weights), every tile over one block before the
// next: the block comes from memory once and every tile finds it in cache. While the tiles
// compute, they ask for the next block, spread evenly over their steps, so the memory keeps
// streaming during the arithmetic instead of waiting for a first tile to miss (llama-100m-shaped
// GEMMs, 2 threads, Intel Xeon: 8 rows -18 %, 32 rows -26 % time). The paused chains ([rows][64]
// floats, at most 12 KiB) stay in L1 between blocks. More rows (a prefill's chunk) use each
// weight so often that memory is not their limit: they run whole-k tiles, as blocking cost them
// 14 % (the chains' trips to L1 and the bookkeeping of the requests).
// Block sizes of 32, 64 and 128 steps measured the same; the next block goes to L2 (prefetcht1:
// a 16 KiB block beside the current one and the paused chains would crowd L1), a few per cent
// faster than to L1.
constexpr int64_t kBlockSteps = 64;
constexpr int64_t kGroupRows = 48;
constexpr int kNextBlockLocality = 2;

// What one tile covers: panel rows [k0, k1); `partial` holds the rows' paused chains (row
// stride kPanelWidth, this tile's first row first), read when k0 > 0 and written when k1 < k;
// `next`/`next_lines`: cache lines of the next block this tile asks for, spread over its steps.
struct TileSpan {
  int64_t k0 = 0;
  int64_t k1 = 0;
  float* partial = nullptr;
  const char* next = nullptr;
  int64_t next_lines = 0;
};

// Rows [row0, row0 + R) against columns [c0, c0 + C * lanes) of one panel of W (float or
// uint16_t bfloat16 bits: V::Load widens either to float32 lanes); `valid` is how many of the
// panel's 64 columns exist (fewer only in the last panel).
template <class V, class W, int R, int C>
inline void Tile(const PackedGemmArgs& g, const W* panel, int64_t col_base, int64_t row0, int c0,
                 int valid, const TileSpan& span) {
  typename V::T acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      acc[r][c] =
          span.k0 == 0 ? V::Zero() : V::Load(span.partial + r * kPanelWidth + c0 + c * V::kLanes);
    }
  }
  const float* a[R];
  for (int r = 0; r < R; ++r) a[r] = g.a + (row0 + r) * g.lda;
  const bool blocked = span.partial != nullptr;
  const int64_t steps = span.k1 - span.k0;
  int64_t owed = 0;  // next-block lines asked for so far, times `steps` (no division per step)
  const char* next = span.next;
  const W* w = panel + span.k0 * kPanelWidth + c0;
  for (int64_t i = span.k0; i < span.k1; ++i, w += kPanelWidth) {
    if (blocked) {
      for (owed += span.next_lines; owed >= steps; owed -= steps, next += kCacheLineBytes) {
        __builtin_prefetch(next, 0, kNextBlockLocality);
      }
    } else if constexpr (R > 1) {
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
  if (span.k1 < g.k) {
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < C; ++c) {
        V::Store(span.partial + r * kPanelWidth + c0 + c * V::kLanes, acc[r][c]);
      }
    }
    return;
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

// A tile of `rows` rows, fewer than RMax (R is the largest it may be), as one tile.
template <class V, class W, int R, int C>
inline void TailRows(const PackedGemmArgs& g, const W* panel, int64_t col_base, int64_t row0,
                     int64_t rows, int c0, int valid, const TileSpan& span) {
  if constexpr (R > 0) {
    if (rows == R) {
      Tile<V, W, R, C>(g, panel, col_base, row0, c0, valid, span);
    } else {
      TailRows<V, W, R - 1, C>(g, panel, col_base, row0, rows, c0, valid, span);
    }
  }
}

// Rows [row_begin, row_end) of one panel over panel rows [k0, k1), in as few tiles of at most
// RMax rows as cover them, of equal size (within one row), each pass of C vectors in turn; the
// tiles share out `next_lines` lines of the next block at `next` in proportion to their rows (their
// time), so the requests stay even.
template <class V, class W, int RMax, int C>
void Rows(const PackedGemmArgs& g, const W* panel, int64_t col_base, int valid, int64_t row_begin,
          int64_t row_end, const TileSpan& span) {
  const int64_t rows = row_end - row_begin;
  const int64_t passes = (valid + C * V::kLanes - 1) / (C * V::kLanes);
  const int64_t total = passes * rows;
  int64_t done = 0;  // rows run so far, over all passes
  // As few tiles as RMax allows, of equal rows (8 rows: 4 + 4, not 6 + 2): llama-100m decode at
  // batch 8, 2 threads, Intel Xeon (2026-12-05), +6 % with the same arithmetic.
  const int64_t tiles = (rows + RMax - 1) / RMax;
  for (int c0 = 0; c0 < valid; c0 += C * V::kLanes) {
    int64_t r = row_begin;
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t tile_rows = rows / tiles + (t < rows % tiles ? 1 : 0);
      TileSpan own = span;
      const int64_t first = span.next_lines * done / total;
      done += tile_rows;
      own.next_lines = span.next_lines * done / total - first;
      own.next += first * kCacheLineBytes;
      if (own.partial) own.partial += (r - row_begin) * kPanelWidth;
      if (tile_rows == RMax) {
        Tile<V, W, RMax, C>(g, panel, col_base, r, c0, valid, own);
      } else {
        TailRows<V, W, RMax - 1, C>(g, panel, col_base, r, tile_rows, c0, valid, own);
      }
      r += tile_rows;
    }
  }
}

// A one-row GEMM (a lone decode) walks kRowStreams panels side by side: every weight is still
// read once, but as that many streams of memory instead of one, which the hardware prefetchers
// serve faster (llama-100m-shaped weights, 2 threads, Intel Xeon, 2026-12-05: 33.4 GB/s against
// 30.2 GB/s mean; 5 and 6 streams measured the same as 4, 8 less).
constexpr int kRowStreams = 4;

// Row `row` against S whole panels from p0 on (each a pass of C vectors covering all 64 columns):
// each output is the same single chain over k as Tile's, S x C of them side by side.
template <class V, class W, int S, int C>
inline void RowPanels(const PackedGemmArgs& g, int64_t p0, int64_t row) {
  static_assert(C * V::kLanes == kPanelWidth);
  typename V::T acc[S][C];
  const W* w[S];
  for (int s = 0; s < S; ++s) {
    w[s] = static_cast<const W*>(g.packed) + (p0 + s) * g.k * kPanelWidth;
    for (int c = 0; c < C; ++c) acc[s][c] = V::Zero();
  }
  const float* a = g.a + row * g.lda;
  for (int64_t i = 0; i < g.k; ++i) {
    const typename V::T av = V::Set1(a[i]);
    for (int s = 0; s < S; ++s) {
      for (int c = 0; c < C; ++c) {
        acc[s][c] = V::Fma(av, V::Load(w[s] + i * kPanelWidth + c * V::kLanes), acc[s][c]);
      }
    }
  }
  float* out = g.out + row * g.ldo + p0 * kPanelWidth;
  for (int s = 0; s < S; ++s) {
    for (int c = 0; c < C; ++c) {
      float* o = out + s * kPanelWidth + c * V::kLanes;
      V::Store(o, g.accumulate ? V::Add(V::Load(o), acc[s][c]) : acc[s][c]);
    }
  }
}

// Row `row` against the whole panels [panel_begin, panel_end), kRowStreams at a time.
template <class V, class W, int C>
void RowOfWholePanels(const PackedGemmArgs& g, int64_t panel_begin, int64_t panel_end,
                      int64_t row) {
  int64_t p = panel_begin;
  for (; p + kRowStreams <= panel_end; p += kRowStreams) {
    RowPanels<V, W, kRowStreams, C>(g, p, row);
  }
  switch (panel_end - p) {
    case 3:
      RowPanels<V, W, 3, C>(g, p, row);
      break;
    case 2:
      RowPanels<V, W, 2, C>(g, p, row);
      break;
    case 1:
      RowPanels<V, W, 1, C>(g, p, row);
      break;
    default:
      break;
  }
}

// Panels [panel_begin, panel_end) x rows [row_begin, row_end). One tile's rows, more than
// kGroupRows rows, or a k of one block run over the whole of k at once; the rest block by block.
template <class V, class W, int RMax, int C>
void GemmOf(const PackedGemmArgs& g, int64_t panel_begin, int64_t panel_end, int64_t row_begin,
            int64_t row_end) {
  static_assert(kRowStreams == 4);  // RowOfWholePanels' remainder cases
  if constexpr (C * V::kLanes == kPanelWidth) {
    if (row_end - row_begin == 1) {
      const int64_t whole_end = std::min(panel_end, g.n / kPanelWidth);
      if (panel_begin < whole_end) {
        RowOfWholePanels<V, W, C>(g, panel_begin, whole_end, row_begin);
        panel_begin = whole_end;  // a last, partial panel (if any) goes the general way
      }
    }
  }
  alignas(64) float partial[kGroupRows * kPanelWidth];
  for (int64_t p = panel_begin; p < panel_end; ++p) {
    const W* panel = static_cast<const W*>(g.packed) + p * g.k * kPanelWidth;
    const int64_t col_base = p * kPanelWidth;
    const int valid = static_cast<int>(std::min<int64_t>(kPanelWidth, g.n - col_base));
    const int64_t rows = row_end - row_begin;
    if (rows <= RMax || rows > kGroupRows || g.k <= kBlockSteps) {
      Rows<V, W, RMax, C>(g, panel, col_base, valid, row_begin, row_end, {0, g.k});
      continue;
    }
    for (int64_t k0 = 0; k0 < g.k; k0 += kBlockSteps) {
      const int64_t k1 = std::min(g.k, k0 + kBlockSteps);
      const int64_t next_steps = std::min(g.k, k1 + kBlockSteps) - k1;
      const char* next = reinterpret_cast<const char*>(panel + k1 * kPanelWidth);
      const int64_t lines =
          next_steps * kPanelWidth * static_cast<int64_t>(sizeof(W)) / kCacheLineBytes;
      Rows<V, W, RMax, C>(g, panel, col_base, valid, row_begin, row_end,
                          {k0, k1, partial, next, lines});
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
