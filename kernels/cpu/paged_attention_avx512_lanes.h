// Internal to the AVX-512 build of the CPU paged attention (paged_attention_impl.h): a run of keys'
// scores and values walked 16 lanes wide, each key's row of the cache read once for all the query
// heads of its KV head. Against the 8-lane walks this halves the instructions per key and loads
// (and widens) each row once instead of once per query head: llama-100m, batch-8 decode over
// 128-160 keys, float16 cache, 2 threads, Intel Xeon (2026-12-05): the step's attention 13 %
// faster (59-61 against 67-71 ms over 33 steps, one binary switching builds), decode +2-3 %.
//
// Requires AVX-512F and AVX-512VL (the masked 8-lane stores). GCC 12 warns that the plain forms
// of several AVX-512 intrinsics read an uninitialised vector (GCC bug 105593); their zero-masked
// forms with a full mask are the same instructions and do not.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace ribbon::kernels::avx512_lanes {

constexpr __mmask16 kAll = 0xFFFF;

inline __m512 Load16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 Load16(const uint16_t* p) {  // 16 float16 widened exactly
  return _mm512_maskz_cvtph_ps(kAll, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// The sums of p[0] .. p[7]'s 16 lanes, as 8 lanes. Every vector is summed by the same tree (in
// each 128-bit quarter (e0 + e2) + (e1 + e3), then (q0 + q1) + (q2 + q3)), so a key's score does
// not depend on which of the 8 places it took.
inline __m256 SumEight(const __m512* p) {
  const auto pair = [](__m512 a, __m512 b) {
    return _mm512_add_ps(_mm512_maskz_unpacklo_ps(kAll, a, b),
                         _mm512_maskz_unpackhi_ps(kAll, a, b));
  };
  const auto quad = [](__m512 a, __m512 b) {
    const __m512d x = _mm512_castps_pd(a), y = _mm512_castps_pd(b);
    return _mm512_add_ps(_mm512_castpd_ps(_mm512_maskz_unpacklo_pd(0xFF, x, y)),
                         _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(0xFF, x, y)));
  };
  // u0's quarter i holds p[0..3]'s partial sums over quarter i; u1's, p[4..7]'s.
  const __m512 u0 = quad(pair(p[0], p[1]), pair(p[2], p[3]));
  const __m512 u1 = quad(pair(p[4], p[5]), pair(p[6], p[7]));
  const __m512 w = _mm512_add_ps(_mm512_maskz_shuffle_f32x4(kAll, u0, u1, _MM_SHUFFLE(2, 0, 2, 0)),
                                 _mm512_maskz_shuffle_f32x4(kAll, u0, u1, _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512 r = _mm512_add_ps(_mm512_maskz_shuffle_f32x4(kAll, w, w, _MM_SHUFFLE(0, 0, 2, 0)),
                                 _mm512_maskz_shuffle_f32x4(kAll, w, w, _MM_SHUFFLE(0, 0, 3, 1)));
  return _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xF, _mm512_castps_pd(r), 0));
}

// scale * q_g . k_j for G query heads (q + g * hd) and 8 keys (rows k[j]; hd a multiple of 16):
// each key's row read once for all G heads; the first n scores of head g go to out[g].
template <int G, typename E>
inline void EightKeyScores(const float* q, const E* const* k, int32_t hd, float scale,
                           float* const* out, int n) {
  __m512 p[G][8];
  for (int g = 0; g < G; ++g)
    for (int j = 0; j < 8; ++j) p[g][j] = _mm512_setzero_ps();
  for (int32_t c = 0; c < hd; c += 16) {
    for (int j = 0; j < 8; ++j) {
      const __m512 kc = Load16(k[j] + c);
      for (int g = 0; g < G; ++g) {
        p[g][j] = _mm512_fmadd_ps(_mm512_loadu_ps(q + g * hd + c), kc, p[g][j]);
      }
    }
  }
  const __mmask8 first_n = static_cast<__mmask8>((1u << n) - 1);
  const __m256 s = _mm256_set1_ps(scale);
  for (int g = 0; g < G; ++g) {
    _mm256_mask_storeu_ps(out[g], first_n, _mm256_mul_ps(SumEight(p[g]), s));
  }
}

// out[h * head_stride + j] = scale * q_h . k_j for the `heads` query heads of q (hd apart; head h
// uses KV head h / group, hd further along each key's row) and the n keys k + j * stride, 8 keys
// and up to 3 query heads of one KV head at a time (24 sums in registers). A last group of fewer
// than 8 keys repeats its last key's row in the spare places and stores only its own scores.
template <typename E>
void RunScores(const float* q, const E* k, int64_t stride, int32_t n, int32_t heads, int32_t group,
               int32_t hd, float scale, float* out, size_t head_stride) {
  for (int32_t j = 0; j < n; j += 8) {
    const int m = std::min(8, n - j);
    for (int32_t h0 = 0; h0 < heads; h0 += std::min(3, group - h0 % group)) {
      const int g_count = std::min(3, group - h0 % group);
      const E* rows[8];
      for (int i = 0; i < 8; ++i) {
        rows[i] = k + static_cast<int64_t>(j + std::min(i, m - 1)) * stride + h0 / group * hd;
      }
      float* outs[3];
      for (int g = 0; g < g_count; ++g) outs[g] = out + (h0 + g) * head_stride + j;
      const float* qh = q + static_cast<int64_t>(h0) * hd;
      if (g_count == 3) {
        EightKeyScores<3>(qh, rows, hd, scale, outs, m);
      } else if (g_count == 2) {
        EightKeyScores<2>(qh, rows, hd, scale, outs, m);
      } else {
        EightKeyScores<1>(qh, rows, hd, scale, outs, m);
      }
    }
  }
}

// outs[g][c, c + 16W) += probs[g][t] * v_t[c, c + 16W) for G heads over the keys of one walk, in
// key order, the sums paused in `outs` between walks: the same chain per lane as the 8-lane walk.
template <int G, int W, typename Walk>
void ValueLanes(const float* const* probs, float* const* outs, int32_t c, Walk&& walk) {
  __m512 r[G][W];
  for (int g = 0; g < G; ++g)
    for (int w = 0; w < W; ++w) r[g][w] = _mm512_loadu_ps(outs[g] + c + 16 * w);
  walk([&](int32_t t, const auto* v) {
    __m512 p[G];
    for (int g = 0; g < G; ++g) p[g] = _mm512_set1_ps(probs[g][t]);
    for (int w = 0; w < W; ++w) {
      const __m512 vv = Load16(v + c + 16 * w);
      for (int g = 0; g < G; ++g) r[g][w] = _mm512_fmadd_ps(p[g], vv, r[g][w]);
    }
  });
  for (int g = 0; g < G; ++g)
    for (int w = 0; w < W; ++w) _mm512_storeu_ps(outs[g] + c + 16 * w, r[g][w]);
}

// ValueLanes over all of [0, hd) for G heads: as wide a W as 32 registers allow.
template <int G, typename Walk>
void AllValueLanes(const float* const* probs, float* const* outs, int32_t hd, Walk&& walk) {
  int32_t c = 0;
  if constexpr (G <= 3) {  // 8 G sums + G weights + 1 value row part
    for (; c + 128 <= hd; c += 128) avx512_lanes::ValueLanes<G, 8>(probs, outs, c, walk);
  }
  for (; c + 64 <= hd; c += 64) avx512_lanes::ValueLanes<G, 4>(probs, outs, c, walk);
  for (; c < hd; c += 16) avx512_lanes::ValueLanes<G, 1>(probs, outs, c, walk);
}

}  // namespace ribbon::kernels::avx512_lanes
