#include "core/scheduler/ffd_scheduler.h"

namespace ribbon::sched {

ScheduleDecision AdmittingScheduler::Schedule(const SchedulerInput& input) {
  const int32_t budget = StepTokenBudget(input, options_);
  Admission admitted = admission_.Admit(input, budget);
  const PackInput pack{.decodes = admitted.decodes,
                       .prefills = admitted.prefills,
                       .token_budget = budget,
                       .align = options_.align,
                       .kv_free_blocks = admitted.kv_free_blocks,
                       .block_size = input.kv.block_size,
                       .max_blocks_per_seq = options_.max_blocks_per_seq};
  Packing packed = pack_(pack);
  ScheduleDecision d;
  d.chunks = std::move(packed.chunks);
  d.preempted = std::move(admitted.preempted);
  d.rejected = std::move(admitted.rejected);
  d.expired = std::move(admitted.expired);
  d.real_tokens = packed.real_tokens;
  d.ribbon_rows = packed.ribbon_rows;
  return d;
}

}  // namespace ribbon::sched
