// Hand-written CPU loops for the small per-row operations of a decoder layer, so a step costs a
// constant, small number of ATen calls (the GEMMs) whatever the number of sequences.
// Raw float32 pointers, row-major; rows are split across torch's intra-op thread pool.
// Threads: call from one thread (each call parallelises internally).
#pragma once

#include <cstdint>
#include <functional>

#include "kernels/cpu/paged_attention.h"

namespace ribbon::cpu {

// Runs fn(item) for every item in [0, items) on torch's intra-op threads, each thread taking the
// next item from a shared counter, or on the calling thread alone when items * work_per_item is
// under ~256K (a fork and a barrier would cost more). Why not at::parallel_for's equal shares:
// on a core shared with another process one thread runs slower, and the whole step then waited
// for its half (measured here: a second busy process halved the step rate); taken one by one,
// the items go to whichever thread is free. Which thread runs an item must not change its
// result (every caller's items are independent and write disjoint outputs).
void ParallelItems(int64_t items, int64_t work_per_item, const std::function<void(int64_t)>& fn);

// out[r] = x[r] / rms(x[r]) * weight, for `rows` rows of `dim` (out may equal x).
void RmsNorm(const float* x, const float* weight, float* out, int64_t rows, int64_t dim,
             int64_t x_stride, int64_t out_stride, float eps);

// Rotates heads in place with HF's rotate_half convention: pairs (i, i + head_dim/2).
// `x` row r starts at x + r * row_stride and holds `num_heads` heads of head_dim.
// cos/sin tables are [max_position, head_dim/2].
void ApplyRope(float* x, int64_t rows, int64_t row_stride, int64_t num_heads, int64_t head_dim,
               const int32_t* positions, const float* cos, const float* sin);

// out[r, i] = silu(gate_up[r, i]) * gate_up[r, inter + i].
void SiluMul(const float* gate_up, float* out, int64_t rows, int64_t inter);
// The same for columns [c0, c1) only, on the calling thread (each element computed exactly as
// SiluMul computes it).
void SiluMulColumns(const float* gate_up, float* out, int64_t rows, int64_t inter, int64_t c0,
                    int64_t c1);

// out[r] = table[ids[r]] (rows of `dim`).
void GatherRows(const float* table, const int32_t* ids, float* out, int64_t rows, int64_t dim);

// Writes each row's K and V (num_kv_heads * head_dim floats at k_src / v_src + r * src_stride)
// into the cache slot slot_mapping[r], as `dtype` (float16 rounded to nearest even); rows with
// slot -1 are skipped.
void WriteKv(const float* k_src, const float* v_src, int64_t src_stride, const int32_t* slots,
             int64_t rows, int64_t kv_width, kernels::KvDtype dtype, void* k_cache, void* v_cache);

// out[r] += bias for `rows` rows of `width` with stride.
void AddBias(float* out, const float* bias, int64_t rows, int64_t width, int64_t stride);

}  // namespace ribbon::cpu
