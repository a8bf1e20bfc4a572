#include "core/kv/block_manager.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ribbon {

BlockManager::BlockManager(const BlockManagerOptions& options)
    : options_(options), blocks_(static_cast<size_t>(std::max(0, options.num_blocks))) {
  free_list_.reserve(options.num_blocks);
  // Handed out from the back: low block ids first, which keeps small runs cache-friendly.
  for (int32_t b = options.num_blocks - 1; b >= 0; --b) free_list_.push_back(b);
  UpdateCounts();
}

void BlockManager::UpdateCounts() {
  free_count_.store(static_cast<int32_t>(free_list_.size() + lru_.size()),
                    std::memory_order_relaxed);
  cached_count_.store(static_cast<int32_t>(by_hash_.size()), std::memory_order_relaxed);
}

uint64_t BlockManager::ChainHash(uint64_t parent, std::span<const int32_t> tokens) const {
  uint64_t h = parent ^ 0x9e3779b97f4a7c15ull;
  for (int32_t t : tokens) {
    h ^= static_cast<uint64_t>(static_cast<uint32_t>(t)) + 0x9e3779b97f4a7c15ull + (h << 6) +
         (h >> 2);
    h *= 0xff51afd7ed558ccdull;
  }
  h ^= h >> 33;
  return options_.hash_bits >= 64 ? h : h & ((uint64_t{1} << options_.hash_bits) - 1);
}

uint64_t BlockManager::RootHash(std::string_view cache_salt) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : cache_salt) h = (h ^ c) * 1099511628211ull;
  return h;
}

void BlockManager::Unhash(int32_t b) {
  Block& block = blocks_[b];
  auto [first, last] = by_hash_.equal_range(block.hash);
  for (auto it = first; it != last; ++it) {
    if (it->second == b) {
      by_hash_.erase(it);
      break;
    }
  }
  block.hashed = false;
  block.tokens.clear();
}

int32_t BlockManager::Take() {
  int32_t b;
  if (!free_list_.empty()) {
    b = free_list_.back();
    free_list_.pop_back();
  } else {
    b = lru_.front();
    lru_.pop_front();
    Unhash(b);
    ++evictions_;
  }
  blocks_[b].refs = 1;
  return b;
}

void BlockManager::Release(int32_t b) {
  Block& block = blocks_[b];
  if (--block.refs > 0) return;
  if (block.hashed) {
    block.lru = lru_.insert(lru_.end(), b);
  } else {
    free_list_.push_back(b);
  }
}

absl::Status BlockManager::EnsureCapacity(uint64_t seq_id, int32_t num_tokens) {
  auto& table = tables_[seq_id];
  const int32_t needed = (num_tokens + options_.block_size - 1) / options_.block_size;
  const int32_t missing = needed - static_cast<int32_t>(table.size());
  if (missing <= 0) return absl::OkStatus();
  const int32_t available = static_cast<int32_t>(free_list_.size() + lru_.size());
  if (missing > available) {
    if (table.empty()) tables_.erase(seq_id);
    return absl::ResourceExhaustedError(
        absl::StrCat("KV cache: sequence needs ", missing, " more blocks, ", available, " free"));
  }
  for (int32_t i = 0; i < missing; ++i) table.push_back(Take());
  UpdateCounts();
  return absl::OkStatus();
}

void BlockManager::Free(uint64_t seq_id) {
  published_.erase(seq_id);
  auto it = tables_.find(seq_id);
  if (it == tables_.end()) return;
  // Released back to front, so a sequence's leading blocks are the last to be evicted.
  for (auto b = it->second.rbegin(); b != it->second.rend(); ++b) Release(*b);
  tables_.erase(it);
  UpdateCounts();
}

int32_t BlockManager::Find(uint64_t hash, uint64_t parent, std::span<const int32_t> tokens) const {
  auto [first, last] = by_hash_.equal_range(hash);
  for (auto it = first; it != last; ++it) {
    const Block& candidate = blocks_[it->second];
    if (candidate.parent == parent &&
        std::equal(tokens.begin(), tokens.end(), candidate.tokens.begin(), candidate.tokens.end()))
      return it->second;
  }
  return -1;
}

int32_t BlockManager::Peek(std::span<const int32_t> tokens, uint64_t root_hash, int32_t max_blocks,
                           int32_t* revived) const {
  const int32_t bs = options_.block_size;
  const int32_t full = std::min<int32_t>(max_blocks, static_cast<int32_t>(tokens.size()) / bs);
  uint64_t parent = root_hash;
  int32_t n = 0, idle = 0;
  for (; n < full; ++n) {
    const std::span<const int32_t> block_tokens = tokens.subspan(static_cast<size_t>(n) * bs, bs);
    const uint64_t h = ChainHash(parent, block_tokens);
    const int32_t b = Find(h, parent, block_tokens);
    if (b < 0) break;
    idle += blocks_[b].refs == 0 ? 1 : 0;
    parent = h;
  }
  if (revived) *revived = idle;
  return n;
}

int32_t BlockManager::Match(uint64_t seq_id, std::span<const int32_t> tokens, uint64_t root_hash,
                            int32_t max_blocks) {
  if (BlocksHeld(seq_id) > 0) return 0;
  const int32_t n = Peek(tokens, root_hash, max_blocks);
  if (n == 0) return 0;
  auto& table = tables_[seq_id];
  const int32_t bs = options_.block_size;
  uint64_t parent = root_hash;
  for (int32_t i = 0; i < n; ++i) {
    const std::span<const int32_t> block_tokens = tokens.subspan(static_cast<size_t>(i) * bs, bs);
    const uint64_t h = ChainHash(parent, block_tokens);
    const int32_t b = Find(h, parent, block_tokens);
    Block& block = blocks_[b];
    if (block.refs++ == 0) lru_.erase(block.lru);
    table.push_back(b);
    parent = h;
  }
  published_[seq_id] = {n, parent};
  UpdateCounts();
  return n;
}

void BlockManager::Publish(uint64_t seq_id, std::span<const int32_t> tokens,
                           int32_t computed_tokens, uint64_t root_hash) {
  auto t = tables_.find(seq_id);
  if (t == tables_.end()) return;
  auto [it, fresh] = published_.try_emplace(seq_id, Published{0, root_hash});
  Published& p = it->second;
  const int32_t bs = options_.block_size;
  const int32_t full =
      std::min<int32_t>({computed_tokens / bs, static_cast<int32_t>(tokens.size()) / bs,
                         static_cast<int32_t>(t->second.size())});
  for (; p.blocks < full; ++p.blocks) {
    const std::span<const int32_t> block_tokens =
        tokens.subspan(static_cast<size_t>(p.blocks) * bs, bs);
    const uint64_t h = ChainHash(p.last_hash, block_tokens);
    Block& block = blocks_[t->second[p.blocks]];
    // A block of the same content already cached (computed by a sequence running alongside):
    // this one stays private and goes back to the pool when released.
    const bool duplicate = Find(h, p.last_hash, block_tokens) >= 0;
    if (!duplicate && !block.hashed) {
      block.hashed = true;
      block.hash = h;
      block.parent = p.last_hash;
      block.tokens.assign(block_tokens.begin(), block_tokens.end());
      by_hash_.emplace(h, t->second[p.blocks]);
      ++epoch_;
    }
    p.last_hash = h;
  }
  UpdateCounts();
}

int32_t BlockManager::DropCached() {
  const auto dropped = static_cast<int32_t>(lru_.size());
  while (!lru_.empty()) {
    const int32_t b = lru_.front();
    lru_.pop_front();
    Unhash(b);
    free_list_.push_back(b);
  }
  UpdateCounts();
  return dropped;
}

std::span<const int32_t> BlockManager::BlockTable(uint64_t seq_id) const {
  auto it = tables_.find(seq_id);
  if (it == tables_.end()) return {};
  return it->second;
}

int32_t BlockManager::BlocksHeld(uint64_t seq_id) const {
  return static_cast<int32_t>(BlockTable(seq_id).size());
}

int32_t BlockManager::ExclusiveBlocks(uint64_t seq_id) const {
  int32_t n = 0;
  for (int32_t b : BlockTable(seq_id)) n += blocks_[b].refs == 1 ? 1 : 0;
  return n;
}

int32_t BlockManager::Slot(uint64_t seq_id, int32_t position) const {
  const auto table = BlockTable(seq_id);
  return table[position / options_.block_size] * options_.block_size +
         position % options_.block_size;
}

}  // namespace ribbon
