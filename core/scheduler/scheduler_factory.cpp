#include "core/scheduler/scheduler_factory.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/common/status_macros.h"
#include "core/scheduler/ffd_scheduler.h"

namespace ribbon::sched {

std::vector<std::string> SchedulerPolicyNames() { return {"ffd", "fcfs"}; }

absl::Status ValidateSchedulerOptions(const SchedulerOptions& o) {
  auto bad = [](const char* name, int64_t value, const std::string& rule) {
    return absl::InvalidArgumentError(
        absl::StrCat("scheduler option ", name, " = ", value, ": ", rule));
  };
  if (o.align < 1) return bad("align", o.align, "must be >= 1 (1 = no alignment)");
  if (o.max_ribbon_tokens < o.align) {
    return bad("max_ribbon_tokens", o.max_ribbon_tokens,
               absl::StrCat("must be >= align (", o.align, ")"));
  }
  if (o.max_running_seqs < 1) return bad("max_running_seqs", o.max_running_seqs, "must be >= 1");
  if (o.max_blocks_per_seq < 0) {
    return bad("max_blocks_per_seq", o.max_blocks_per_seq, "must be >= 0 (0 = unlimited)");
  }
  if (o.max_wait_steps < 1) return bad("max_wait_steps", o.max_wait_steps, "must be >= 1");
  if (o.kv_headroom_blocks_per_seq < 0) {
    return bad("kv_headroom_blocks_per_seq", o.kv_headroom_blocks_per_seq, "must be >= 0");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Scheduler>> MakeScheduler(std::string_view policy_name,
                                                         const SchedulerOptions& options) {
  RETURN_IF_ERROR(ValidateSchedulerOptions(options));
  if (policy_name == "ffd") return std::make_unique<FfdScheduler>(options);
  if (policy_name == "fcfs") {
    if (options.mode != BatchingMode::kPacked) {
      return absl::InvalidArgumentError(
          "scheduler policy \"fcfs\" supports packed batching only; use \"ffd\" for padded");
    }
    return std::make_unique<FcfsScheduler>(options);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown scheduler policy \"", std::string(policy_name),
                   "\"; known: ", absl::StrJoin(SchedulerPolicyNames(), ", ")));
}

}  // namespace ribbon::sched
