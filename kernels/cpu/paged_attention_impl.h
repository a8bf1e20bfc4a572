// Internal to kernels/cpu/paged_attention*.cpp: the body of PagedAttentionCpu (paged_attention.h
// states its contract), compiled once per instruction set, each copy inside its own namespace
// (RIBBON_ATTENTION_NS, set by the including file) so the copies never meet at link time:
// paged_attention_avx2.cpp for x86-64-v3 and paged_attention_avx512.cpp with AVX-512, which
// also takes the 16-lane walks of paged_attention_avx512_lanes.h. paged_attention.cpp picks one
// at run time.
//
// The two builds read the cache the same way and give the same values walk bit for bit (each
// output lane is one chain over the keys in order); their scores differ in the order of each dot
// product's sum, so a row's outputs may differ between machines in the last bits, never between
// runs, rows or steps on one machine.
#ifndef RIBBON_ATTENTION_NS
#error "define RIBBON_ATTENTION_NS before including paged_attention_impl.h"
#endif

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/fast_exp.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/paged_attention.h"
#include "kernels/cpu/paged_attention_isa.h"

#if defined(__AVX512F__) && defined(__AVX512VL__)
#include "kernels/cpu/paged_attention_avx512_lanes.h"
#define RIBBON_ATTENTION_AVX512 1
#endif
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define RIBBON_ATTENTION_AVX2 1
#endif

namespace ribbon::kernels::RIBBON_ATTENTION_NS {
namespace {

int32_t SequenceOfRow(const PagedAttentionArgs& a, int32_t row) {
  const int32_t* end = a.cu_seqlens + a.num_seqs + 1;
  return static_cast<int32_t>(std::upper_bound(a.cu_seqlens, end, row) - a.cu_seqlens) - 1;
}

// A cache element as float32: itself, or a float16's exact value.
inline float Widen(float x) { return x; }
inline float Widen(uint16_t half) { return HalfBitsToFloat(half); }

inline float Dot(const float* __restrict x, const float* __restrict y, int32_t n) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int32_t i = 0; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

// Widened first, then the float32 Dot: a reduction's order is the compiler's choice per loop,
// so a loop of its own over float16 could sum in another order than the float32 one.
inline float Dot(const float* __restrict x, const uint16_t* __restrict y, int32_t n) {
  float wide[kMaxHeadDim];
  for (int32_t i = 0; i < n; ++i) wide[i] = HalfBitsToFloat(y[i]);
  return Dot(x, wide, n);
}

template <typename E>
inline void Axpy(float* __restrict acc, float w, const E* __restrict v, int32_t n) {
#pragma omp simd
  for (int32_t i = 0; i < n; ++i) acc[i] += w * Widen(v[i]);
}

// Asks for every cache line of `n` rows of `hd` floats, `stride` apart, to be brought towards the
// core (L2). The loads that follow then find their lines arriving together rather than waiting
// on memory one strided row at a time.
template <typename E>
inline void PrefetchRows(const E* base, int32_t n, int64_t stride, int32_t hd) {
  constexpr int32_t kLineElements = 64 / sizeof(E);
  for (int32_t j = 0; j < n; ++j) {
    for (int32_t c = 0; c < hd; c += kLineElements) __builtin_prefetch(base + j * stride + c, 0, 2);
  }
}

#ifdef RIBBON_ATTENTION_AVX2
// Eight cache elements as float32 lanes (float16 widened exactly by F16C, part of x86-64-v3).
inline __m256 Load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 Load8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Scores of the eight keys k + j * stride (j < 8) against q, over hd (a multiple of 8): eight
// product vectors reduced across lanes together (two rounds of hadd and one of 128-bit halves),
// rather than eight separate horizontal sums.
template <typename E>
inline __m256 EightScores(const float* q, const E* k, int64_t stride, int32_t hd) {
  __m256 p[8];
  const __m256 q0 = _mm256_loadu_ps(q);
  for (int j = 0; j < 8; ++j) p[j] = _mm256_mul_ps(q0, Load8(k + j * stride));
  for (int32_t c = 8; c < hd; c += 8) {
    const __m256 qc = _mm256_loadu_ps(q + c);
    for (int j = 0; j < 8; ++j) p[j] = _mm256_fmadd_ps(qc, Load8(k + j * stride + c), p[j]);
  }
  const __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(p[0], p[1]), _mm256_hadd_ps(p[2], p[3]));
  const __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(p[4], p[5]), _mm256_hadd_ps(p[6], p[7]));
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// out[g][c, c + 8W) += probs[g][t] * v_t[c, c + 8W) for G heads over the keys of one walk, in
// key order, the G x W sums kept in registers for the walk and in `outs` between walks: a sum
// paused at the end of a walk goes to memory as a float and comes back unchanged, so the
// walks over a row's runs of keys add up to the one chain over all its keys. Each lane's sum
// runs over the keys in order whatever W is, so W changes only how many of a value row's cache
// lines one walk brings in together, never the result.
template <int G, int W, typename Walk>
void ValueLanes(const float* const* probs, float* const* outs, int32_t c, Walk&& walk) {
  __m256 r[G][W];
  for (int g = 0; g < G; ++g)
    for (int w = 0; w < W; ++w) r[g][w] = _mm256_loadu_ps(outs[g] + c + 8 * w);
  walk([&](int32_t t, const auto* v) {
    __m256 p[G];
    for (int g = 0; g < G; ++g) p[g] = _mm256_set1_ps(probs[g][t]);
    for (int w = 0; w < W; ++w) {
      const __m256 vv = Load8(v + c + 8 * w);
      for (int g = 0; g < G; ++g) r[g][w] = _mm256_fmadd_ps(p[g], vv, r[g][w]);
    }
  });
  for (int g = 0; g < G; ++g)
    for (int w = 0; w < W; ++w) _mm256_storeu_ps(outs[g] + c + 8 * w, r[g][w]);
}

// ValueLanes over all of [0, hd) for G heads: as wide a W as the 16 registers allow.
template <int G, typename Walk>
void AllValueLanes(const float* const* probs, float* const* outs, int32_t hd, Walk&& walk) {
  constexpr int kWide = G <= 3 ? 4 : 2;  // G x W sums + G weights + 1 value <= 16 registers
  int32_t c = 0;
  for (; c + 8 * kWide <= hd; c += 8 * kWide) ValueLanes<G, kWide>(probs, outs, c, walk);
  for (; c < hd; c += 8) ValueLanes<G, 1>(probs, outs, c, walk);
}
#endif

// Keys t0 .. t0 + n - 1 of a row, `token_stride` floats apart from `offset` (the start of key
// t0's row of the cache, head 0): the part of one block the row sees.
struct KeyRun {
  int32_t t0 = 0, n = 0;
  int64_t offset = 0;
};

// Where one row's visible keys lie: key t = position - first of its sequence, block by block.
struct RowKeys {
  const int32_t* table = nullptr;  // the sequence's block table
  int32_t first = 0, pos = 0, len = 0, block_size = 0;
  int64_t token_stride = 0;  // floats from one token's row of the cache to the next

  // Calls fn(run) for each run of keys, in order.
  template <typename Fn>
  void ForEachRun(Fn&& fn) const {
    for (KeyRun run = RunAt(first); run.n > 0; run = RunAt(run.t0 + first + run.n)) fn(run);
  }
  // Calls fn(t, offset) for each key of `run`. `ahead` (may be null): the walk reads `floats`
  // floats at ahead + offset for each key, and those rows are asked for kPrefetchKeys keys
  // before the walk reaches them (within the run), so a few rows' lines are on their way at a
  // time; asking for a whole block's at once stalled on the full miss queue instead, and so did
  // asking for the next run's (or, in the score walk, for any keys at all: the hardware
  // prefetcher streams a walk over whole rows better).
  template <typename Fn, typename E>
  void ForEachKeyOfRun(const KeyRun& run, Fn&& fn, const E* ahead, int32_t floats) const {
    constexpr int32_t kPrefetchKeys = 4;
    if (ahead != nullptr) {
      PrefetchRows(ahead + run.offset, std::min(run.n, kPrefetchKeys), token_stride, floats);
    }
    for (int32_t j = 0; j < run.n; ++j) {
      if (ahead != nullptr && j + kPrefetchKeys < run.n) {
        PrefetchRows(ahead + run.offset + (j + kPrefetchKeys) * token_stride, 1, token_stride,
                     floats);
      }
      fn(run.t0 + j, run.offset + j * token_stride);
    }
  }

 private:
  // The run from position `start` (the window's first key, or a block's first position) to the
  // end of its block or pos; empty past pos.
  KeyRun RunAt(int32_t start) const {
    if (start > pos) return {};
    const int32_t block_start = start - start % block_size;
    const int64_t base =
        static_cast<int64_t>(table[block_start / block_size]) * block_size * token_stride;
    const int32_t lo = std::max(first, start), hi = std::min(pos, block_start + block_size - 1);
    return {lo - first, hi - lo + 1, base + (lo - block_start) * token_stride};
  }
};

// scores[h * len + t] = scale * q_h . k_t for the row's `heads` query heads (consecutive, from
// KV head kv0 on), in one walk of the keys: each run of keys is read for all the item's KV heads
// together, so the walk moves through whole token rows of the cache rather than striding over
// them once per KV head.
template <typename E>
void RowScores(const PagedAttentionArgs& a, const RowKeys& keys, const float* q, int32_t kv0,
               int32_t heads, float* scores) {
  const int32_t group = a.num_heads / a.num_kv_heads;
  const int32_t hd = a.head_dim;
  const int64_t stride = keys.token_stride;
  const int32_t len = keys.len;
  const E* item_keys = static_cast<const E*>(a.k_cache) + static_cast<int64_t>(kv0) * hd;
  keys.ForEachRun([&](const KeyRun& run) {
    const int32_t t0 = run.t0, n = run.n;
    const E* k = item_keys + run.offset;
    int32_t j = 0;
#ifdef RIBBON_ATTENTION_AVX512
    if (hd % 16 == 0) {
      avx512_lanes::RunScores(q, k, stride, n, heads, group, hd, a.scale, scores + t0,
                              static_cast<size_t>(len));
      return;
    }
#endif
#ifdef RIBBON_ATTENTION_AVX2
    if (hd % 8 == 0) {
      const __m256 scale = _mm256_set1_ps(a.scale);
      for (; j + 8 <= n; j += 8) {
        for (int32_t h = 0; h < heads; ++h) {
          _mm256_storeu_ps(
              scores + static_cast<size_t>(h) * len + t0 + j,
              _mm256_mul_ps(EightScores(q + h * hd, k + j * stride + h / group * hd, stride, hd),
                            scale));
        }
      }
    }
#endif
    for (; j < n; ++j) {
      for (int32_t h = 0; h < heads; ++h) {
        scores[static_cast<size_t>(h) * len + t0 + j] =
            Dot(q + h * hd, k + j * stride + h / group * hd, hd) * a.scale;
      }
    }
  });
}

// Each head's scores become exp(score - max) in place; returns their sum in denom[h].
void Softmax(float* scores, int32_t heads, int32_t len, float* denom) {
  for (int32_t h = 0; h < heads; ++h) {
    float* s = scores + static_cast<size_t>(h) * len;
    float max = -std::numeric_limits<float>::infinity();
    // A maximum is the same in any order, so the lanes may take it.
#pragma omp simd reduction(max : max)
    for (int32_t t = 0; t < len; ++t) max = std::max(max, s[t]);
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int32_t t = 0; t < len; ++t) {
      s[t] = ExpNonPositive(s[t] - max);
      sum += s[t];
    }
    denom[h] = sum;
  }
}

// out_h += sum over the keys of `run` (ForEachRun's) of probs_h[t] * v_t, in key
// order, for one KV head's `group` query heads (probs and out point at the first of them), the
// KV head's values at head_offset in each token row. `ahead`, `floats`: what the walk asks for
// as it goes (RowKeys::ForEachKeyOfRun).
template <typename E>
void RunValues(const PagedAttentionArgs& a, const RowKeys& keys, const KeyRun& run,
               int64_t head_offset, const float* probs, float* out, const E* ahead,
               int32_t floats) {
  const int32_t group = a.num_heads / a.num_kv_heads;
  const int32_t hd = a.head_dim;
  const int32_t len = keys.len;
  const E* values = static_cast<const E*>(a.v_cache);
  auto walk = [&](auto&& fn) {
    keys.ForEachKeyOfRun(
        run, [&](int32_t t, int64_t off) { fn(t, values + off + head_offset); }, ahead, floats);
  };
#ifdef RIBBON_ATTENTION_AVX2
  if (hd % 8 == 0) {
    for (int32_t g0 = 0; g0 < group; g0 += 4) {
      const float* p[4];
      float* outs[4];
      const int32_t heads = std::min(4, group - g0);
      for (int32_t g = 0; g < heads; ++g) {
        p[g] = probs + static_cast<size_t>(g0 + g) * len;
        outs[g] = out + (g0 + g) * hd;
      }
      // G heads' value sums 16 lanes wide where the build and head_dim allow, else 8.
      const auto lanes = [&]<int G>() {
#ifdef RIBBON_ATTENTION_AVX512
        if (hd % 16 == 0) return avx512_lanes::AllValueLanes<G>(p, outs, hd, walk);
#endif
        AllValueLanes<G>(p, outs, hd, walk);
      };
      switch (heads) {
        case 1:
          lanes.template operator()<1>();
          break;
        case 2:
          lanes.template operator()<2>();
          break;
        case 3:
          lanes.template operator()<3>();
          break;
        default:
          lanes.template operator()<4>();
          break;
      }
    }
    return;
  }
#endif
  walk([&](int32_t t, const E* v) {
    for (int32_t g = 0; g < group; ++g)
      Axpy(out + g * hd, probs[static_cast<size_t>(g) * len + t], v, hd);
  });
}

// out_h = sum over the visible keys of probs_h[t] * v_t / denom[h] for the item's query heads
// (those of KV heads [kv0, kv0 + kv_count); probs as RowScores wrote them), run by run: a run's
// value rows are read for every KV head of the item while they are in L1 (the first head's walk
// asks for the whole rows), so the cache is read in whole token rows, in order, rather than
// once per KV head at a stride (which waited on memory for most of a batch-8 decode's value
// walks). Each output lane is still one sum over the keys in order (RunValues), so the result
// does not depend on kv_count.
template <typename E>
void ItemValues(const PagedAttentionArgs& a, const RowKeys& keys, int32_t kv0, int32_t kv_count,
                const float* probs, const float* denom, float* out) {
  const int32_t group = a.num_heads / a.num_kv_heads;
  const int32_t hd = a.head_dim;
  const int32_t heads = kv_count * group;
  std::fill(out, out + static_cast<size_t>(heads) * hd, 0.0f);
  const E* item_values = static_cast<const E*>(a.v_cache) + static_cast<int64_t>(kv0) * hd;
  keys.ForEachRun([&](const KeyRun& run) {
    for (int32_t h = 0; h < kv_count; ++h) {
      const int64_t first_head = static_cast<int64_t>(h) * group;
      RunValues<E>(a, keys, run, static_cast<int64_t>(kv0 + h) * hd, probs + first_head * keys.len,
                   out + first_head * hd, h == 0 ? item_values : nullptr, kv_count * hd);
    }
  });
  for (int32_t g = 0; g < heads; ++g) {
    const float inv = 1.0f / denom[g];
    for (int32_t d = 0; d < hd; ++d) out[g * hd + d] *= inv;
  }
}

// One query row for KV heads [kv0, kv0 + kv_count): the scores of their query heads against
// every visible key in one walk of the keys, one softmax per head over the whole context, then
// one walk of the values (every KV head of the item per run of keys). Every step of a head's
// computation depends only on this row, its position and its sequence's cache, never on how many KV
// heads the item covers.
template <typename E>
void AttendRow(const PagedAttentionArgs& a, int32_t seq, int32_t row, int32_t kv0, int32_t kv_count,
               std::vector<float>& scores) {
  const int32_t group = a.num_heads / a.num_kv_heads;
  const int32_t hd = a.head_dim;
  const int32_t heads = kv_count * group;
  RowKeys keys;
  keys.table = a.block_tables + static_cast<int64_t>(seq) * a.max_blocks_per_seq;
  keys.pos = a.positions[row];
  keys.first = a.sliding_window > 0 ? std::max(0, keys.pos - a.sliding_window + 1) : 0;
  keys.len = keys.pos - keys.first + 1;
  keys.block_size = a.block_size;
  keys.token_stride = static_cast<int64_t>(a.num_kv_heads) * hd;
  const size_t score_floats = static_cast<size_t>(heads) * keys.len;
  if (scores.size() < score_floats + heads) scores.resize(score_floats + heads);
  float* denom = scores.data() + score_floats;
  const float* q = a.q + row * a.q_row_stride + static_cast<int64_t>(kv0) * group * hd;
  RowScores<E>(a, keys, q, kv0, heads, scores.data());
  Softmax(scores.data(), heads, keys.len, denom);
  float* out =
      a.out + static_cast<int64_t>(row) * a.num_heads * hd + static_cast<int64_t>(kv0) * group * hd;
  ItemValues<E>(a, keys, kv0, kv_count, scores.data(), denom, out);
}

}  // namespace

void Run(const PagedAttentionArgs& args, int64_t begin, int64_t end) {
  thread_local std::vector<float> scores;
  const int32_t real_rows = args.cu_seqlens[args.num_seqs];
  const int32_t per_item = attention_isa::KvHeadsPerItem(args);
  const int32_t items_per_row = args.num_kv_heads / per_item;
  for (int64_t item = begin; item < end; ++item) {
    // Rows in zigzag order (0, last, 1, last - 1, ...): a contiguous share of items then holds
    // short and long causal rows alike, so threads given equal shares get equal work.
    const int32_t k = static_cast<int32_t>(item / items_per_row);
    const int32_t row = k % 2 == 0 ? k / 2 : real_rows - 1 - k / 2;
    const int32_t kv0 = static_cast<int32_t>(item % items_per_row) * per_item;
    if (args.kv_dtype == KvDtype::kFloat16) {
      AttendRow<uint16_t>(args, SequenceOfRow(args, row), row, kv0, per_item, scores);
    } else {
      AttendRow<float>(args, SequenceOfRow(args, row), row, kv0, per_item, scores);
    }
  }
}

}  // namespace ribbon::kernels::RIBBON_ATTENTION_NS
