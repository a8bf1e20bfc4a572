// stories260K through the whole engine (scheduler, plan, paged KV cache, CPU attention kernel)
// against the greedy outputs of the reference C implementation (llama2.c run.c).
#include <catch2/catch.hpp>

#include "core/engine/engine.h"
#include "tests/core/engine/engine_test_util.h"

namespace ribbon::testing {
namespace {

std::unique_ptr<Engine> MakeEngine(const EngineOptions& options) {
  auto model = LoadModel({.path = Stories260k(), .num_threads = 2});
  INFO(model.status().ToString());
  REQUIRE(model.ok());
  auto engine = Engine::Create(options, std::move(*model));
  REQUIRE(engine.ok());
  return std::move(*engine);
}

GenerationRequest Request(const GoldenCase& g, bool stop_on_bos_eos) {
  GenerationRequest r;
  r.request_id = g.name;
  r.prompt = g.prompt;
  r.stop.max_new_tokens = g.max_new_tokens;
  r.stop.ignore_eos = !stop_on_bos_eos;
  if (stop_on_bos_eos) r.stop.stop_token_ids = {1, 2};
  return r;
}

// Submits every golden case at once (so they share ribbons) and checks each output.
void CheckAll(Engine& engine, bool stop_on_bos_eos) {
  const auto cases = LoadGolden();
  REQUIRE(cases.size() == 20);
  std::vector<GenerationRequest> requests;
  for (const auto& g : cases) requests.push_back(Request(g, stop_on_bos_eos));
  const auto sinks = SubmitAndRun(engine, requests);
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO(cases[i].name << (stop_on_bos_eos ? " stop {1,2}" : " no stop"));
    REQUIRE(sinks[i]->finish_calls == 1);
    REQUIRE(sinks[i]->info.status.ok());
    CHECK(sinks[i]->ids == (stop_on_bos_eos ? cases[i].ids_until_stop : cases[i].ids));
  }
  const EngineStats stats = engine.Stats();
  CHECK(stats.kv_blocks_free == stats.kv_blocks_total);
}

}  // namespace

TEST_CASE("stories260K greedy output equals run.c, EOS ignored", "[engine][golden]") {
  EngineOptions options;
  options.scheduler.max_ribbon_tokens = 512;
  auto engine = MakeEngine(options);
  CheckAll(*engine, /*stop_on_bos_eos=*/false);
}

TEST_CASE("stories260K greedy output stops on {1, 2} like run.c", "[engine][golden]") {
  EngineOptions options;
  options.scheduler.max_ribbon_tokens = 512;
  auto engine = MakeEngine(options);
  CheckAll(*engine, /*stop_on_bos_eos=*/true);
}

}  // namespace ribbon::testing
