// BlockManager: hands out fixed-size KV cache blocks to sequences (a paged KV cache's
// bookkeeping; the cache tensors themselves live with the model), and keeps full blocks for
// reuse by later sequences with the same prefix (prefix caching).
//
// Prefix caching: a full block is identified by a hash chained over its parent block's hash and
// its token ids, the chain starting from the request's cache salt. Publish makes a sequence's
// full computed blocks findable; Match gives a new sequence the longest run of cached blocks
// that equal its prompt's leading blocks (token ids compared, not only hashes, so a collision
// can never alias two prefixes), referencing them instead of computing them again. Blocks are
// reference-counted: a block whose count drops to zero stays cached (least recently used last)
// and is evicted only when the pool needs a block and no never-hashed free one is left.
// free_blocks() counts both kinds, since either can be handed out.
//
// Ownership: owned by the engine. Threads: mutate from the engine thread only; free_blocks(),
// cached_blocks() and total_blocks() may be read from any thread (atomics) for metrics.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"

namespace ribbon {

struct BlockManagerOptions {
  int32_t num_blocks = 0;
  int32_t block_size = 16;
  // Test-only: keeps only these low bits of every block hash, so that different prefixes
  // collide and the token comparison is what keeps them apart.
  int32_t hash_bits = 64;
};

class BlockManager {
 public:
  explicit BlockManager(const BlockManagerOptions& options);
  BlockManager(const BlockManager&) = delete;
  BlockManager& operator=(const BlockManager&) = delete;

  // Grows the sequence's block table so it can hold `num_tokens` tokens. All or nothing:
  // RESOURCE_EXHAUSTED (and no change) when the pool has too few free blocks.
  absl::Status EnsureCapacity(uint64_t seq_id, int32_t num_tokens);
  // Releases every block of the sequence: unshared, never-published blocks return to the pool;
  // published ones stay cached until evicted. Unknown ids are ignored.
  void Free(uint64_t seq_id);

  // The chain's start for a request's cache salt (tenants with different salts share nothing).
  static uint64_t RootHash(std::string_view cache_salt);

  // How many leading full blocks of `tokens` (at most `max_blocks`) are cached, without taking
  // them; `revived` (if not null) gets how many of those no sequence references now (taking
  // them removes them from the evictable pool).
  int32_t Peek(std::span<const int32_t> tokens, uint64_t root_hash, int32_t max_blocks,
               int32_t* revived = nullptr) const;
  // For a sequence that holds no blocks yet: references the cached blocks Peek finds, in order,
  // and returns how many. They count as the sequence's first blocks (its KV for those positions).
  int32_t Match(uint64_t seq_id, std::span<const int32_t> tokens, uint64_t root_hash,
                int32_t max_blocks);
  // Makes the sequence's full blocks among its first `computed_tokens` positions (whose KV has
  // been written by steps that landed) findable; `tokens` holds at least that many tokens.
  void Publish(uint64_t seq_id, std::span<const int32_t> tokens, int32_t computed_tokens,
               uint64_t root_hash);
  // Forgets every cached block no sequence references (the admin "drop the cache"); returns
  // how many it forgot.
  int32_t DropCached();

  std::span<const int32_t> BlockTable(uint64_t seq_id) const;
  int32_t BlocksHeld(uint64_t seq_id) const;
  // Blocks Free(seq_id) would give back to the pool: those no other sequence references.
  int32_t ExclusiveBlocks(uint64_t seq_id) const;
  // KV slot of token `position` of the sequence; the position must be within its capacity.
  int32_t Slot(uint64_t seq_id, int32_t position) const;

  int32_t free_blocks() const { return free_count_.load(std::memory_order_relaxed); }
  int32_t cached_blocks() const { return cached_count_.load(std::memory_order_relaxed); }
  int32_t total_blocks() const { return options_.num_blocks; }
  int32_t block_size() const { return options_.block_size; }
  int64_t evictions() const { return evictions_; }
  // Changes whenever a Publish makes a new block findable: a failed Match need not be retried
  // before it does.
  uint64_t epoch() const { return epoch_; }

  // For tests: a block's reference count, and whether it is findable.
  int32_t RefCount(int32_t block) const { return blocks_[block].refs; }
  bool IsCached(int32_t block) const { return blocks_[block].hashed; }

 private:
  struct Block {
    int32_t refs = 0;
    bool hashed = false;
    uint64_t hash = 0;
    uint64_t parent = 0;
    std::vector<int32_t> tokens;       // the block's token ids, when hashed
    std::list<int32_t>::iterator lru;  // position in lru_ while refs == 0 and hashed
  };
  struct Published {
    int32_t blocks = 0;  // leading blocks already published (or matched)
    uint64_t last_hash = 0;
  };

  uint64_t ChainHash(uint64_t parent, std::span<const int32_t> tokens) const;
  // The cached block holding `tokens` after `parent`, or -1.
  int32_t Find(uint64_t hash, uint64_t parent, std::span<const int32_t> tokens) const;
  int32_t Take();  // a block for a new use: never-hashed first, else evict the LRU one
  void Release(int32_t block);
  void Unhash(int32_t block);
  void UpdateCounts();

  BlockManagerOptions options_;
  std::vector<Block> blocks_;
  std::vector<int32_t> free_list_;  // refs == 0, not hashed
  std::list<int32_t> lru_;          // refs == 0, hashed: least recently released first
  std::unordered_multimap<uint64_t, int32_t> by_hash_;
  std::unordered_map<uint64_t, std::vector<int32_t>> tables_;
  std::unordered_map<uint64_t, Published> published_;
  std::atomic<int32_t> free_count_{0};
  std::atomic<int32_t> cached_count_{0};
  int64_t evictions_ = 0;
  uint64_t epoch_ = 0;
};

}  // namespace ribbon
