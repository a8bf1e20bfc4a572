// The pipelined engine (step N+1 planned while step N's forward runs, sampled tokens patched in
// when they land) produces exactly what the one-step-at-a-time engine produces, including when
// sequences stop early, are preempted, or a forward runs out of memory.
#include <catch2/catch.hpp>
#include <random>

#include "core/engine/engine.h"
#include "tests/core/engine/engine_test_util.h"

namespace ribbon::testing {
namespace {

std::vector<GenerationRequest> Workload() {
  std::vector<GenerationRequest> requests;
  int i = 0;
  for (const auto& g : LoadGolden()) {
    GenerationRequest r;
    r.request_id = g.name;
    r.prompt = g.prompt;
    r.stop.max_new_tokens = g.max_new_tokens;
    r.stop.stop_token_ids = {1, 2};  // several golden runs end early on BOS
    if (i++ % 3 == 0) {
      r.sampling.temperature = 0.9f;
      r.sampling.seed = 100 + i;
    }
    requests.push_back(r);
  }
  return requests;
}

struct Outcome {
  std::vector<std::vector<int32_t>> outputs;
  std::vector<FinishReason> reasons;
  std::vector<int32_t> prompt_computed;  // per request, as the access log reports it
  std::vector<int32_t> prompt_cached;    // per request: prompt tokens the prefix cache supplied
  EngineStats stats;
};

Outcome Run(bool pipeline, int32_t kv_blocks, bool inject_oom) {
  auto model = LoadModel({.path = Stories260k(), .num_threads = 2});
  REQUIRE(model.ok());
  EngineOptions options;
  options.pipeline = pipeline;
  options.scheduler.max_ribbon_tokens = 128;
  options.num_kv_blocks = kv_blocks;
  if (inject_oom) {
    auto rng = std::make_shared<std::mt19937>(99);
    options.debug_inject_oom = [rng](int64_t) { return (*rng)() % 12 == 0; };
  }
  auto engine = Engine::Create(options, std::move(*model));
  REQUIRE(engine.ok());
  const auto requests = Workload();
  const auto sinks = SubmitAndRun(**engine, requests);
  Outcome out;
  for (const auto& s : sinks) {
    REQUIRE(s->finish_calls == 1);
    INFO(s->info.status.ToString());
    REQUIRE(s->info.status.ok());
    out.outputs.push_back(s->ids);
    out.reasons.push_back(s->info.reason);
    out.prompt_computed.push_back(s->info.prompt_tokens_computed);
    out.prompt_cached.push_back(s->info.cached_prompt_tokens);
  }
  out.stats = (*engine)->Stats();
  REQUIRE(out.stats.kv_blocks_free == out.stats.kv_blocks_total);
  return out;
}

void RequireSame(const Outcome& a, const Outcome& b) {
  for (size_t i = 0; i < a.outputs.size(); ++i) {
    INFO("request " << i);
    CHECK(a.outputs[i] == b.outputs[i]);
    CHECK(a.reasons[i] == b.reasons[i]);
  }
}

}  // namespace

TEST_CASE("pipeline on and off give token-identical outputs", "[engine][pipeline]") {
  const Outcome off = Run(false, 2048, false);
  const Outcome on = Run(true, 2048, false);
  RequireSame(off, on);
  // Without preemption every prompt token goes through the model exactly once or comes from the
  // prefix cache (a preempted sequence's prompt is computed again and counted again). The golden
  // workload repeats each prompt, so the cache supplies some.
  const auto requests = Workload();
  int32_t cached = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const int32_t n = static_cast<int32_t>(requests[i].prompt.size());
    CHECK(on.prompt_computed[i] + on.prompt_cached[i] == n);
    CHECK(off.prompt_computed[i] + off.prompt_cached[i] == n);
    cached += off.prompt_cached[i];
  }
  CHECK(cached > 0);
  // The golden set really exercises early stops, so dead rows in a planned step are covered.
  CHECK(std::count(off.reasons.begin(), off.reasons.end(), FinishReason::kStopToken) >= 2);
}

TEST_CASE("pipeline with preemption and injected out-of-memory still matches",
          "[engine][pipeline]") {
  const Outcome reference = Run(false, 2048, false);
  const Outcome tight = Run(true, 48, false);
  CHECK(tight.stats.preemptions > 0);
  RequireSame(reference, tight);
  const Outcome faulty = Run(true, 2048, true);
  CHECK(faulty.stats.oom_recoveries > 0);
  RequireSame(reference, faulty);
}

TEST_CASE("an engine destroyed with pipelined steps in flight finishes every request",
          "[engine][pipeline]") {
  auto model = LoadModel({.path = Stories260k(), .num_threads = 1});
  REQUIRE(model.ok());
  EngineOptions options;
  options.pipeline = true;
  auto engine = Engine::Create(options, std::move(*model));
  REQUIRE(engine.ok());
  std::vector<std::shared_ptr<CollectingSink>> sinks;
  for (const auto& r : Workload()) {
    sinks.push_back(std::make_shared<CollectingSink>());
    REQUIRE((*engine)->Submit(r, sinks.back()).ok());
  }
  for (int i = 0; i < 3; ++i) REQUIRE((*engine)->StepOnce().ok());  // leaves a step queued
  engine->reset();
  for (const auto& s : sinks) CHECK(s->finish_calls == 1);
}

}  // namespace ribbon::testing
