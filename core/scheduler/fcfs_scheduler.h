// FcfsScheduler: the minimal first-come-first-served policy of the foundation engine, kept as a
// baseline for comparisons. Decodes first, then prompts (chunked to the remaining budget) in
// arrival order; when KV blocks run out, the youngest running sequence is preempted.
//
// Ownership and threads: as Scheduler (engine thread only).
#pragma once

#include "core/scheduler/scheduler.h"

namespace ribbon::sched {

class FcfsScheduler final : public Scheduler {
 public:
  explicit FcfsScheduler(const SchedulerOptions& options) : options_(options) {}
  ScheduleDecision Schedule(const SchedulerInput& input) override;

 private:
  SchedulerOptions options_;
};

}  // namespace ribbon::sched
