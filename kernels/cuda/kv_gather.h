// Gathers each sequence's keys and values out of the paged KV cache into contiguous
// variable-length buffers, the layout fused varlen attention kernels (flash, cuDNN) read:
// token t of sequence s lands at row cu_kv[s] + t of k_out / v_out, for t < cu_kv[s+1] - cu_kv[s]
// (the sequence's visible keys, positions 0.. in order). One launch for the whole ribbon.
//
// Framework-free: device pointers and a stream in, the launch's cudaError_t out; no allocation.
// Threads: any host thread.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace ribbon::kernels {

struct KvGatherArgs {
  const void* k_cache = nullptr;  // [slots, row_bytes] of one layer
  const void* v_cache = nullptr;
  void* k_out = nullptr;  // [total_tokens, row_bytes], contiguous
  void* v_out = nullptr;
  const int32_t* cu_kv = nullptr;         // [num_seqs + 1], device; cu_kv[num_seqs] = total_tokens
  const int32_t* block_tables = nullptr;  // [num_seqs, max_blocks_per_seq], device
  int32_t num_seqs = 0;
  int32_t max_blocks_per_seq = 0;
  int32_t block_size = 16;
  int32_t total_tokens = 0;  // host copy of cu_kv[num_seqs]
  int64_t row_bytes = 0;     // one token's keys (num_kv_heads * head_dim * element bytes)
};

cudaError_t GatherKv(const KvGatherArgs& args, cudaStream_t stream);

}  // namespace ribbon::kernels
