// The engine's side of plan building: turns the scheduler's chunks and the sequences' state into
// SegmentSpecs for the one PlanBuilder (core/plan/plan_builder.h). It decides, per chunk, which
// rows are linked to the step in flight (pipelining), whether the sequence still writes KV (one
// that finished after it was scheduled does not), and the sample row's sampling inputs (params,
// output index, stop tokens banned before min_new_tokens, penalty history).
// Engine-internal; torch-free. Threads: the engine thread.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "core/engine/sequence.h"
#include "core/kv/block_manager.h"
#include "core/plan/plan_builder.h"
#include "core/plan/step_plan.h"
#include "core/scheduler/scheduler.h"

namespace ribbon {

struct PlanInputs {
  std::span<const sched::ScheduledChunk> chunks;
  int32_t ribbon_rows = 0;  // >= the rows the chunks need
  std::function<Sequence*(uint64_t)> find;
  // The step in flight (pipelining): its sequences that sample, in its sample order. A chunk's
  // row whose token that step is still drawing is linked to it.
  std::span<Sequence* const> previous_samplers;
  std::span<const int32_t> eos_token_ids;  // the model's
};

// Sample rows' sequences, in sample-row order.
struct PlanSequences {
  std::vector<Sequence*> samplers;
};

// Fills `plan` through `builder`. A chunk samples when it reaches the end of its sequence's known
// tokens (Sequence::known_tokens()) and the sequence is still live. INTERNAL if a chunk cannot be
// laid out (the scheduler and the block manager disagree): the plan is then unusable.
absl::Status BuildStepPlan(const PlanInputs& in, const BlockManager& blocks, PlanBuilder& builder,
                           StepPlan& plan, PlanSequences& out);

// The sampling inputs of `seq`'s next token, `pending` tokens after those it holds.
RowSampling SamplingFor(const Sequence& seq, int32_t pending, std::span<const int32_t> eos_ids);

}  // namespace ribbon
