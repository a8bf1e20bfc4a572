// Variable-length causal attention over a ribbon, reading keys and values from a paged KV cache.
// Framework-free: raw pointers in, no allocation, no threads of its own. The caller splits the
// work items [0, PagedAttentionWorkItems(args)) across threads (see core/model for the libtorch
// adapter that uses at::parallel_for) and calls PagedAttentionCpu on disjoint ranges.
//
// One work item is one query row and kv_heads_per_item KV heads; it computes the outputs of the
// query heads that share those KV heads, walking the row's visible keys once for all of them:
// scores, one softmax per head in fp32, then one walk of the values (each run of keys for all the
// item's KV heads). A row attends to key positions [max(0, pos - window + 1), pos] of its own
// sequence, so causality follows the positions and chunked prefill needs nothing special. Keys must
// already be in the cache.
//
// Batch invariance: every operation of a row's computation (the order of each dot product, of
// the softmax sums, of the value sums) depends only on that row, its position and its sequence's
// cache, never on the other rows of the step or on how items are split across threads. With the
// packed GEMM (packed_gemm.h) this makes a sequence's logits bitwise the same alone or batched.
// (A tiled path that walked the keys once for 8 rows of a prompt did not have this property: its
// arithmetic depended on where the step's tiles fell.)
//
// Threads: any; concurrent calls on disjoint item ranges are safe.
#pragma once

#include <cstdint>

namespace ribbon::kernels {

// The element type of the K and V caches. A float16 element is widened exactly to float32 when
// read and everything else is the same, so the outputs are bitwise those of a float32 cache
// holding the same (rounded) values: half the bytes for a decode to read, one rounding (on
// write) the only difference.
enum class KvDtype : uint8_t { kFloat32, kFloat16 };

struct PagedAttentionArgs {
  const float* q = nullptr;               // row r, head h at q[r * q_row_stride + h * head_dim]
  int64_t q_row_stride = 0;               // elements
  const void* k_cache = nullptr;          // [num_blocks, block_size, num_kv_heads, head_dim]
  const void* v_cache = nullptr;          // same layout, and of kv_dtype (below) both
  float* out = nullptr;                   // [rows, num_heads, head_dim], contiguous
  const int32_t* cu_seqlens = nullptr;    // [num_seqs + 1]
  const int32_t* positions = nullptr;     // [rows]
  const int32_t* block_tables = nullptr;  // [num_seqs, max_blocks_per_seq]
  int32_t num_seqs = 0;
  int32_t max_blocks_per_seq = 0;
  int32_t num_heads = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;        // at most kMaxHeadDim
  int32_t block_size = 16;     // at most kMaxBlockSize
  int32_t sliding_window = 0;  // 0 = unlimited
  float scale = 1.0f;
  // KV heads one work item walks together (a divisor of num_kv_heads; anything else counts as
  // 1). More reads each key's row of the cache as one contiguous run instead of a stride per
  // KV head, which memory serves faster; fewer gives more items to split across threads. The
  // outputs are the same either way, bit for bit.
  int32_t kv_heads_per_item = 1;
  KvDtype kv_dtype = KvDtype::kFloat32;  // of both caches
};

inline constexpr int32_t kMaxHeadDim = 256;
inline constexpr int32_t kMaxBlockSize = 64;

// Number of work items: real rows (cu_seqlens[num_seqs]) x num_kv_heads / kv_heads_per_item.
int64_t PagedAttentionWorkItems(const PagedAttentionArgs& args);

// Computes work items [begin, end).
void PagedAttentionCpu(const PagedAttentionArgs& args, int64_t begin, int64_t end);

}  // namespace ribbon::kernels
