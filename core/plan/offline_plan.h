// Builds StepPlans without the engine, for offline drivers: the teacher-forcing tool, the GPU
// tests and the GPU benchmarks, through the engine's own PlanBuilder (core/plan/plan_builder.h).
// KV blocks come from a BlockManager the caller owns (one sequence id per sequence).
// Torch-free; host only.
//
// Threads: the caller's; the BlockManager is mutated (EnsureCapacity).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "core/kv/block_manager.h"
#include "core/plan/step_plan.h"

namespace ribbon {

enum class SampleRows { kNone, kLast, kAll };

// One sequence's rows in a step.
struct PlanSegment {
  uint64_t seq_id = 0;
  int32_t start = 0;            // position of tokens[0]; positions [0, start) are already cached
  std::vector<int32_t> tokens;  // real tokens at positions start, start + 1, ...
  int32_t pad_rows = 0;         // padded-mode pad rows after the tokens: they attend and write KV
  SampleRows sample = SampleRows::kLast;  // which real rows sample
  RowSampling sampling;                   // how they sample (default: greedy)
};

// Lays the segments end to end (pads after each segment's tokens), then alignment rows up to a
// multiple of `align`. Grows each sequence's blocks to cover its rows; RESOURCE_EXHAUSTED when
// the BlockManager runs out; INVALID_ARGUMENT from PlanBuilder (e.g. a position past
// `max_position`). Sample rows are in segment order.
absl::StatusOr<StepPlan> BuildOfflinePlan(BlockManager& blocks,
                                          std::span<const PlanSegment> segments, int32_t align = 1,
                                          int32_t max_position = 1 << 30);

}  // namespace ribbon
