// FfdScheduler: the default policy ("ffd"). Admission (admission.h: deadlines, never-fits
// rejections, KV reservations and preemption youngest-first, aging, priorities) decides who may
// run; packing (packer.h: decodes first, then First-Fit-Decreasing prefill chunks, or a padded
// [B, Lmax] batch in BatchingMode::kPadded) decides how. See docs/scheduler.md.
//
// Ownership and threads: as Scheduler (engine thread only).
#pragma once

#include "core/scheduler/admission.h"
#include "core/scheduler/scheduler.h"

namespace ribbon::sched {

class FfdScheduler final : public Scheduler {
 public:
  // `options` must be valid (ValidateSchedulerOptions in scheduler_factory.h).
  explicit FfdScheduler(const SchedulerOptions& options) : options_(options), admission_(options) {}
  ScheduleDecision Schedule(const SchedulerInput& input) override;

 private:
  SchedulerOptions options_;
  AdmissionPolicy admission_;
};

}  // namespace ribbon::sched
