#include "kernels/cpu/small_gemm.h"

#include <algorithm>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace ribbon::kernels {
namespace {

constexpr int64_t kLanes = 8;

#if defined(__AVX2__) && defined(__FMA__)
using Vec = __m256;
inline Vec Zero() { return _mm256_setzero_ps(); }
inline Vec Load(const float* p) { return _mm256_loadu_ps(p); }
inline Vec Fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
// Lanes summed as ((l0+l4) + (l2+l6)) + ((l1+l5) + (l3+l7)); the fallback below matches it.
inline float Sum(Vec v) {
  __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}
#else
struct Vec {
  float l[kLanes];
};
inline Vec Zero() { return Vec{}; }
inline Vec Load(const float* p) {
  Vec v;
  std::copy_n(p, kLanes, v.l);
  return v;
}
inline Vec Fma(Vec a, Vec b, Vec c) {
  for (int64_t i = 0; i < kLanes; ++i) c.l[i] = a.l[i] * b.l[i] + c.l[i];
  return c;
}
inline float Sum(Vec v) {
  float s4[4];
  for (int i = 0; i < 4; ++i) s4[i] = v.l[i] + v.l[i + 4];
  return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}
#endif

// R rows by C columns; R * C accumulators plus C weight vectors stay in the 16 vector registers.
template <int R, int C>
void Tile(const SmallGemmArgs& g, int64_t row0, int64_t col0) {
  Vec acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc[r][c] = Zero();
  }
  const float* a[R];
  const float* w[C];
  for (int r = 0; r < R; ++r) a[r] = g.a + (row0 + r) * g.lda;
  for (int c = 0; c < C; ++c) w[c] = g.w + (col0 + c) * g.ldw;
  const int64_t body = g.k - g.k % kLanes;
  for (int64_t i = 0; i < body; i += kLanes) {
    Vec wv[C];
    for (int c = 0; c < C; ++c) wv[c] = Load(w[c] + i);
    for (int r = 0; r < R; ++r) {
      const Vec av = Load(a[r] + i);
      for (int c = 0; c < C; ++c) acc[r][c] = Fma(av, wv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r) {
    float* out = g.out + (row0 + r) * g.ldo + col0;
    for (int c = 0; c < C; ++c) {
      float s = Sum(acc[r][c]);
      for (int64_t i = body; i < g.k; ++i) s += a[r][i] * w[c][i];
      out[c] = g.accumulate ? out[c] + s : s;
    }
  }
}

// All rows of the call against columns [col0, col0 + C): four rows at a time, then the rest.
template <int C>
void Rows(const SmallGemmArgs& g, int64_t col0) {
  int64_t r = 0;
  for (; r + 4 <= g.m; r += 4) Tile<4, C>(g, r, col0);
  switch (g.m - r) {
    case 3:
      Tile<3, C>(g, r, col0);
      break;
    case 2:
      Tile<2, C>(g, r, col0);
      break;
    case 1:
      Tile<1, C>(g, r, col0);
      break;
    default:
      break;
  }
}

}  // namespace

void SmallGemmCpu(const SmallGemmArgs& args, int64_t col_begin, int64_t col_end) {
  col_end = std::min(col_end, args.n);
  int64_t j = col_begin;
  if (args.m == 1) {
    // One row: eight weight rows streamed at once keep enough loads in flight.
    for (; j + 8 <= col_end; j += 8) Tile<1, 8>(args, 0, j);
  } else if (args.m < 4) {
    for (; j + 4 <= col_end; j += 4) Rows<4>(args, j);
  } else {
    for (; j + 3 <= col_end; j += 3) Rows<3>(args, j);
  }
  for (; j < col_end; ++j) Rows<1>(args, j);
}

}  // namespace ribbon::kernels
