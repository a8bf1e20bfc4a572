// SimEngine: a plain-C++ fake of the engine's mechanism, for driving scheduling policies under a
// simulated clock in tests. Each Step() does what the real engine does around Schedule(), with
// the real BlockManager and no model: drop expired and rejected sequences, free the preempted
// ones' KV (they restart from token 0: preemption by recompute), allocate KV for every chunk,
// advance num_computed, and "sample" one token for every sequence whose known tokens are all
// computed. It checks the decision against the policy's contract as it goes and keeps the first
// violation, so that thousands of random cases can be checked with one assertion each.
//
// Ownership: owns the scheduler and the block manager. Threads: one thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/kv/block_manager.h"
#include "core/scheduler/scheduler.h"

namespace ribbon::sched::testing {

struct SimRequest {
  int32_t prompt_len = 16;
  int32_t max_new_tokens = 1;
  int32_t priority = 0;
  TimeNs deadline = kNoDeadline;  // absolute simulated time
};

enum class SimEnd { kLive, kFinished, kExpired, kRejected };

// What happened to one request.
struct SimRecord {
  SimRequest request;
  int64_t arrival_step = 0;
  int64_t admitted_step = -1;  // first step it ran a chunk; -1 = never
  int64_t ended_step = -1;
  SimEnd end = SimEnd::kLive;
  absl::Status status = absl::OkStatus();  // the rejection, if rejected
  int32_t preemptions = 0;
  int32_t generated = 0;
  int64_t computed_tokens = 0;      // tokens through the "model", recomputation included
  int64_t discarded_tokens = 0;     // computed tokens thrown away by preemptions
  std::vector<int64_t> waits = {};  // steps spent waiting before each (re)admission
};

struct SimOptions {
  int32_t num_blocks = 64;
  int32_t block_size = 16;
  TimeNs step_ns = 1'000'000;  // simulated time per step
  SchedulerOptions sched;      // the policy's options, to check its decisions against
  bool check_aging = true;     // check the aging contract (FfdScheduler)
};

struct SimStep {
  int64_t step = 0;
  ScheduleDecision decision;
  std::vector<SeqId> admitted = {};  // ran their first chunk since (re)entering the queue
};

class SimEngine {
 public:
  SimEngine(const SimOptions& options, std::unique_ptr<Scheduler> scheduler);

  // The request arrives before the next step. Ids are 1, 2, 3, ... in submission order.
  SeqId Submit(const SimRequest& request);
  SimStep Step();
  // Steps until every submitted request has ended, at most `max_steps`; returns the steps run.
  int64_t RunUntilIdle(int64_t max_steps);

  // The budget the engine passes as SchedulerInput::token_budget from now on (0 = none).
  void set_token_budget(int32_t tokens) { token_budget_ = tokens; }

  bool Idle() const { return live_.empty(); }
  int64_t next_step() const { return step_; }
  const SimRecord& record(SeqId id) const { return records_.at(id); }
  const std::map<SeqId, SimRecord>& records() const { return records_; }
  const BlockManager& kv() const { return kv_; }
  // The first broken contract, "" while there is none.
  const std::string& violation() const { return violation_; }

 private:
  struct Live {
    SeqState state;
    int64_t waiting_since = 0;  // step it (re)entered the queue
  };

  void Check(const SimStep& step, const SchedulerInput& input);
  void CheckShape(const SimStep& step, const SchedulerInput& input);
  void CheckAging(const SimStep& step, const std::vector<SeqState>& seqs);
  void Apply(SimStep& step);
  void End(SeqId id, SimEnd end, int64_t step);
  void Fail(const std::string& what);

  SimOptions options_;
  std::unique_ptr<Scheduler> scheduler_;
  BlockManager kv_;
  int64_t step_ = 0;
  int32_t token_budget_ = 0;
  SeqId next_id_ = 1;
  std::map<SeqId, Live> live_;  // ordered by id = arrival order
  std::map<SeqId, SimRecord> records_;
  std::string violation_;
};

}  // namespace ribbon::sched::testing
