// Step: one engine step from plan to sampled tokens, the unit the pipeline launches and lands.
// Plain data; engine-internal. Threads: built and read on the engine thread; while launched,
// only the pipeline's run function touches it (on the worker when steps overlap).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "core/common/time.h"
#include "core/engine/engine.h"
#include "core/engine/plan_builder.h"
#include "core/model/model_runner.h"
#include "core/plan/step_plan.h"
#include "core/scheduler/scheduler.h"

namespace ribbon {

struct Step {
  std::vector<sched::ScheduledChunk> chunks;
  // Prompt tokens in each chunk, fixed at launch (num_computed may move on before it lands).
  std::vector<int32_t> prompt_parts;
  // Each chunk's sequence's computed tokens once the step has run (published to the prefix
  // cache when it lands).
  std::vector<int32_t> chunk_ends;
  StepPlan plan;
  PlanSequences seqs;
  StepOutput output;  // one sampled token per sampler
  StepReport report;
  absl::Status forward_status;
  TimeNs forward_started = 0;
  TimeNs forward_done = 0;
  bool aborted = false;  // never ran: the step before it failed
};

}  // namespace ribbon
