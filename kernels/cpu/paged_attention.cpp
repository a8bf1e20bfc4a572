#include "kernels/cpu/paged_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/fast_exp.h"

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

// Online-softmax state for the query heads of one KV group.
struct GroupState {
  float max[kMaxQueryGroup];
  float denom[kMaxQueryGroup];
  alignas(64) float acc[kMaxQueryGroup * kMaxHeadDim];
};

// Folds one KV block's tokens [lo, hi] into the group's online softmax: scores for every query
// head of the group first (each key row read once for all of them), then one vectorised exp
// pass per head, then the value rows (each read once for all heads).
void AttendBlock(const PagedAttentionArgs& a, const float* q, const float* keys, const float* values,
                 int32_t lo, int32_t hi, GroupState& st) {
  const int32_t group = a.num_heads / a.num_kv_heads;
  const int32_t hd = a.head_dim;
  const int64_t token_stride = static_cast<int64_t>(a.num_kv_heads) * hd;
  const int32_t n = hi - lo + 1;
  alignas(64) float p[kMaxQueryGroup][kMaxBlockSize];
  for (int32_t t = 0; t < n; ++t) {
    const float* k = keys + (lo + t) * token_stride;
    for (int32_t g = 0; g < group; ++g) p[g][t] = Dot(q + g * hd, k, hd) * a.scale;
  }
  for (int32_t g = 0; g < group; ++g) {
    float block_max = -std::numeric_limits<float>::infinity();
    for (int32_t t = 0; t < n; ++t) block_max = std::max(block_max, p[g][t]);
    const float new_max = std::max(st.max[g], block_max);
    const float correction = ExpNonPositive(st.max[g] - new_max);  // 0 on the first block
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int32_t t = 0; t < n; ++t) {
      p[g][t] = ExpNonPositive(p[g][t] - new_max);
      sum += p[g][t];
    }
    if (correction != 1.0f) Scale(st.acc + g * hd, correction, hd);
    st.denom[g] = st.denom[g] * correction + sum;
    st.max[g] = new_max;
  }
  for (int32_t t = 0; t < n; ++t) {
    const float* v = values + (lo + t) * token_stride;
    for (int32_t g = 0; g < group; ++g) Axpy(st.acc + g * hd, p[g][t], v, hd);
  }
}

void AttendRow(const PagedAttentionArgs& a, int32_t row, int32_t kv_head, GroupState& st) {
  const int32_t seq = SequenceOfRow(a, row);
  const int32_t group = a.num_heads / a.num_kv_heads;
  const int32_t hd = a.head_dim;
  const int32_t pos = a.positions[row];
  const int32_t first = a.sliding_window > 0 ? std::max(0, pos - a.sliding_window + 1) : 0;
  const int32_t* table = a.block_tables + static_cast<int64_t>(seq) * a.max_blocks_per_seq;
  const float* q = a.q + row * a.q_row_stride + static_cast<int64_t>(kv_head) * group * hd;
  const int64_t token_stride = static_cast<int64_t>(a.num_kv_heads) * hd;

  for (int32_t g = 0; g < group; ++g) {
    st.max[g] = -std::numeric_limits<float>::infinity();
    st.denom[g] = 0.0f;
  }
  std::fill(st.acc, st.acc + group * hd, 0.0f);
  for (int32_t block_start = first - first % a.block_size; block_start <= pos;
       block_start += a.block_size) {
    const int64_t block = table[block_start / a.block_size];
    const int64_t base = (block * a.block_size) * token_stride + static_cast<int64_t>(kv_head) * hd;
    const int32_t lo = std::max(first, block_start) - block_start;
    const int32_t hi = std::min(pos, block_start + a.block_size - 1) - block_start;
    AttendBlock(a, q, a.k_cache + base, a.v_cache + base, lo, hi, st);
  }
  float* out = a.out + static_cast<int64_t>(row) * a.num_heads * hd +
               static_cast<int64_t>(kv_head) * group * hd;
  for (int32_t g = 0; g < group; ++g) {
    const float inv = 1.0f / st.denom[g];
    for (int32_t i = 0; i < hd; ++i) out[g * hd + i] = st.acc[g * hd + i] * inv;
  }
}

}  // namespace

int64_t PagedAttentionWorkItems(const PagedAttentionArgs& args) {
  return static_cast<int64_t>(args.cu_seqlens[args.num_seqs]) * args.num_kv_heads;
}

void PagedAttentionCpu(const PagedAttentionArgs& args, int64_t begin, int64_t end) {
  GroupState state;
  for (int64_t item = begin; item < end; ++item) {
    AttendRow(args, static_cast<int32_t>(item / args.num_kv_heads),
              static_cast<int32_t>(item % args.num_kv_heads), state);
  }
}

}  // namespace ribbon::kernels
