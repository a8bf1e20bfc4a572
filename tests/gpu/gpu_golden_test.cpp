// stories260K through the whole engine on the GPU (scheduler, plan, paged KV cache, the CUDA
// runner in float32 with the reference attention kernel) against llama2.c's greedy outputs.
#include <catch2/catch.hpp>

#include "core/engine/engine.h"
#include "core/model/cuda/cuda_model.h"
#include "tests/core/engine/engine_test_util.h"

namespace ribbon::testing {
namespace {

std::unique_ptr<Engine> MakeEngine(const std::string& backend) {
  auto model = LoadCudaModel(
      {.path = Stories260k(), .device = "cuda", .dtype = "float32", .attention_backend = backend});
  INFO(model.status().ToString());
  REQUIRE(model.ok());
  const std::string describe = (*model)->Describe();
  WARN("runner: " << describe);
  REQUIRE(describe.find("float32") != std::string::npos);
  REQUIRE(describe.find("attention=reference") != std::string::npos);
  EngineOptions options;
  options.scheduler.max_ribbon_tokens = 512;
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

void CheckAll(Engine& engine, bool stop_on_bos_eos) {
  const auto cases = LoadGolden();
  REQUIRE(cases.size() == 20);
  std::vector<std::shared_ptr<CollectingSink>> sinks;
  for (const auto& g : cases) {
    sinks.push_back(std::make_shared<CollectingSink>());
    REQUIRE(engine.Submit(Request(g, stop_on_bos_eos), sinks.back()).ok());
  }
  RunToCompletion(engine);
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO(cases[i].name << (stop_on_bos_eos ? " stop {1,2}" : " no stop"));
    REQUIRE(sinks[i]->finish_calls == 1);
    REQUIRE(sinks[i]->info.status.ok());
    CHECK(sinks[i]->ids == (stop_on_bos_eos ? cases[i].ids_until_stop : cases[i].ids));
  }
}

}  // namespace

TEST_CASE("GPU: stories260K float32 greedy output equals run.c, EOS ignored", "[gpu][golden]") {
  auto engine = MakeEngine("reference");
  CheckAll(*engine, /*stop_on_bos_eos=*/false);
}

TEST_CASE("GPU: stories260K float32 greedy output stops on {1, 2} like run.c", "[gpu][golden]") {
  // "auto" in float32 must resolve to the reference kernel (flash takes only 16-bit types).
  auto engine = MakeEngine("auto");
  CheckAll(*engine, /*stop_on_bos_eos=*/true);
}

}  // namespace ribbon::testing
