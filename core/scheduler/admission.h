// AdmissionPolicy: decides *who* may run this step; the packer (packer.h) decides *how*.
//
// Each step it (1) ends sequences whose deadline has passed, (2) rejects sequences that could
// never fit (more KV blocks than the pool, or than one sequence may hold), (3) reserves KV
// blocks for running sequences in rank order (seq_order.h), preempting the lowest-ranked ones
// when blocks run out, and (4) makes waiting sequences eligible while free KV blocks (less a
// per-running-sequence headroom) and max_running_seqs allow. Aged sequences (waiting for
// max_wait_steps or more) come first, first-come-first-served; eligibility stops at the first
// sequence that does not fit, so nothing overtakes a request that is waiting for blocks.
//
// Ownership: owned by its scheduler. Threads: the engine thread only. It keeps one piece of
// state between steps: since which step each waiting sequence has been waiting (for aging).
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "core/scheduler/scheduler.h"

namespace ribbon::sched {

// A sequence the packer may give prompt tokens to this step.
struct Candidate {
  const SeqState* seq = nullptr;  // points into SchedulerInput::seqs
  int32_t remaining = 0;          // tokens still to compute: num_tokens - num_computed
  bool pinned = false;            // placed before FFD: an aged request or a running continuation
};

// Who may run this step. Pointers point into the SchedulerInput passed to Admit() and are valid
// as long as it is.
struct Admission {
  std::vector<const SeqState*> decodes;  // running, exactly one token to compute; rank order
  // Aged waiting ones (FIFO), then running prompts' continuations (rank order), all pinned; then
  // the other eligible waiting ones (rank order). At most max_running_seqs minus the running.
  std::vector<Candidate> prefills;
  std::vector<SeqId> preempted;
  std::vector<Rejection> rejected;
  std::vector<SeqId> expired;
  int32_t kv_free_blocks = 0;  // free blocks once the preempted sequences' KV is released
};

// Why `seq` can never run under `kv` and `options`, or nullopt if it can.
std::optional<absl::Status> NeverFits(const SeqState& seq, const KvBudget& kv,
                                      const SchedulerOptions& options);

class AdmissionPolicy {
 public:
  explicit AdmissionPolicy(const SchedulerOptions& options) : options_(options) {}
  AdmissionPolicy(const AdmissionPolicy&) = delete;
  AdmissionPolicy& operator=(const AdmissionPolicy&) = delete;

  // Called once per step; every call counts as one step for aging. `token_budget` is the step's
  // (StepTokenBudget): running prompts reserve KV for at most that many tokens.
  Admission Admit(const SchedulerInput& input, int32_t token_budget);

 private:
  struct Ledger;
  // A waiting sequence and since which step it has been waiting.
  struct Waiting {
    bool aged = false;
    int64_t since = 0;
    const SeqState* seq = nullptr;
  };
  struct WaitingSince {
    int64_t since = 0;
    int64_t last_seen = 0;
  };
  void ReserveRunning(std::vector<const SeqState*>& running, int32_t token_budget, Ledger& kv,
                      Admission& out) const;
  void AdmitWaiting(std::vector<Waiting>& waiting, int32_t running_count, Ledger& kv,
                    Admission& out) const;

  SchedulerOptions options_;
  int64_t step_ = 0;
  std::unordered_map<SeqId, WaitingSince> waiting_since_;  // of the sequences waiting now
};

}  // namespace ribbon::sched
