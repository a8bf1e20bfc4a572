// Prefix caching through the engine, exactly: thousands of requests drawn from a few shared
// prefixes with random suffixes, random cancels and preemptions under a tight KV pool, with the
// cache on and off, every completed output equal to what the fake model predicts (it reads its
// KV back through the block tables, so a wrongly shared block changes the output). At the end
// every block is free or cached and no block is referenced.
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <random>

#include "core/engine/engine.h"
#include "tests/core/engine/engine_test_util.h"
#include "tests/fakes/fake_runner.h"

namespace ribbon::testing {
namespace {

struct Outcome {
  int completed = 0, cancelled = 0;
  int64_t cached_tokens = 0, computed_prompt_tokens = 0;
  EngineStats stats;
};

Outcome Run(bool cache, int requests, uint32_t seed, bool pipeline) {
  FakeDeviceMemory memory(256 << 20);
  FakeRunnerOptions fo;
  EngineOptions o;
  o.num_kv_blocks = 40;  // 640 tokens for sequences of up to ~180: preemptions happen
  o.block_size = 16;
  o.scheduler.max_ribbon_tokens = 256;
  o.prefix_cache = cache;
  o.max_queued_requests = 4096;
  o.pipeline = pipeline;
  auto engine = Engine::Create(o, std::make_unique<FakeRunner>(fo, memory));
  REQUIRE(engine.ok());
  std::mt19937 rng(seed);
  std::vector<std::vector<int32_t>> prefixes;
  for (int p = 0; p < 4; ++p) {
    std::vector<int32_t> t;
    for (int i = 0; i < 16 * (1 + p) + 5; ++i) t.push_back(2 + static_cast<int32_t>(rng() % 90));
    prefixes.push_back(t);
  }
  std::vector<GenerationRequest> batch;
  std::vector<std::shared_ptr<CollectingSink>> sinks;
  std::vector<bool> cancel;
  for (int i = 0; i < requests; ++i) {
    GenerationRequest r;
    r.prompt = prefixes[rng() % prefixes.size()];
    for (int k = static_cast<int>(rng() % 40); k > 0; --k) r.prompt.push_back(2 + rng() % 90);
    r.stop.max_new_tokens = 1 + static_cast<int32_t>(rng() % 64);
    r.cache_salt = rng() % 8 == 0 ? "other-tenant" : "";
    batch.push_back(r);
    cancel.push_back(rng() % 10 == 0);
  }
  Outcome out;
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < batch.size(); ++i) {
    sinks.push_back(std::make_shared<CollectingSink>());
    auto id = (*engine)->Submit(batch[i], sinks.back());
    REQUIRE(id.ok());
    ids.push_back(*id);
    if (i % 16 == 15) {  // arrivals in waves, cancels landing mid-run
      for (int s = 0; s < 3; ++s) REQUIRE((*engine)->StepOnce().ok());
      for (size_t j = i - 15; j <= i; ++j)
        if (cancel[j]) (*engine)->Cancel(ids[j]);
    }
  }
  RunToCompletion(**engine);
  for (size_t i = 0; i < batch.size(); ++i) {
    REQUIRE(sinks[i]->finish_calls == 1);
    const auto expected =
        FakeRunner::ExpectedGreedy(batch[i].prompt, batch[i].stop.max_new_tokens, fo.vocab_size);
    if (sinks[i]->info.reason == FinishReason::kCancelled) {
      ++out.cancelled;
      REQUIRE(sinks[i]->ids.size() <= expected.size());
      CHECK(std::equal(sinks[i]->ids.begin(), sinks[i]->ids.end(), expected.begin()));
    } else {
      ++out.completed;
      CHECK(sinks[i]->ids == expected);
    }
    out.cached_tokens += sinks[i]->info.cached_prompt_tokens;
    out.computed_prompt_tokens += sinks[i]->info.prompt_tokens_computed;
  }
  out.stats = (*engine)->Stats();
  CHECK(out.stats.kv_blocks_free == out.stats.kv_blocks_total);  // free or cached, none held
  return out;
}

}  // namespace

TEST_CASE("with the prefix cache on, outputs equal the model's, and nothing leaks") {
  for (bool pipeline : {false, true}) {
    DYNAMIC_SECTION("pipeline " << pipeline) {
      const Outcome off = Run(false, 1200, 7, pipeline);
      const Outcome on = Run(true, 1200, 7, pipeline);
      CHECK(off.cached_tokens == 0);
      CHECK(on.cached_tokens > 0);
      CHECK(on.computed_prompt_tokens < off.computed_prompt_tokens);
      CHECK(on.stats.preemptions > 0);
      CHECK(on.cancelled > 0);
      CHECK(on.stats.prefix_cached_blocks > 0);
    }
  }
}

TEST_CASE("dropping the cache forgets every idle block") {
  FakeDeviceMemory memory(64 << 20);
  EngineOptions o;
  o.num_kv_blocks = 64;
  auto engine = Engine::Create(o, std::make_unique<FakeRunner>(FakeRunnerOptions{}, memory));
  REQUIRE(engine.ok());
  GenerationRequest r;
  for (int i = 0; i < 40; ++i) r.prompt.push_back(2 + i);
  r.stop.max_new_tokens = 4;
  auto first = SubmitAndRun(**engine, {r});
  CHECK((*engine)->Stats().prefix_cached_blocks == 2);
  auto second = SubmitAndRun(**engine, {r});
  CHECK(second[0]->info.cached_prompt_tokens == 32);
  CHECK(second[0]->ids == first[0]->ids);
  int32_t dropped = -1;
  (*engine)->DropPrefixCache([&dropped](int32_t n) { dropped = n; });
  REQUIRE((*engine)->StepOnce().ok());
  CHECK(dropped == 2);
  CHECK((*engine)->Stats().prefix_cached_blocks == 0);
  auto third = SubmitAndRun(**engine, {r});
  CHECK(third[0]->info.cached_prompt_tokens == 0);
  CHECK(third[0]->ids == first[0]->ids);
}

// The admin drop on a running daemon: its engine thread sleeps until there is work, and the drop
// alone must wake it (the RPC waits for the count).
TEST_CASE("a started idle engine drops the cache at once; a stopped one answers 0") {
  FakeDeviceMemory memory(64 << 20);
  EngineOptions o;
  o.num_kv_blocks = 64;
  auto engine = Engine::Create(o, std::make_unique<FakeRunner>(FakeRunnerOptions{}, memory));
  REQUIRE(engine.ok());
  GenerationRequest r;
  for (int i = 0; i < 40; ++i) r.prompt.push_back(2 + i);
  r.stop.max_new_tokens = 4;
  SubmitAndRun(**engine, {r});
  REQUIRE((*engine)->Stats().prefix_cached_blocks == 2);
  (*engine)->Start();
  std::promise<int32_t> dropped;
  (*engine)->DropPrefixCache([&dropped](int32_t n) { dropped.set_value(n); });
  auto answer = dropped.get_future();
  REQUIRE(answer.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK(answer.get() == 2);
  CHECK((*engine)->Stats().prefix_cached_blocks == 0);
  (*engine)->Shutdown(absl::ZeroDuration());
  int32_t after = -1;
  (*engine)->DropPrefixCache([&after](int32_t n) { after = n; });
  CHECK(after == 0);
}

}  // namespace ribbon::testing
