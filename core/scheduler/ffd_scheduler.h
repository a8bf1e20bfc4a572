// The schedulers: admission (admission.h: deadlines, never-fits rejections, KV reservations and
// preemption youngest-first, aging, priorities) decides who may run; a packing function
// (packer.h) decides how. See docs/scheduler.md.
//
//   FfdScheduler ("ffd", the default): decodes first, then First-Fit-Decreasing prefill chunks,
//                 or a padded [B, Lmax] batch in BatchingMode::kPadded.
//   FcfsScheduler ("fcfs", the baseline for comparisons): decodes first, then prompts in order,
//                 each chunked to the remaining budget, nobody overtaking the head of the queue.
//
// Ownership and threads: as Scheduler (engine thread only).
#pragma once

#include "core/scheduler/admission.h"
#include "core/scheduler/packer.h"
#include "core/scheduler/scheduler.h"

namespace ribbon::sched {

// Admission, then `pack`. `options` must be valid (ValidateSchedulerOptions).
class AdmittingScheduler : public Scheduler {
 public:
  using PackFn = Packing (*)(const PackInput&);
  AdmittingScheduler(const SchedulerOptions& options, PackFn pack)
      : options_(options), admission_(options), pack_(pack) {}
  ScheduleDecision Schedule(const SchedulerInput& input) override;

 private:
  SchedulerOptions options_;
  AdmissionPolicy admission_;
  PackFn pack_;
};

class FfdScheduler final : public AdmittingScheduler {
 public:
  explicit FfdScheduler(const SchedulerOptions& options)
      : AdmittingScheduler(options,
                           options.mode == BatchingMode::kPadded ? &PackPadded : &PackFfd) {}
};

class FcfsScheduler final : public AdmittingScheduler {
 public:
  explicit FcfsScheduler(const SchedulerOptions& options)
      : AdmittingScheduler(options, &PackInOrder) {}
};

}  // namespace ribbon::sched
