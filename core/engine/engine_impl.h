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
#include "core/engine/sequence.h"
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
  void ApplyDecision(const sched::ScheduleDecision& decision);
  absl::Status Run(const sched::ScheduleDecision& decision, StepReport& report);
  void SampleAndAdvance(const std::vector<Sequence*>& samplers, std::span<const sched::ScheduledChunk> chunks);
  std::optional<FinishReason> StopReason(const Sequence& seq, int32_t token) const;
  void Finish(Sequence& seq, FinishReason reason, absl::Status status);
  void RemoveFinished();
  void Preempt(Sequence& seq);
  absl::Status Forward(StepReport& report);
  void ShrinkBudget(int32_t failed_rows);
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
  StepPlan plan_;
  std::vector<float> logits_;
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
  static constexpr int32_t kMaxOomRetriesAtFloor = 8;  // engine thread writes; 0 until the first step
};

}  // namespace ribbon
