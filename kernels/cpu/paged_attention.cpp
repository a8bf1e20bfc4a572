#include "kernels/cpu/paged_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
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

inline void Scale(float* __restrict acc, float s, int32_t n) {
#pragma omp simd
  for (int32_t i = 0; i < n; ++i) acc[i] *= s;
}

// Online-softmax state of a run of up to kRowTile rows of one sequence, for the query heads of
// one KV group. Heap-allocated once per thread (about 330 KiB).
struct RunState {
  float max[kRowTile][kMaxQueryGroup];
  float denom[kRowTile][kMaxQueryGroup];
  alignas(64) float acc[kRowTile][kMaxQueryGroup * kMaxHeadDim];
  alignas(64) float p[kRowTile][kMaxQueryGroup][kMaxBlockSize];  // scores, then probabilities
  // The run's queries transposed, [head_dim][row * group + head] (scaled): with enough of them a
  // key's scores are a broadcast-multiply-add over contiguous queries, with no horizontal sums.
  alignas(64) float qt[kMaxHeadDim][kRowTile * kMaxQueryGroup];
  alignas(64) float s[kMaxBlockSize][kRowTile * kMaxQueryGroup];  // [key][query] scores
};

// Scores of keys [lo, hi] (rows of `keys`, `stride` apart) against the run's transposed queries,
// into st.s[t][j]. Four keys by sixteen queries at a time, accumulated in registers: eight
// independent FMA chains per head_dim step. Lanes past `queries` compute garbage, never read.
void TransposedScores(const RunState& st, const float* keys, int64_t stride, int32_t hd,
                      int32_t queries, int32_t lo, int32_t hi, RunState& out) {
  constexpr int32_t kKeys = 4, kLanes = 16;
  for (int32_t t0 = lo; t0 <= hi; t0 += kKeys) {
    const float* k[kKeys];
    for (int32_t kk = 0; kk < kKeys; ++kk) k[kk] = keys + std::min(t0 + kk, hi) * stride;
    for (int32_t j0 = 0; j0 < queries; j0 += kLanes) {
      float acc[kKeys][kLanes] = {};
      for (int32_t d = 0; d < hd; ++d) {
        const float* q = st.qt[d] + j0;
        for (int32_t kk = 0; kk < kKeys; ++kk) {
          const float kd = k[kk][d];
#pragma omp simd
          for (int32_t jj = 0; jj < kLanes; ++jj) acc[kk][jj] += q[jj] * kd;
        }
      }
      for (int32_t kk = 0; kk < kKeys && t0 + kk <= hi; ++kk) {
        std::copy_n(acc[kk], kLanes, out.s[t0 + kk] + j0);
      }
    }
  }
}

// Below this many query vectors in a run (rows x heads per KV head), per-score dot products over
// head_dim beat the transposed form.
constexpr int32_t kTransposedMinQueries = 8;

// The rows of a run and where each may look: key positions [first, pos].
struct Run {
  int32_t seq = 0;
  int32_t row0 = 0;
  int32_t rows = 0;
  int32_t kv_head = 0;
  int32_t first[kRowTile];
  int32_t pos[kRowTile];
  const float* q[kRowTile];
};

constexpr int32_t kValueLanes = 16;

// acc[j][0, hd) += sum over t in [lo, hi] of probs[j][t] * values[t]: four outputs by sixteen
// lanes accumulated in registers over the whole block, so each output is loaded and stored once
// per block rather than once per key. hd must be a multiple of kValueLanes.
void BlockedValues(const float* const* probs, float* const* accs, int32_t n, const float* values,
                   int64_t stride, int32_t hd, int32_t lo, int32_t hi) {
  constexpr int32_t kOut = 4;
  static const float kZeros[kMaxBlockSize] = {};
  for (int32_t j0 = 0; j0 < n; j0 += kOut) {
    const float* p[kOut];
    for (int32_t jj = 0; jj < kOut; ++jj) p[jj] = j0 + jj < n ? probs[j0 + jj] : kZeros;
    for (int32_t d0 = 0; d0 < hd; d0 += kValueLanes) {
      float r[kOut][kValueLanes] = {};
      for (int32_t t = lo; t <= hi; ++t) {
        const float* v = values + t * stride + d0;
        for (int32_t jj = 0; jj < kOut; ++jj) {
          const float pj = p[jj][t];
#pragma omp simd
          for (int32_t l = 0; l < kValueLanes; ++l) r[jj][l] += pj * v[l];
        }
      }
      for (int32_t jj = 0; jj < kOut && j0 + jj < n; ++jj) {
        float* acc = accs[j0 + jj] + d0;
#pragma omp simd
        for (int32_t l = 0; l < kValueLanes; ++l) acc[l] += r[jj][l];
      }
    }
  }
}

// Online-softmax update of one (row, head) for a block: turns scores p[lo..hi] into weights
// relative to the new running max and rescales what was accumulated so far.
void FoldScores(int32_t lo, int32_t hi, int32_t hd, float* p, float& max, float& denom,
                float* acc) {
  float block_max = -std::numeric_limits<float>::infinity();
  for (int32_t t = lo; t <= hi; ++t) block_max = std::max(block_max, p[t]);
  const float new_max = std::max(max, block_max);          // finite: a key is visible
  const float correction = ExpNonPositive(max - new_max);  // 0 on the first block
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int32_t t = lo; t <= hi; ++t) {
    p[t] = ExpNonPositive(p[t] - new_max);  // masked keys: exactly 0
    sum += p[t];
  }
  if (correction != 1.0f) Scale(acc, correction, hd);
  denom = denom * correction + sum;
  max = new_max;
}

// Folds keys [lo, hi] of one block into the run's online softmax. Each key and value row is read
// once for all rows and query heads of the run; exp is one vectorised pass per (row, head).
void AttendBlock(const PagedAttentionArgs& a, const Run& run, int32_t block_start,
                 const float* keys, const float* values, int32_t lo, int32_t hi, RunState& st) {
  const int32_t group = a.num_heads / a.num_kv_heads;
  const int32_t hd = a.head_dim;
  const int64_t token_stride = static_cast<int64_t>(a.num_kv_heads) * hd;
  constexpr float kMasked = -std::numeric_limits<float>::infinity();
  bool active[kRowTile];
  for (int32_t i = 0; i < run.rows; ++i) {
    active[i] = run.first[i] <= block_start + hi && run.pos[i] >= block_start + lo;
  }
  const int32_t queries = run.rows * group;
  const bool transposed = queries >= kTransposedMinQueries;
  if (transposed) TransposedScores(st, keys, token_stride, hd, queries, lo, hi, st);
  for (int32_t t = lo; t <= hi; ++t) {
    const float* k = keys + t * token_stride;
    const int32_t key_pos = block_start + t;
    for (int32_t i = 0; i < run.rows; ++i) {
      if (!active[i]) continue;
      const bool visible = key_pos >= run.first[i] && key_pos <= run.pos[i];
      for (int32_t g = 0; g < group; ++g) {
        const float score =
            transposed ? st.s[t][i * group + g] : Dot(run.q[i] + g * hd, k, hd) * a.scale;
        st.p[i][g][t] = visible ? score : kMasked;
      }
    }
  }
  for (int32_t i = 0; i < run.rows; ++i) {
    if (!active[i]) continue;
    for (int32_t g = 0; g < group; ++g)
      FoldScores(lo, hi, hd, st.p[i][g], st.max[i][g], st.denom[i][g], st.acc[i] + g * hd);
  }
  if (hd % kValueLanes == 0) {
    const float* probs[kRowTile * kMaxQueryGroup];
    float* accs[kRowTile * kMaxQueryGroup];
    int32_t n = 0;
    for (int32_t i = 0; i < run.rows; ++i) {
      if (!active[i]) continue;
      for (int32_t g = 0; g < group; ++g, ++n) {
        probs[n] = st.p[i][g];
        accs[n] = st.acc[i] + g * hd;
      }
    }
    BlockedValues(probs, accs, n, values, token_stride, hd, lo, hi);
    return;
  }
  for (int32_t t = lo; t <= hi; ++t) {
    const float* v = values + t * token_stride;
    for (int32_t i = 0; i < run.rows; ++i) {
      if (!active[i]) continue;
      for (int32_t g = 0; g < group; ++g) Axpy(st.acc[i] + g * hd, st.p[i][g][t], v, hd);
    }
  }
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

// One query row (a decode step): the row's scores against every visible key are computed first,
// for all query heads of the group in one walk of the keys, then one softmax per head over the
// whole context, then one walk of the values. No per-block rescaling, masks or tile bookkeeping:
// those are what a one-row run spent most of its time on in the blocked path.
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

void AttendRun(const PagedAttentionArgs& a, Run& run, RunState& st) {
  const int32_t group = a.num_heads / a.num_kv_heads;
  const int32_t hd = a.head_dim;
  const int64_t token_stride = static_cast<int64_t>(a.num_kv_heads) * hd;
  int32_t lowest = std::numeric_limits<int32_t>::max(), highest = 0;
  for (int32_t i = 0; i < run.rows; ++i) {
    const int32_t row = run.row0 + i;
    run.pos[i] = a.positions[row];
    run.first[i] = a.sliding_window > 0 ? std::max(0, run.pos[i] - a.sliding_window + 1) : 0;
    run.q[i] = a.q + row * a.q_row_stride + static_cast<int64_t>(run.kv_head) * group * hd;
    lowest = std::min(lowest, run.first[i]);
    highest = std::max(highest, run.pos[i]);
    for (int32_t g = 0; g < group; ++g) {
      st.max[i][g] = -std::numeric_limits<float>::infinity();
      st.denom[i][g] = 0.0f;
    }
    std::fill(st.acc[i], st.acc[i] + group * hd, 0.0f);
    if (run.rows * group >= kTransposedMinQueries) {
      for (int32_t g = 0; g < group; ++g) {
        for (int32_t d = 0; d < hd; ++d) st.qt[d][i * group + g] = run.q[i][g * hd + d] * a.scale;
      }
    }
  }
  const int32_t* table = a.block_tables + static_cast<int64_t>(run.seq) * a.max_blocks_per_seq;
  for (int32_t block_start = lowest - lowest % a.block_size; block_start <= highest;
       block_start += a.block_size) {
    const int64_t block = table[block_start / a.block_size];
    const int64_t base =
        (block * a.block_size) * token_stride + static_cast<int64_t>(run.kv_head) * hd;
    const int32_t lo = std::max(lowest, block_start) - block_start;
    const int32_t hi = std::min(highest, block_start + a.block_size - 1) - block_start;
    AttendBlock(a, run, block_start, a.k_cache + base, a.v_cache + base, lo, hi, st);
  }
  for (int32_t i = 0; i < run.rows; ++i) {
    float* out = a.out + static_cast<int64_t>(run.row0 + i) * a.num_heads * hd +
                 static_cast<int64_t>(run.kv_head) * group * hd;
    for (int32_t g = 0; g < group; ++g) {
      const float inv = 1.0f / st.denom[i][g];
      for (int32_t d = 0; d < hd; ++d) out[g * hd + d] = st.acc[i][g * hd + d] * inv;
    }
  }
}

}  // namespace

int64_t PagedAttentionWorkItems(const PagedAttentionArgs& args) {
  const int64_t tiles =
      (static_cast<int64_t>(args.cu_seqlens[args.num_seqs]) + kRowTile - 1) / kRowTile;
  return tiles * args.num_kv_heads;
}

void PagedAttentionCpu(const PagedAttentionArgs& args, int64_t begin, int64_t end) {
  thread_local std::unique_ptr<RunState> state = std::make_unique<RunState>();
  thread_local std::vector<float> scores, acc;
  const int32_t real_rows = args.cu_seqlens[args.num_seqs];
  for (int64_t item = begin; item < end; ++item) {
    const int32_t tile_begin = static_cast<int32_t>(item / args.num_kv_heads) * kRowTile;
    const int32_t tile_end = std::min(tile_begin + kRowTile, real_rows);
    // A tile may span sequences (decode steps: one row each): one run per sequence in it.
    for (int32_t row = tile_begin; row < tile_end;) {
      Run run;
      run.seq = SequenceOfRow(args, row);
      run.row0 = row;
      run.rows = std::min(tile_end, args.cu_seqlens[run.seq + 1]) - row;
      run.kv_head = static_cast<int32_t>(item % args.num_kv_heads);
      if (run.rows == 1) {
        AttendOneRow(args, run.seq, row, run.kv_head, scores, acc);
      } else {
        AttendRun(args, run, *state);
      }
      row += run.rows;
    }
  }
}

}  // namespace ribbon::kernels
