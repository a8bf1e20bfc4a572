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
#include "core/engine/forward_worker.h"
#include "core/engine/plan_builder.h"
#include "core/engine/sequence.h"
#include "core/kv/block_manager.h"
#include "core/plan/step_plan.h"

namespace ribbon {

// One step from plan to sampled tokens.
struct Step {
  std::vector<sched::ScheduledChunk> chunks;
  // Prompt tokens in each chunk, fixed at launch (num_computed may move on before it lands).
  std::vector<int32_t> prompt_parts;
  StepPlan plan;
  PlanSequences seqs;
  std::vector<float> logits;
  std::vector<SampledToken> sampled;  // one per sampler, drawn right after the forward
  StepReport report;
  absl::Status forward_status;
  TimeNs forward_started = 0;
  TimeNs forward_done = 0;
  TimeNs draw_done = 0;
  // Pipelined: the step is queued behind the one in flight and takes the tokens that step samples
  // from it on the worker: (row of this plan, index into the previous step's `sampled`).
  std::vector<std::pair<int32_t, int32_t>> links;
  bool aborted = false;  // never ran: the step before it failed
  // Opens once the previous step's tokens are delivered: sampling reads the sequences' outputs.
  Gate draw_ready;
};

class Engine::Impl {
 public:
  Impl(const EngineOptions& options, std::unique_ptr<ModelRunner> model,
       std::unique_ptr<sched::Scheduler> scheduler, int32_t num_blocks);
  ~Impl();

  absl::StatusOr<uint64_t> Submit(GenerationRequest request, std::shared_ptr<RequestSink> sink);
  void Cancel(uint64_t id, FinishReason reason);
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
  std::vector<sched::SeqState> Snapshot() const;
  bool EndsWithPendingToken(const Sequence& seq) const;
  void ApplyDecision(const sched::ScheduleDecision& decision);
  // Schedules the next step and builds its plan. With `speculative` (a step is in flight) the
  // decision may not preempt, reject or expire anything: then nothing happens and it returns
  // null, and the step is scheduled again once the flight has landed.
  std::unique_ptr<Step> Prepare(bool speculative);
  // Commits the step and starts it; pipelined, it is queued behind the step in flight.
  void Launch(std::unique_ptr<Step> step);
  // Links the rows waiting for the in-flight step's tokens to that step's samples; rows of
  // sequences that have finished since the plan was built write no KV and sample nothing.
  void LinkPending(Step& step, const Step* previous);
  // Waits for the oldest step in flight, then delivers its tokens (or rolls it back).
  void Complete();
  absl::Status RunForward(Step& step);
  void DrawTokens(Step& step) const;  // on the forward's thread: reads sequences, writes none
  void Deliver(Step& step);
  void ReportTimes(Step& step);
  void RollBack(const Step& step);
  std::optional<FinishReason> StopReason(const Sequence& seq, int32_t token) const;
  void Finish(Sequence& seq, FinishReason reason, absl::Status status);
  void RemoveFinished();
  void Preempt(Sequence& seq);
  void ShrinkBudget(int32_t failed_rows);
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

  // Engine thread.
  std::vector<std::unique_ptr<Sequence>> live_;  // arrival order
  std::unordered_map<uint64_t, Sequence*> by_id_;
  std::deque<std::unique_ptr<Step>> flights_;  // launched, oldest first; at most two
  std::unique_ptr<Step> landed_;  // kept until the next landing: its successor reads its samples
  std::unique_ptr<ForwardWorker> worker_;  // only when options_.pipeline
  TimeNs last_forward_done_ = 0;
  TimeNs last_draw_done_ = 0;
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
  int32_t oom_streak_ = 0;  // consecutive out-of-memory steps
  static constexpr int32_t kMaxOomRetriesAtFloor =
      8;  // engine thread writes; 0 until the first step
};

}  // namespace ribbon
