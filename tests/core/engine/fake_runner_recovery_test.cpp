// The engine's out-of-memory recovery through the path a real out-of-memory takes: the fake
// runner's device runs out when a step is too large (GuardTorch turns the allocator's failure
// into RESOURCE_EXHAUSTED), the engine halves its step budget and retries, and every request
// ends with the tokens the fake model predicts, as it does with memory to spare. No debug
// injection: the budget starts above what the device can hold.
#include <catch2/catch.hpp>
#include <memory>
#include <random>

#include "core/engine/engine.h"
#include "tests/core/engine/engine_test_util.h"
#include "tests/fakes/fake_runner.h"

namespace ribbon::testing {
namespace {

constexpr int64_t kMiB = 1 << 20;

std::vector<GenerationRequest> Requests(int32_t vocab) {
  std::mt19937 rng(20261204);
  std::vector<GenerationRequest> out;
  for (int i = 0; i < 24; ++i) {
    GenerationRequest r;
    r.request_id = "r" + std::to_string(i);
    const int len = 10 + static_cast<int>(rng() % 90);
    for (int t = 0; t < len; ++t) r.prompt.push_back(2 + static_cast<int32_t>(rng() % (vocab - 2)));
    r.stop.max_new_tokens = 5 + static_cast<int32_t>(rng() % 30);
    out.push_back(r);
  }
  return out;
}

struct Outcome {
  std::vector<std::vector<int32_t>> outputs;
  EngineStats stats;
  int64_t oom_steps = 0;
};

// `capacity`: the fake device's bytes. Weights 1 MiB, 256 KV blocks of 16 tokens at 256 B per
// token (1 MiB), 16 KiB per step row: 4 MiB holds a step of at most ~128 rows.
Outcome Run(int64_t capacity, bool pipeline) {
  FakeDeviceMemory memory(capacity);
  FakeRunnerOptions fo;
  fo.kv_bytes_per_token = 256;
  fo.bytes_per_row = 16 << 10;
  auto runner = std::make_unique<FakeRunner>(fo, memory);
  FakeRunner* fake = runner.get();
  EngineOptions o;
  o.num_kv_blocks = 256;
  o.scheduler.max_ribbon_tokens = 512;
  o.pipeline = pipeline;
  auto engine = Engine::Create(o, std::move(runner));
  REQUIRE(engine.ok());
  const auto sinks = SubmitAndRun(**engine, Requests(fo.vocab_size));
  Outcome out;
  for (const auto& s : sinks) {
    REQUIRE(s->finish_calls == 1);
    REQUIRE(s->info.status.ok());
    out.outputs.push_back(s->ids);
  }
  out.stats = (*engine)->Stats();
  out.oom_steps = fake->out_of_memory_steps();
  CHECK(out.stats.kv_blocks_free == out.stats.kv_blocks_total);
  return out;
}

}  // namespace

TEST_CASE("a device too small for the step budget: the engine shrinks and nothing changes") {
  for (bool pipeline : {false, true}) {
    DYNAMIC_SECTION("pipeline " << pipeline) {
      const Outcome roomy = Run(64 * kMiB, pipeline);
      CHECK(roomy.oom_steps == 0);
      const Outcome tight = Run(4 * kMiB, pipeline);
      CHECK(tight.oom_steps > 0);
      CHECK(tight.stats.oom_recoveries > 0);
      CHECK(tight.stats.token_budget < 512);
      CHECK(tight.outputs == roomy.outputs);
      const auto requests = Requests(FakeRunnerOptions{}.vocab_size);
      for (size_t i = 0; i < requests.size(); ++i) {
        CHECK(roomy.outputs[i] == FakeRunner::ExpectedGreedy(requests[i].prompt,
                                                             requests[i].stop.max_new_tokens,
                                                             FakeRunnerOptions{}.vocab_size));
      }
    }
  }
}

}  // namespace ribbon::testing
