#include "kernels/cpu/paged_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/fast_exp.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define RIBBON_ATTENTION_AVX2 1
#endif

namespace ribbon::kernels {
namespace {

int32_t SequenceOfRow(const PagedAttentionArgs& a, int32_t row) {
  const int32_t* end = a.cu_seqlens + a.num_seqs + 1;
  return static_cast<int32_t>(std::upper_bound(a.cu_seqlens, end, row) - a.cu_seqlens) - 1;
}

inline float Dot(const float* __restrict x, const float* __restrict y, int32_t n) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int32_t i = 0; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

inline void Axpy(float* __restrict acc, float w, const float* __restrict v, int32_t n) {
#pragma omp simd
  for (int32_t i = 0; i < n; ++i) acc[i] += w * v[i];
}

#ifdef RIBBON_ATTENTION_AVX2
// Scores of the eight keys k + j * stride (j < 8) against q, over hd (a multiple of 8): eight
// product vectors reduced across lanes together (two rounds of hadd and one of 128-bit halves),
// rather than eight separate horizontal sums.
inline __m256 EightScores(const float* q, const float* k, int64_t stride, int32_t hd) {
  __m256 p[8];
  const __m256 q0 = _mm256_loadu_ps(q);
  for (int j = 0; j < 8; ++j) p[j] = _mm256_mul_ps(q0, _mm256_loadu_ps(k + j * stride));
  for (int32_t c = 8; c < hd; c += 8) {
    const __m256 qc = _mm256_loadu_ps(q + c);
    for (int j = 0; j < 8; ++j)
      p[j] = _mm256_fmadd_ps(qc, _mm256_loadu_ps(k + j * stride + c), p[j]);
  }
  const __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(p[0], p[1]), _mm256_hadd_ps(p[2], p[3]));
  const __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(p[4], p[5]), _mm256_hadd_ps(p[6], p[7]));
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// out[g][c, c + 8) = sum over keys of probs[g][t] * v_t[c, c + 8) for G heads, the G sums kept in
// registers over the whole walk of the values.
template <int G, typename Walk>
void EightValueLanes(const float* const* probs, float* const* outs, int32_t c, Walk&& walk) {
  __m256 r[G];
  for (int g = 0; g < G; ++g) r[g] = _mm256_setzero_ps();
  walk([&](int32_t t, const float* v) {
    const __m256 vv = _mm256_loadu_ps(v + c);
    for (int g = 0; g < G; ++g) r[g] = _mm256_fmadd_ps(_mm256_set1_ps(probs[g][t]), vv, r[g]);
  });
  for (int g = 0; g < G; ++g) _mm256_storeu_ps(outs[g] + c, r[g]);
}
#endif

// One query row: the row's scores against every visible key are computed first, for all query
// heads of the group in one walk of the keys, then one softmax per head over the whole context,
// then one walk of the values. Every step of it depends only on this row, its position and its
// sequence's cache.
void AttendOneRow(const PagedAttentionArgs& a, int32_t seq, int32_t row, int32_t kv_head,
                  std::vector<float>& scores, std::vector<float>& acc) {
  const int32_t group = a.num_heads / a.num_kv_heads;
  const int32_t hd = a.head_dim;
  const int64_t token_stride = static_cast<int64_t>(a.num_kv_heads) * hd;
  const int32_t pos = a.positions[row];
  const int32_t first = a.sliding_window > 0 ? std::max(0, pos - a.sliding_window + 1) : 0;
  const int32_t len = pos - first + 1;
  const float* q = a.q + row * a.q_row_stride + static_cast<int64_t>(kv_head) * group * hd;
  if (static_cast<int64_t>(scores.size()) < static_cast<int64_t>(group) * len)
    scores.resize(static_cast<size_t>(group) * len);
  acc.assign(static_cast<size_t>(group) * hd, 0.0f);
  const int32_t* table = a.block_tables + static_cast<int64_t>(seq) * a.max_blocks_per_seq;
  const int64_t head_offset = static_cast<int64_t>(kv_head) * hd;
  // Calls fn(t, offset) for each visible key t = position - first, block by block.
  auto for_each_key = [&](auto&& fn) {
    for (int32_t start = first - first % a.block_size; start <= pos; start += a.block_size) {
      const int64_t base =
          static_cast<int64_t>(table[start / a.block_size]) * a.block_size * token_stride +
          head_offset;
      const int32_t lo = std::max(first, start), hi = std::min(pos, start + a.block_size - 1);
      for (int32_t p = lo; p <= hi; ++p) fn(p - first, base + (p - start) * token_stride);
    }
  };
  // Calls fn(t0, n, offset): keys t0 .. t0 + n - 1 lie `token_stride` apart from `offset`.
  auto for_each_run = [&](auto&& fn) {
    for (int32_t start = first - first % a.block_size; start <= pos; start += a.block_size) {
      const int64_t base =
          static_cast<int64_t>(table[start / a.block_size]) * a.block_size * token_stride +
          head_offset;
      const int32_t lo = std::max(first, start), hi = std::min(pos, start + a.block_size - 1);
      fn(lo - first, hi - lo + 1, base + (lo - start) * token_stride);
    }
  };
  for_each_run([&](int32_t t0, int32_t n, int64_t offset) {
    const float* k = a.k_cache + offset;
    int32_t j = 0;
#ifdef RIBBON_ATTENTION_AVX2
    if (hd % 8 == 0) {
      const __m256 scale = _mm256_set1_ps(a.scale);
      for (; j + 8 <= n; j += 8) {
        for (int32_t g = 0; g < group; ++g) {
          _mm256_storeu_ps(
              scores.data() + static_cast<size_t>(g) * len + t0 + j,
              _mm256_mul_ps(EightScores(q + g * hd, k + j * token_stride, token_stride, hd),
                            scale));
        }
      }
    }
#endif
    for (; j < n; ++j) {
      for (int32_t g = 0; g < group; ++g) {
        scores[static_cast<size_t>(g) * len + t0 + j] =
            Dot(q + g * hd, k + j * token_stride, hd) * a.scale;
      }
    }
  });
  float denom[kMaxQueryGroup];
  for (int32_t g = 0; g < group; ++g) {
    float* s = scores.data() + static_cast<size_t>(g) * len;
    float max = -std::numeric_limits<float>::infinity();
    for (int32_t t = 0; t < len; ++t) max = std::max(max, s[t]);
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int32_t t = 0; t < len; ++t) {
      s[t] = ExpNonPositive(s[t] - max);
      sum += s[t];
    }
    denom[g] = sum;
  }
  float* out = a.out + static_cast<int64_t>(row) * a.num_heads * hd + head_offset * group;
#ifdef RIBBON_ATTENTION_AVX2
  if (hd % 8 == 0) {
    auto walk = [&](auto&& fn) {
      for_each_key([&](int32_t t, int64_t offset) { fn(t, a.v_cache + offset); });
    };
    for (int32_t g0 = 0; g0 < group; g0 += 4) {
      const float* probs[4];
      float* outs[4];
      const int32_t heads = std::min(4, group - g0);
      for (int32_t g = 0; g < heads; ++g) {
        probs[g] = scores.data() + static_cast<size_t>(g0 + g) * len;
        outs[g] = out + (g0 + g) * hd;
      }
      for (int32_t c = 0; c < hd; c += 8) {
        switch (heads) {
          case 1:
            EightValueLanes<1>(probs, outs, c, walk);
            break;
          case 2:
            EightValueLanes<2>(probs, outs, c, walk);
            break;
          case 3:
            EightValueLanes<3>(probs, outs, c, walk);
            break;
          default:
            EightValueLanes<4>(probs, outs, c, walk);
            break;
        }
      }
    }
    for (int32_t g = 0; g < group; ++g) {
      const float inv = 1.0f / denom[g];
      for (int32_t d = 0; d < hd; ++d) out[g * hd + d] *= inv;
    }
    return;
  }
#endif
  for_each_key([&](int32_t t, int64_t offset) {
    const float* v = a.v_cache + offset;
    for (int32_t g = 0; g < group; ++g)
      Axpy(acc.data() + g * hd, scores[static_cast<size_t>(g) * len + t], v, hd);
  });
  for (int32_t g = 0; g < group; ++g) {
    const float inv = 1.0f / denom[g];
    for (int32_t d = 0; d < hd; ++d) out[g * hd + d] = acc[g * hd + d] * inv;
  }
}

}  // namespace

int64_t PagedAttentionWorkItems(const PagedAttentionArgs& args) {
  return static_cast<int64_t>(args.cu_seqlens[args.num_seqs]) * args.num_kv_heads;
}

void PagedAttentionCpu(const PagedAttentionArgs& args, int64_t begin, int64_t end) {
  thread_local std::vector<float> scores, acc;
  const int32_t real_rows = args.cu_seqlens[args.num_seqs];
  for (int64_t item = begin; item < end; ++item) {
    // Rows in zigzag order (0, last, 1, last - 1, ...): a contiguous share of items then holds
    // short and long causal rows alike, so threads given equal shares get equal work.
    const int32_t k = static_cast<int32_t>(item / args.num_kv_heads);
    const int32_t row = k % 2 == 0 ? k / 2 : real_rows - 1 - k / 2;
    const int32_t kv_head = static_cast<int32_t>(item % args.num_kv_heads);
    AttendOneRow(args, SequenceOfRow(args, row), row, kv_head, scores, acc);
  }
}

}  // namespace ribbon::kernels
