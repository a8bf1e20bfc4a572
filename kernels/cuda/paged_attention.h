// Reference variable-length causal attention over a ribbon on the GPU, reading keys and values
// straight from the paged KV cache. The semantics are exactly kernels/cpu/paged_attention.h's:
// row r of sequence s (cu_seqlens[s] <= r < cu_seqlens[s + 1]) attends to key positions
// [max(0, pos - window + 1), pos] of s, pos = positions[r]; query head h reads KV head
// h / (num_heads / num_kv_heads). Rows at or past cu_seqlens[num_seqs] (alignment padding, up to
// num_rows) get zeros.
//
// Deliberately simple: one warp per (row, query head), keys visited one at a time with an
// online softmax in float32. It handles float32, float16 and bfloat16 and any even head_dim up
// to 256, and is the correctness reference for the fused paths (core/model/cuda).
//
// Framework-free: device pointers and a stream in, the launch's cudaError_t out; no allocation.
// Threads: any host thread.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/element_type.h"

namespace ribbon::kernels {

struct PagedAttentionCudaArgs {
  const void* q = nullptr;                // row r, head h at q[r * q_row_stride + h * head_dim]
  int64_t q_row_stride = 0;               // elements
  const void* k_cache = nullptr;          // [num_blocks, block_size, num_kv_heads, head_dim]
  const void* v_cache = nullptr;          // same layout
  void* out = nullptr;                    // [num_rows, num_heads, head_dim], contiguous
  const int32_t* cu_seqlens = nullptr;    // [num_seqs + 1], device
  const int32_t* positions = nullptr;     // [num_rows], device
  const int32_t* block_tables = nullptr;  // [num_seqs, max_blocks_per_seq], device
  int32_t num_rows = 0;
  int32_t num_seqs = 0;
  int32_t max_blocks_per_seq = 0;
  int32_t num_heads = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;  // even, at most kCudaMaxHeadDim
  int32_t block_size = 16;
  int32_t sliding_window = 0;  // 0 = unlimited
  float scale = 1.0f;
  ElementType type = ElementType::kF32;
};

inline constexpr int32_t kCudaMaxHeadDim = 256;

cudaError_t PagedAttentionCuda(const PagedAttentionCudaArgs& args, cudaStream_t stream);

}  // namespace ribbon::kernels
