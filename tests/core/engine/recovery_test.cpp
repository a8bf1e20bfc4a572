// Preemption by recompute and out-of-memory recovery never change what a request produces.
#include <catch2/catch.hpp>
#include <random>

#include "core/engine/engine.h"
#include "tests/core/engine/engine_test_util.h"

namespace ribbon::testing {
namespace {

struct Workload {
  std::vector<GenerationRequest> requests;
};

// A mixed workload: short and long prompts from the golden set, 40 to 120 new tokens.
Workload Mixed() {
  Workload w;
  int i = 0;
  for (const auto& g : LoadGolden()) {
    if (g.max_new_tokens != 64) continue;
    for (int copy = 0; copy < 2; ++copy, ++i) {
      GenerationRequest r;
      r.request_id = g.name + "#" + std::to_string(copy);
      r.prompt = g.prompt;
      if (copy == 1 && r.prompt.size() > 3) r.prompt.resize(r.prompt.size() - 2);
      r.stop.max_new_tokens = 40 + (i * 37) % 80;
      r.stop.ignore_eos = true;
      w.requests.push_back(r);
    }
  }
  return w;
}

struct Outcome {
  std::vector<std::vector<int32_t>> outputs;
  EngineStats stats;
};

Outcome Run(const Workload& w, EngineOptions options) {
  auto model = LoadModel({.path = Stories260k(), .num_threads = 2});
  REQUIRE(model.ok());
  auto engine = Engine::Create(options, std::move(*model));
  REQUIRE(engine.ok());
  const auto sinks = SubmitAndRun(**engine, w.requests);
  Outcome out;
  for (const auto& s : sinks) {
    REQUIRE(s->finish_calls == 1);
    REQUIRE(s->info.status.ok());
    out.outputs.push_back(s->ids);
  }
  out.stats = (*engine)->Stats();
  REQUIRE(out.stats.kv_blocks_free == out.stats.kv_blocks_total);
  return out;
}

EngineOptions Roomy() {
  EngineOptions o;
  o.scheduler.max_ribbon_tokens = 256;
  o.num_kv_blocks = 2048;
  return o;
}

}  // namespace

TEST_CASE("outputs are token-identical with and without preemption", "[engine][preemption]") {
  const Workload w = Mixed();
  const Outcome reference = Run(w, Roomy());
  REQUIRE(reference.stats.preemptions == 0);

  EngineOptions tight = Roomy();
  tight.num_kv_blocks = 40;  // 640 token slots for 20 requests of up to ~330 tokens each
  const Outcome preempted = Run(w, tight);
  INFO("preemptions: " << preempted.stats.preemptions);
  CHECK(preempted.stats.preemptions > 0);
  for (size_t i = 0; i < w.requests.size(); ++i) {
    INFO(w.requests[i].request_id);
    CHECK(preempted.outputs[i] == reference.outputs[i]);
  }
}

TEST_CASE("out-of-memory injected at random steps: every request completes, outputs unchanged",
          "[engine][oom]") {
  const Workload w = Mixed();
  const Outcome reference = Run(w, Roomy());

  EngineOptions faulty = Roomy();
  auto rng = std::make_shared<std::mt19937>(1234);
  faulty.debug_inject_oom = [rng](int64_t) { return (*rng)() % 10 == 0; };
  const Outcome recovered = Run(w, faulty);
  INFO("OOM recoveries: " << recovered.stats.oom_recoveries << ", final budget "
                          << recovered.stats.token_budget);
  CHECK(recovered.stats.oom_recoveries > 0);
  CHECK(recovered.stats.token_budget < Roomy().scheduler.max_ribbon_tokens);
  for (size_t i = 0; i < w.requests.size(); ++i) {
    INFO(w.requests[i].request_id);
    CHECK(recovered.outputs[i] == reference.outputs[i]);
  }
}

}  // namespace ribbon::testing
