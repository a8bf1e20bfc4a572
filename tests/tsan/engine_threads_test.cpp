// The engine on its own thread, driven the way the daemon drives it: requests submitted from
// several threads at once, cancels from another, Stats() polled all the while, then Shutdown.
// The other engine tests step the engine on the test's thread; this one is the workload that
// ThreadSanitizer watches in `make test-tsan`. Built once more against an engine with a planted
// race (RIBBON_TSAN_PLANTED_RACE), the same workload must make TSan report it
// (tests/tsan/expect_planted_race.sh).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "core/engine/engine.h"
#include "tests/fakes/fake_runner.h"

namespace ribbon::testing {
namespace {

// Written on the engine thread, read on the test's thread: everything under its own lock.
class WaitableSink final : public RequestSink {
 public:
  void OnTokens(std::span<const SampledToken> tokens) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& t : tokens) ids_.push_back(t.token);
  }
  void OnFinish(const FinishInfo& finish) override {
    std::lock_guard<std::mutex> lock(mu_);
    reason_ = finish.reason;
    ++finish_calls_;
    done_.notify_all();
  }
  bool WaitFinished(std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return done_.wait_for(lock, timeout, [&] { return finish_calls_ > 0; });
  }
  std::vector<int32_t> ids() const {
    std::lock_guard<std::mutex> lock(mu_);
    return ids_;
  }
  FinishReason reason() const {
    std::lock_guard<std::mutex> lock(mu_);
    return reason_;
  }
  int finish_calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return finish_calls_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable done_;
  std::vector<int32_t> ids_;
  FinishReason reason_ = FinishReason::kCancelled;
  int finish_calls_ = 0;
};

struct Submitted {
  GenerationRequest request;
  std::shared_ptr<WaitableSink> sink;
  uint64_t id = 0;
};

// Ids reach the cancelling thread through this list (its own lock).
struct SubmittedList {
  std::mutex mu;
  std::vector<Submitted> all;
};

GenerationRequest RandomRequest(std::mt19937& rng) {
  GenerationRequest r;
  for (int k = 1 + static_cast<int>(rng() % 40); k > 0; --k)
    r.prompt.push_back(2 + static_cast<int32_t>(rng() % 90));
  r.stop.max_new_tokens = 1 + static_cast<int32_t>(rng() % 48);
  return r;
}

// Catch2's assertions are not thread-safe: the helper threads count failures instead.
void SubmitMany(Engine& engine, SubmittedList& list, uint32_t seed, int count,
                std::atomic<int>& refused) {
  std::mt19937 rng(seed);
  for (int i = 0; i < count; ++i) {
    Submitted s{RandomRequest(rng), std::make_shared<WaitableSink>(), 0};
    auto id = engine.Submit(s.request, s.sink);
    if (!id.ok()) {
      refused.fetch_add(1);
      continue;
    }
    s.id = *id;
    {
      std::lock_guard<std::mutex> lock(list.mu);
      list.all.push_back(std::move(s));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 1500));
  }
}

// Cancels every seventh request it sees, until `stop`.
void CancelSome(Engine& engine, SubmittedList& list, const std::atomic<bool>& stop) {
  size_t seen = 0;
  while (!stop.load()) {
    std::vector<uint64_t> to_cancel;
    {
      std::lock_guard<std::mutex> lock(list.mu);
      for (; seen < list.all.size(); ++seen)
        if (seen % 7 == 3) to_cancel.push_back(list.all[seen].id);
    }
    for (uint64_t id : to_cancel) engine.Cancel(id);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void RunThreaded(bool pipeline) {
  FakeDeviceMemory memory(256 << 20);
  FakeRunnerOptions fo;
  EngineOptions o;
  o.num_kv_blocks = 24;  // 384 tokens for up to 88-token sequences: preemptions happen
  o.block_size = 16;
  o.scheduler.max_ribbon_tokens = 128;
  o.pipeline = pipeline;
  auto engine = Engine::Create(o, std::make_unique<FakeRunner>(fo, memory));
  REQUIRE(engine.ok());
  (*engine)->Start();

  constexpr int kSubmitters = 3, kPerSubmitter = 60;
  SubmittedList list;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> polls{0};
  std::atomic<int> refused{0}, bad_stats{0};
  std::thread canceller([&] { CancelSome(**engine, list, stop); });
  std::thread poller([&] {
    while (!stop.load()) {
      const EngineStats s = (*engine)->Stats();
      if (s.kv_blocks_free > s.kv_blocks_total || s.running < 0 || s.waiting < 0)
        bad_stats.fetch_add(1);
      polls.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::vector<std::thread> submitters;
  for (int t = 0; t < kSubmitters; ++t)
    submitters.emplace_back(
        [&, t] { SubmitMany(**engine, list, 100 + t, kPerSubmitter, refused); });
  for (auto& t : submitters) t.join();
  for (auto& s : list.all) REQUIRE(s.sink->WaitFinished(std::chrono::seconds(120)));
  stop.store(true);
  canceller.join();
  poller.join();
  (*engine)->Shutdown(absl::Seconds(5));

  int completed = 0;
  for (const auto& s : list.all) {
    REQUIRE(s.sink->finish_calls() == 1);
    const auto expected =
        FakeRunner::ExpectedGreedy(s.request.prompt, s.request.stop.max_new_tokens, fo.vocab_size);
    const auto ids = s.sink->ids();
    if (s.sink->reason() == FinishReason::kCancelled) {
      REQUIRE(ids.size() <= expected.size());
      CHECK(std::equal(ids.begin(), ids.end(), expected.begin()));
    } else {
      ++completed;
      CHECK(ids == expected);
    }
  }
  const EngineStats end = (*engine)->Stats();
  CHECK(refused.load() == 0);
  CHECK(bad_stats.load() == 0);
  CHECK(list.all.size() == kSubmitters * kPerSubmitter);
  CHECK(completed > 0);
  CHECK(polls.load() > 0);
  CHECK(end.running == 0);
  CHECK(end.waiting == 0);
  CHECK(end.kv_blocks_free == end.kv_blocks_total);  // free or cached, none held
}

}  // namespace

TEST_CASE("the threaded engine under concurrent submits, cancels and stats reads",
          "[engine][threads]") {
  for (bool pipeline : {false, true}) {
    DYNAMIC_SECTION("pipeline " << pipeline) { RunThreaded(pipeline); }
  }
}

}  // namespace ribbon::testing
