#include "core/model/cuda/offline_plan.h"

#include <algorithm>

#include "core/common/status_macros.h"

namespace ribbon {

absl::StatusOr<StepPlan> BuildOfflinePlan(BlockManager& blocks,
                                          std::span<const PlanSegment> segments, int32_t align) {
  StepPlan plan;
  plan.block_size = blocks.block_size();
  plan.num_seqs = static_cast<int32_t>(segments.size());
  plan.cu_seqlens = {0};
  int32_t max_blocks = 1;
  for (const auto& seg : segments) {
    const int32_t end = seg.start + static_cast<int32_t>(seg.tokens.size()) + seg.pad_rows;
    RETURN_IF_ERROR(blocks.EnsureCapacity(seg.seq_id, end));
    max_blocks = std::max(max_blocks, blocks.BlocksHeld(seg.seq_id));
  }
  plan.max_blocks_per_seq = max_blocks;
  plan.block_tables.assign(segments.size() * static_cast<size_t>(max_blocks), 0);
  for (size_t s = 0; s < segments.size(); ++s) {
    const PlanSegment& seg = segments[s];
    const int32_t real = static_cast<int32_t>(seg.tokens.size());
    const int32_t first_row = static_cast<int32_t>(plan.token_ids.size());
    for (int32_t j = 0; j < real + seg.pad_rows; ++j) {
      plan.token_ids.push_back(j < real ? seg.tokens[j] : StepPlan::kPadToken);
      plan.positions.push_back(seg.start + j);
      plan.slot_mapping.push_back(blocks.Slot(seg.seq_id, seg.start + j));
    }
    if (seg.sample == SampleRows::kAll) {
      for (int32_t j = 0; j < real; ++j) plan.sample_rows.push_back(first_row + j);
    } else if (seg.sample == SampleRows::kLast && real > 0) {
      plan.sample_rows.push_back(first_row + real - 1);
    }
    plan.real_tokens += real;
    plan.cu_seqlens.push_back(static_cast<int32_t>(plan.token_ids.size()));
    plan.kv_lens.push_back(seg.start + real + seg.pad_rows);
    const auto table = blocks.BlockTable(seg.seq_id);
    std::copy(table.begin(), table.end(), plan.block_tables.begin() + s * max_blocks);
  }
  const int32_t used = static_cast<int32_t>(plan.token_ids.size());
  const int32_t step = std::max(1, align);
  plan.num_rows = (used + step - 1) / step * step;
  for (int32_t r = used; r < plan.num_rows; ++r) {
    plan.token_ids.push_back(StepPlan::kPadToken);
    plan.positions.push_back(0);
    plan.slot_mapping.push_back(-1);
  }
  return plan;
}

}  // namespace ribbon
