// Engine::Impl: the step loop behind the Engine facade. Engine-internal.
// Ownership and threads: see core/engine/engine.h. Members under "inbox" are guarded by mu_;
// everything else belongs to the engine thread (or the StepOnce caller).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "core/engine/engine.h"
#include "core/engine/oom_policy.h"
#include "core/engine/plan_builder.h"
#include "core/engine/sequence.h"
#include "core/engine/sequence_table.h"
#include "core/engine/step.h"
#include "core/engine/step_pipeline.h"
#include "core/kv/block_manager.h"
#include "core/plan/step_plan.h"

namespace ribbon {

class Engine::Impl {
 public:
  Impl(const EngineOptions& options, std::unique_ptr<ModelRunner> model,
       std::unique_ptr<sched::Scheduler> scheduler, int32_t num_blocks);
  ~Impl();

  absl::StatusOr<uint64_t> Submit(GenerationRequest request, std::shared_ptr<RequestSink> sink);
  void Cancel(uint64_t id, FinishReason reason);
  void DropPrefixCache(std::function<void(int32_t)> done);
  void Start();
  void Shutdown(absl::Duration grace);
  absl::StatusOr<bool> StepOnce();
  EngineStats Stats() const;

  EngineOptions options_;
  std::unique_ptr<ModelRunner> model_;
  std::shared_ptr<EngineObserver> observer_;

 private:
  absl::Status Validate(const GenerationRequest& request) const;
  void DrainInbox();
  // Prefix-cache matches found for idle sequences this step (not yet taken): the policy sees
  // them as computed tokens; only the sequences it schedules take them (TakeScheduledMatches).
  struct CacheMatch {
    Sequence* seq = nullptr;
    int32_t blocks = 0;
    int32_t revived = 0;
  };
  std::vector<sched::SeqState> Snapshot(const std::vector<CacheMatch>& matches) const;
  bool EndsWithPendingToken(const Sequence& seq) const;
  void ApplyDecision(const sched::ScheduleDecision& decision);
  // Schedules the next step and builds its plan. With `speculative` (a step is in flight) the
  // decision may not preempt, reject or expire anything: then nothing happens and it returns
  // null, and the step is scheduled again once the flight has landed.
  std::unique_ptr<Step> Prepare(bool speculative);
  // Commits the step and starts it; pipelined, it is queued behind the step in flight (its
  // plan links rows to that step's output).
  void Launch(std::unique_ptr<Step> step);
  // Waits for the oldest step in flight, then delivers its tokens (or rolls it back).
  void Complete();
  void RunForward(Step& step);  // on the forward's thread: touches only the step
  void Deliver(Step& step);
  void ReportTimes(Step& step);
  void RollBack(const Step& step);
  void Finish(Sequence& seq, FinishReason reason, absl::Status status);
  void RemoveFinished();
  void Preempt(Sequence& seq);
  // Prefix cache: finds the cached blocks of the leading tokens of waiting and preempted
  // sequences that hold no KV (always leaving one token to compute), without taking them.
  std::vector<CacheMatch> PeekCachedPrefixes();
  // The sequences the decision schedules take their matched blocks (pinned from now on); the
  // others take nothing, so a waiting sequence never holds KV.
  void TakeScheduledMatches(const std::vector<CacheMatch>& matches,
                            const sched::ScheduleDecision& decision);
  // Prefix cache: publishes the full blocks a landed step computed.
  void PublishComputedBlocks(const Step& step);
  // The engine's one call of SequenceTable::Transition: an illegal move is a bug, logged.
  void Move(Sequence& seq, SeqState to);
  bool ShrinkBudget(int32_t failed_rows);  // false: the policy gives up
  void PublishStats();
  void Loop();

  std::unique_ptr<sched::Scheduler> scheduler_;
  BlockManager blocks_;

  // Inbox (mu_).
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Sequence>> inbox_;
  std::vector<std::pair<uint64_t, FinishReason>> cancels_;
  bool accepting_ = true;
  bool stop_ = false;
  bool abort_all_ = false;
  bool drop_prefix_cache_ = false;
  std::vector<std::function<void(int32_t)>> drop_done_;  // told how many blocks the drop forgot

  // Engine thread.
  SequenceTable table_;
  PlanBuilder builder_;
  StepPipeline pipeline_;  // launched steps, oldest first; at most two (destroyed before table_)
  OomPolicy oom_policy_;
  TimeNs last_forward_done_ = 0;
  int32_t prefix_query_tokens_ = 0;  // since the last step was prepared (for its report)
  int32_t prefix_hit_tokens_ = 0;
  std::thread thread_;

  std::atomic<uint64_t> next_id_{1};
  std::atomic<int32_t> queued_{0};
  std::atomic<int64_t> queued_prompt_tokens_{0};
  std::atomic<int32_t> running_{0};
  std::atomic<int32_t> live_count_{0};
  std::atomic<int64_t> steps_{0};
  std::atomic<int64_t> preemptions_{0};
  std::atomic<int64_t> oom_recoveries_{0};
  std::atomic<int32_t> token_budget_{0};
  std::atomic<int64_t> prefix_evictions_{0};

#ifdef RIBBON_TSAN_PLANTED_RACE
  // Test-only (tests/tsan/): Submit's caller and the engine thread both bump this with no lock,
  // a data race ThreadSanitizer must report, which shows that `make test-tsan` can see one.
  // Never defined outside the tsan_planted_race target.
  __attribute__((noinline)) void PlantedRaceTouch() { ++planted_race_; }
  int64_t planted_race_ = 0;
#endif
};

}  // namespace ribbon
