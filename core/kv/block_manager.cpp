#include "core/kv/block_manager.h"

#include "absl/strings/str_cat.h"

namespace ribbon {

BlockManager::BlockManager(const BlockManagerOptions& options) : options_(options) {
  free_list_.reserve(options.num_blocks);
  // Handed out from the back: low block ids first, which keeps small runs cache-friendly.
  for (int32_t b = options.num_blocks - 1; b >= 0; --b) free_list_.push_back(b);
  free_count_.store(options.num_blocks);
}

absl::Status BlockManager::EnsureCapacity(uint64_t seq_id, int32_t num_tokens) {
  auto& table = tables_[seq_id];
  const int32_t needed = (num_tokens + options_.block_size - 1) / options_.block_size;
  const int32_t missing = needed - static_cast<int32_t>(table.size());
  if (missing <= 0) return absl::OkStatus();
  if (missing > static_cast<int32_t>(free_list_.size())) {
    if (table.empty()) tables_.erase(seq_id);
    return absl::ResourceExhaustedError(absl::StrCat("KV cache: sequence needs ", missing,
                                                     " more blocks, ", free_list_.size(), " free"));
  }
  for (int32_t i = 0; i < missing; ++i) {
    table.push_back(free_list_.back());
    free_list_.pop_back();
  }
  free_count_.store(static_cast<int32_t>(free_list_.size()), std::memory_order_relaxed);
  return absl::OkStatus();
}

void BlockManager::Free(uint64_t seq_id) {
  auto it = tables_.find(seq_id);
  if (it == tables_.end()) return;
  for (auto b = it->second.rbegin(); b != it->second.rend(); ++b) free_list_.push_back(*b);
  tables_.erase(it);
  free_count_.store(static_cast<int32_t>(free_list_.size()), std::memory_order_relaxed);
}

std::span<const int32_t> BlockManager::BlockTable(uint64_t seq_id) const {
  auto it = tables_.find(seq_id);
  if (it == tables_.end()) return {};
  return it->second;
}

int32_t BlockManager::BlocksHeld(uint64_t seq_id) const {
  return static_cast<int32_t>(BlockTable(seq_id).size());
}

int32_t BlockManager::Slot(uint64_t seq_id, int32_t position) const {
  const auto table = BlockTable(seq_id);
  return table[position / options_.block_size] * options_.block_size +
         position % options_.block_size;
}

}  // namespace ribbon
