// Builds a scheduling policy by name, for the engine and the configuration layer.
//
// Policies: "ffd" (FfdScheduler, the default: First-Fit-Decreasing ribbons, aging, priorities,
// deadlines, preemption by recompute; packed or padded batching) and "fcfs" (FcfsScheduler, the
// foundation's first-come-first-served baseline; packed batching only).
//
// Pure functions; any thread. The caller owns the returned scheduler.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/scheduler/scheduler.h"

namespace ribbon::sched {

// The names MakeScheduler accepts.
std::vector<std::string> SchedulerPolicyNames();

// INVALID_ARGUMENT naming the first option out of range (e.g. align < 1, a token budget
// smaller than one aligned row group, max_wait_steps < 1).
absl::Status ValidateSchedulerOptions(const SchedulerOptions& options);

// INVALID_ARGUMENT for an unknown name, invalid options, or a batching mode the policy lacks.
absl::StatusOr<std::unique_ptr<Scheduler>> MakeScheduler(std::string_view policy_name,
                                                         const SchedulerOptions& options);

}  // namespace ribbon::sched
