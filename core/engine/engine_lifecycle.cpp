// Engine::Impl: finishing requests, the step thread, shutdown and statistics.
#include <thread>

#include "core/engine/engine_impl.h"
#include "spdlog/spdlog.h"

namespace ribbon {

void Engine::Impl::Move(Sequence& seq, SeqState to) {
  if (absl::Status moved = table_.Transition(seq, to); !moved.ok())
    spdlog::error("engine: {}", moved.ToString());
}

void Engine::Impl::Finish(Sequence& seq, FinishReason reason, absl::Status status) {
  if (seq.finished()) return;
  // A launched forward may still read and write its blocks: they go back when it lands.
  if (seq.in_flight == 0) blocks_.Free(seq.id);
  if (seq.state == SeqState::kWaiting) {
    queued_.fetch_sub(1);
    queued_prompt_tokens_.fetch_sub(seq.prompt_len);
  }
  Move(seq, SeqState::kFinished);
  seq.info.reason = reason;
  seq.info.status = std::move(status);
  seq.info.generated_tokens = seq.generated();
  seq.info.finished = SteadyNowNs();
  std::shared_ptr<RequestSink> sink = std::move(seq.sink);
  sink->OnFinish(seq.info);
  if (observer_) observer_->OnRequestFinished(seq.request, seq.info);
}

void Engine::Impl::RemoveFinished() { table_.RemoveFinished(); }

void Engine::Impl::Loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] {
        return stop_ || !inbox_.empty() || !cancels_.empty() || drop_prefix_cache_ ||
               live_count_.load() > 0;
      });
    }
#ifdef RIBBON_TSAN_PLANTED_RACE
    PlantedRaceTouch();  // unlocked, on the engine thread (see engine_impl.h)
#endif
    if (options_.debug_step_delay_ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(options_.debug_step_delay_ms));
    absl::StatusOr<bool> stepped = StepOnce();
    if (!stepped.ok()) spdlog::error("engine step failed: {}", stepped.status().ToString());
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ && inbox_.empty() && !drop_prefix_cache_ && live_count_.load() == 0) break;
  }
}

void Engine::Impl::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] { Loop(); });
}

void Engine::Impl::Shutdown(absl::Duration grace) {
  bool threaded;
  {
    std::lock_guard<std::mutex> lock(mu_);
    accepting_ = false;
    threaded = thread_.joinable();
  }
  const absl::Time give_up = absl::Now() + grace;
  while (threaded && absl::Now() < give_up) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (inbox_.empty() && live_count_.load() == 0) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    abort_all_ = true;
    stop_ = true;
  }
  wake_.notify_all();
  if (threaded) {
    thread_.join();
  } else {
    DrainInbox();
  }
}

EngineStats Engine::Impl::Stats() const {
  EngineStats s;
  s.running = running_.load();
  s.waiting = queued_.load();
  s.kv_blocks_free = blocks_.free_blocks();
  s.kv_blocks_total = blocks_.total_blocks();
  s.steps = steps_.load();
  s.preemptions = preemptions_.load();
  s.oom_recoveries = oom_recoveries_.load();
  s.token_budget = token_budget_.load();
  s.prefix_cached_blocks = blocks_.cached_blocks();
  s.prefix_evictions = prefix_evictions_.load();
  return s;
}

}  // namespace ribbon
