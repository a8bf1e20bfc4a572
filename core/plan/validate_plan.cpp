#include "core/plan/validate_plan.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ribbon {
namespace {

absl::Status Bad(auto&&... parts) {
  return absl::InvalidArgumentError(absl::StrCat("StepPlan: ", parts...));
}

absl::Status CheckSizes(const StepPlan& plan, const PlanLimits& limits) {
  const size_t rows = static_cast<size_t>(plan.num_rows);
  const size_t seqs = static_cast<size_t>(plan.num_seqs);
  if (plan.num_rows < 0 || plan.num_seqs < 0 || plan.token_ids.size() != rows ||
      plan.positions.size() != rows || plan.slot_mapping.size() != rows ||
      plan.cu_seqlens.size() != seqs + 1 || plan.kv_lens.size() != seqs ||
      plan.max_blocks_per_seq < 0 ||
      plan.block_tables.size() != seqs * static_cast<size_t>(plan.max_blocks_per_seq) ||
      plan.sampling.size() != plan.sample_rows.size()) {
    return Bad("array sizes are inconsistent");
  }
  if (plan.block_size != limits.block_size) {
    return Bad("block_size ", plan.block_size, " differs from the KV cache's ", limits.block_size);
  }
  if (plan.cu_seqlens[0] != 0 || plan.cu_seqlens.back() > plan.num_rows)
    return Bad("cu_seqlens must start at 0 and end within num_rows");
  for (size_t s = 0; s < seqs; ++s) {
    if (plan.cu_seqlens[s + 1] <= plan.cu_seqlens[s])
      return Bad("sequence ", s, " has no rows (cu_seqlens must increase)");
  }
  return absl::OkStatus();
}

absl::Status CheckRows(const StepPlan& plan, const PlanLimits& limits) {
  const int64_t slots = static_cast<int64_t>(limits.num_blocks) * limits.block_size;
  for (int32_t r = 0; r < plan.num_rows; ++r) {
    if (plan.token_ids[r] < 0 || plan.token_ids[r] >= limits.vocab_size)
      return Bad("row ", r, ": token id ", plan.token_ids[r], " outside the vocabulary");
    if (plan.positions[r] < 0 || plan.positions[r] >= limits.max_position) {
      return Bad("row ", r, ": position ", plan.positions[r], " outside [0, ", limits.max_position,
                 ")");
    }
    if (plan.slot_mapping[r] < -1 || plan.slot_mapping[r] >= slots)
      return Bad("row ", r, ": KV slot ", plan.slot_mapping[r], " outside the cache");
  }
  for (int32_t r = plan.cu_seqlens.back(); r < plan.num_rows; ++r) {
    if (plan.slot_mapping[r] != -1) return Bad("alignment row ", r, " writes KV");
  }
  for (int32_t block : plan.block_tables) {
    if (block < 0 || block >= limits.num_blocks)
      return Bad("block table entry ", block, " outside the cache");
  }
  return absl::OkStatus();
}

// Within a segment positions are consecutive (pad rows past the context repeat the last one),
// end at kv_len - 1, and every KV write lands where the block table puts that position.
absl::Status CheckSegments(const StepPlan& plan) {
  const int32_t bs = plan.block_size;
  const int64_t table_tokens = static_cast<int64_t>(plan.max_blocks_per_seq) * bs;
  for (int32_t s = 0; s < plan.num_seqs; ++s) {
    const int32_t begin = plan.cu_seqlens[s], end = plan.cu_seqlens[s + 1];
    const int32_t* table =
        plan.block_tables.data() + static_cast<size_t>(s) * plan.max_blocks_per_seq;
    if (plan.kv_lens[s] <= 0 || plan.kv_lens[s] > table_tokens)
      return Bad("sequence ", s, ": kv_len ", plan.kv_lens[s], " outside its block table");
    if (plan.positions[end - 1] + 1 != plan.kv_lens[s]) {
      return Bad("sequence ", s, ": last row's position ", plan.positions[end - 1],
                 " does not end at kv_len ", plan.kv_lens[s]);
    }
    for (int32_t r = begin; r < end; ++r) {
      const int32_t pos = plan.positions[r];
      if (r > begin && pos != plan.positions[r - 1] + 1 &&
          !(pos == plan.positions[r - 1] && plan.slot_mapping[r] == -1)) {
        return Bad("row ", r, ": position ", pos, " does not follow ", plan.positions[r - 1],
                   " in sequence ", s);
      }
      const int32_t slot = plan.slot_mapping[r];
      if (slot != -1 && slot != table[pos / bs] * bs + pos % bs) {
        return Bad("row ", r, ": KV slot ", slot, " is not position ", pos, " of sequence ", s,
                   "'s block table");
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSamplesAndLinks(const StepPlan& plan) {
  const int32_t real_rows = plan.cu_seqlens.back();
  for (size_t i = 0; i < plan.sample_rows.size(); ++i) {
    const int32_t row = plan.sample_rows[i];
    if (row < 0 || row >= real_rows) return Bad("sample row ", row, " is not a sequence's row");
    if (i > 0 && row <= plan.sample_rows[i - 1]) return Bad("sample rows must increase");
    for (int32_t id : plan.sampling[i].banned) {
      if (id < 0) return Bad("sample ", i, ": banned token ", id);
    }
  }
  std::vector<int32_t> linked;
  for (const LinkedRow& link : plan.linked_rows) {
    if (link.row < 0 || link.row >= real_rows || link.source < 0)
      return Bad("linked row ", link.row, " (source ", link.source, ") out of range");
    linked.push_back(link.row);
  }
  std::sort(linked.begin(), linked.end());
  if (std::adjacent_find(linked.begin(), linked.end()) != linked.end())
    return Bad("a row is linked twice");
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidatePlan(const StepPlan& plan, const PlanLimits& limits) {
  if (absl::Status s = CheckSizes(plan, limits); !s.ok()) return s;
  if (absl::Status s = CheckRows(plan, limits); !s.ok()) return s;
  if (absl::Status s = CheckSegments(plan); !s.ok()) return s;
  return CheckSamplesAndLinks(plan);
}

}  // namespace ribbon
