// ValidatePlan: the one check of a StepPlan's consistency, run by every runner before anything
// reaches a kernel (on a GPU a bad index faults the whole context, not just the step) and by the
// tests of every plan producer.
//
// Checks: array sizes; cu_seqlens from 0, non-decreasing, within num_rows; token ids inside the
// vocabulary; positions inside the context and consecutive within a segment, the last row's
// position + 1 == kv_len; every KV slot -1 or exactly the slot its sequence's block table gives
// for its position; block indices inside the cache; alignment rows write no KV; sample rows
// strictly increasing, real, each with its sampling inputs; linked rows real, distinct, with a
// non-negative source. Returns INVALID_ARGUMENT naming the first inconsistency.
// Threads: a pure function; any thread.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "core/plan/step_plan.h"

namespace ribbon {

// What a plan may reference.
struct PlanLimits {
  int64_t vocab_size = 0;
  int64_t max_position = 0;  // positions must be below this (RoPE table size)
  int32_t num_blocks = 0;    // KV cache blocks
  int32_t block_size = 0;
};

absl::Status ValidatePlan(const StepPlan& plan, const PlanLimits& limits);

}  // namespace ribbon
