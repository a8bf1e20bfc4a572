#include "core/plan/offline_plan.h"

#include "core/common/status_macros.h"
#include "core/plan/plan_builder.h"

namespace ribbon {

absl::StatusOr<StepPlan> BuildOfflinePlan(BlockManager& blocks,
                                          std::span<const PlanSegment> segments, int32_t align,
                                          int32_t max_position) {
  for (const PlanSegment& seg : segments) {
    const int32_t end = seg.start + static_cast<int32_t>(seg.tokens.size()) + seg.pad_rows;
    RETURN_IF_ERROR(blocks.EnsureCapacity(seg.seq_id, end));
  }
  StepPlan plan;
  PlanBuilder builder(blocks.block_size(), max_position);
  builder.Reset(plan);
  for (const PlanSegment& seg : segments) {
    SegmentSpec spec;
    spec.tokens = seg.tokens;
    spec.start = seg.start;
    spec.num_tokens = static_cast<int32_t>(seg.tokens.size());
    spec.pad_rows = seg.pad_rows;
    spec.block_table = blocks.BlockTable(seg.seq_id);
    if (seg.sample != SampleRows::kNone) spec.sample = seg.sampling;
    spec.sample_count = seg.sample == SampleRows::kAll ? spec.num_tokens : 1;
    RETURN_IF_ERROR(builder.Add(spec));
  }
  builder.Finish({.align = align});
  return plan;
}

}  // namespace ribbon
