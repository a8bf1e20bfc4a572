// Builds the StepPlan for one step from the scheduler's chunks: the mechanism half of
// "schedule, then run". Engine-internal; torch-free.
// Threads: engine (or packing) thread; the plan is reused across steps to avoid allocation.
#pragma once

#include <functional>
#include <span>

#include "core/engine/sequence.h"
#include "core/kv/block_manager.h"
#include "core/plan/step_plan.h"
#include "core/scheduler/scheduler.h"

namespace ribbon {

struct PlanInputs {
  std::span<const sched::ScheduledChunk> chunks;
  int32_t ribbon_rows = 0;   // >= the rows the chunks need
  int32_t max_position = 0;  // positions must stay below this
  std::function<Sequence*(uint64_t)> find;
};

struct PlanSequences {
  std::vector<Sequence*> samplers;  // in sample-row order
  // Rows whose token is the one still being sampled by the step in flight (pipelining): the
  // plan holds StepPlan::kPadToken there until the token arrives.
  std::vector<std::pair<int32_t, Sequence*>> pending_rows;
};

// Fills `plan` (cleared first). A chunk samples (gets a sample row) when it reaches the end of
// its sequence's known tokens (Sequence::known_tokens()).
PlanSequences BuildStepPlan(const PlanInputs& in, const BlockManager& blocks, StepPlan& plan);

}  // namespace ribbon
