// FcfsScheduler: the first-come-first-served baseline ("fcfs"), kept for comparisons. The same
// admission as the default policy (admission.h: deadlines, never-fits rejections, KV
// reservations, preemption youngest-first), packed in order (packer.h PackInOrder: decodes
// first, then prompts chunked to the remaining budget, nobody overtaking the head of the queue)
// instead of First-Fit-Decreasing.
//
// Ownership and threads: as Scheduler (engine thread only).
#pragma once

#include "core/scheduler/admission.h"
#include "core/scheduler/scheduler.h"

namespace ribbon::sched {

class FcfsScheduler final : public Scheduler {
 public:
  // `options` must be valid (ValidateSchedulerOptions in scheduler_factory.h).
  explicit FcfsScheduler(const SchedulerOptions& options)
      : options_(options), admission_(options) {}
  ScheduleDecision Schedule(const SchedulerInput& input) override;

 private:
  SchedulerOptions options_;
  AdmissionPolicy admission_;
};

}  // namespace ribbon::sched
