// BlockManager: hands out fixed-size KV cache blocks to sequences (a paged KV cache's
// bookkeeping; the cache tensors themselves live with the model).
//
// Ownership: owned by the engine. Threads: mutate from the engine thread only; free_blocks()
// and total_blocks() may be read from any thread (atomics) for metrics and GetServerInfo.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"

namespace ribbon {

struct BlockManagerOptions {
  int32_t num_blocks = 0;
  int32_t block_size = 16;
};

class BlockManager {
 public:
  explicit BlockManager(const BlockManagerOptions& options);
  BlockManager(const BlockManager&) = delete;
  BlockManager& operator=(const BlockManager&) = delete;

  // Grows the sequence's block table so it can hold `num_tokens` tokens. All or nothing:
  // RESOURCE_EXHAUSTED (and no change) when the pool has too few free blocks.
  absl::Status EnsureCapacity(uint64_t seq_id, int32_t num_tokens);
  // Returns every block of the sequence to the pool. Unknown ids are ignored.
  void Free(uint64_t seq_id);

  std::span<const int32_t> BlockTable(uint64_t seq_id) const;
  int32_t BlocksHeld(uint64_t seq_id) const;
  // KV slot of token `position` of the sequence; the position must be within its capacity.
  int32_t Slot(uint64_t seq_id, int32_t position) const;

  int32_t free_blocks() const { return free_count_.load(std::memory_order_relaxed); }
  int32_t total_blocks() const { return options_.num_blocks; }
  int32_t block_size() const { return options_.block_size; }

 private:
  BlockManagerOptions options_;
  std::vector<int32_t> free_list_;
  std::unordered_map<uint64_t, std::vector<int32_t>> tables_;
  std::atomic<int32_t> free_count_{0};
};

}  // namespace ribbon
