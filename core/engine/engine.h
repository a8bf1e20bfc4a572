// Engine: the mechanism that turns requests into tokens. Each step it asks the scheduler (the
// policy) what runs, carries out the decision (expire, reject, preempt, allocate KV blocks),
// builds one StepPlan, runs the model over it, samples, and hands tokens to each request's sink.
//
// Ownership: the caller owns the Engine; the Engine owns the model runner, the scheduler and
// every request it accepted (until it calls the request's sink->OnFinish).
// Threads: Submit, Cancel, Stats and Shutdown may be called from any thread. Start() runs the
// step loop on a thread of the engine's own; without Start(), StepOnce() drives it from the
// calling thread (tests, offline tools) — never both.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/engine/request.h"
#include "core/model/model_runner.h"
#include "core/scheduler/scheduler.h"

namespace ribbon {

struct EngineOptions {
  int32_t num_kv_blocks = 0;  // KV cache blocks; 0 = enough for max_running_seqs full contexts
  int32_t block_size = 16;
  std::string scheduler_policy = "ffd";  // "ffd" (First-Fit-Decreasing) or "fcfs"
  sched::SchedulerOptions scheduler;
  int32_t max_queued_requests = 1024;          // waiting requests; beyond: RESOURCE_EXHAUSTED
  int64_t max_queued_prompt_tokens = 1 << 20;  // waiting prompt tokens; beyond: RESOURCE_EXHAUSTED
  int32_t debug_step_delay_ms = 0;             // test-only: sleep before each step
  // Pipelined steps: step N+1 is scheduled, planned and queued while step N's forward runs (on a
  // worker thread), which copies the tokens N samples into N+1 and starts it at once
  // (docs/architecture.md, docs/perf/pipeline.md). false = one step at a time on the caller.
  // Off by default: the engine thread then needs a core of its own, and a CPU forward using every
  // core (torch's default) ran 30-40% slower beside it on a 2-core machine.
  bool pipeline = false;
  // After an out-of-memory the step budget halves, never below this.
  int32_t min_ribbon_tokens = 16;
  // Prefix caching (core/kv/block_manager.h): full KV blocks are kept and reused by requests
  // whose prompts start with the same tokens (and cache salt).
  bool prefix_cache = true;
  // Test-only fault injection: called before each forward with the step number; true makes that
  // forward fail as if the device had run out of memory.
  std::function<bool(int64_t step)> debug_inject_oom;
};

// The KV pool to hold when EngineOptions::num_kv_blocks is 0: the blocks max_running_seqs full
// contexts of `context_tokens` could use (more could never be used, so holding them only takes
// memory from the host or device), capped by `blocks_that_fit` (what memory allows: the probe
// measures it; the engine alone assumes a fixed budget). The one place this rule lives.
int32_t KvBlocksToHold(const EngineOptions& options, int64_t context_tokens,
                       int64_t blocks_that_fit);

// A point-in-time view for metrics and GetServerInfo. Any thread.
struct EngineStats {
  int32_t running = 0;
  int32_t waiting = 0;
  int32_t kv_blocks_free = 0;
  int32_t kv_blocks_total = 0;
  int64_t steps = 0;
  int64_t preemptions = 0;
  int64_t oom_recoveries = 0;
  int32_t token_budget = 0;          // the step budget in force (lowered after out-of-memory)
  int32_t prefix_cached_blocks = 0;  // full blocks findable in the prefix cache
  int64_t prefix_evictions = 0;      // cached blocks reused for other data
};

// What one step did, for metrics. Delivered on the engine thread after the step.
struct StepReport {
  int32_t ribbon_rows = 0;  // rows run (real + padding)
  int32_t real_tokens = 0;
  int32_t capacity = 0;       // the step's token budget
  int32_t prompt_tokens = 0;  // prefill tokens among real_tokens
  int32_t decode_tokens = 0;
  int32_t preempted = 0;
  int32_t prefix_query_tokens = 0;  // prompt tokens looked up in the prefix cache this step
  int32_t prefix_hit_tokens = 0;    // of those, found (their KV reused)
  bool oom_recovered = false;       // the forward ran out of memory; the step was retried smaller
  double schedule_seconds = 0;      // policy + plan building
  double host_exposed_seconds = 0;  // the forward engine idle: previous forward's end to this start
  // Of that, the host work the forward waited for besides sampling (scheduling, plan building,
  // delivering, thread hand-offs): previous step's last token drawn to this forward's start.
  double host_gap_seconds = 0;
  double forward_seconds = 0;
  double sample_seconds = 0;
};

// Optional hooks for observability; called on the engine thread; must not block.
class EngineObserver {
 public:
  virtual ~EngineObserver() = default;
  virtual void OnStep(const StepReport& report) {}
  virtual void OnRequestFinished(const GenerationRequest& request, const FinishInfo& info) {}
};

class Engine {
 public:
  static absl::StatusOr<std::unique_ptr<Engine>> Create(const EngineOptions& options,
                                                        std::unique_ptr<ModelRunner> model);
  ~Engine();  // Shutdown(zero grace) if still running.
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const ModelConfig& model_config() const;
  const ModelRunner& model() const;
  const EngineOptions& options() const;

  // Validates and enqueues. On OK the engine has taken the request and will call
  // sink->OnFinish exactly once; the returned id names it for Cancel. On error nothing was
  // queued and the sink is never called: INVALID_ARGUMENT (empty prompt, id outside the vocab,
  // prompt + max_new_tokens past the context), RESOURCE_EXHAUSTED (queue bound), UNAVAILABLE
  // (shutting down).
  absl::StatusOr<uint64_t> Submit(GenerationRequest request, std::shared_ptr<RequestSink> sink);

  // Ends a request at the next step boundary with `reason`; its KV blocks are freed then.
  // Unknown or finished ids are ignored.
  void Cancel(uint64_t id, FinishReason reason = FinishReason::kCancelled);

  // Forgets every cached KV block no request is using, at the next step boundary (an idle
  // engine thread wakes for it), then calls `done` (if any) once with how many blocks it forgot,
  // on the engine thread (it must not block). After Shutdown, `done` gets 0 at once.
  void DropPrefixCache(std::function<void(int32_t dropped)> done = nullptr);

  void SetObserver(std::shared_ptr<EngineObserver> observer);  // before Start()

  void Start();
  // Stops admitting (Submit answers UNAVAILABLE), lets running and queued requests finish for up
  // to `grace`, then ends the rest with UNAVAILABLE and stops the step thread. Idempotent.
  void Shutdown(absl::Duration grace);

  // Runs one step on the calling thread (only when Start() was not called). Returns false when
  // there was nothing to do.
  absl::StatusOr<bool> StepOnce();

  EngineStats Stats() const;

  class Impl;

 private:
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ribbon
