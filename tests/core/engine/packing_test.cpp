// Packing invariance: a sequence's greedy output does not depend on what it shares a ribbon
// with, nor on how its prompt is split into prefill chunks.
#include <catch2/catch.hpp>

#include "core/engine/engine.h"
#include "tests/core/engine/engine_test_util.h"

namespace ribbon::testing {
namespace {

std::unique_ptr<Engine> MakeEngine(int32_t max_ribbon_tokens, int32_t align) {
  auto model = LoadModel({.path = Stories260k(), .num_threads = 2});
  INFO(model.status().ToString());
  REQUIRE(model.ok());
  EngineOptions options;
  options.scheduler.max_ribbon_tokens = max_ribbon_tokens;
  options.scheduler.align = align;
  auto engine = Engine::Create(options, std::move(*model));
  REQUIRE(engine.ok());
  return std::move(*engine);
}

GenerationRequest Greedy(const std::vector<int32_t>& prompt, int32_t n) {
  GenerationRequest r;
  r.prompt = prompt;
  r.stop.max_new_tokens = n;
  r.stop.ignore_eos = true;
  return r;
}

std::vector<std::vector<int32_t>> Run(Engine& engine,
                                      const std::vector<std::vector<int32_t>>& prompts, int32_t n) {
  std::vector<GenerationRequest> requests;
  for (const auto& p : prompts) requests.push_back(Greedy(p, n));
  const auto sinks = SubmitAndRun(engine, requests);
  std::vector<std::vector<int32_t>> outputs;
  for (const auto& s : sinks) {
    REQUIRE(s->finish_calls == 1);
    outputs.push_back(s->ids);
  }
  return outputs;
}

// 16 distinct prompts: the golden prompts plus prefixes of the long one.
std::vector<std::vector<int32_t>> Prompts() {
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& g : LoadGolden()) {
    if (g.max_new_tokens == 64) prompts.push_back(g.prompt);
  }
  const std::vector<int32_t> longest = prompts.back();
  for (size_t len : {5, 17, 33, 64, 100, 150})
    prompts.emplace_back(longest.begin(), longest.begin() + len);
  return prompts;
}

}  // namespace

TEST_CASE(
    "greedy outputs are identical alone, packed with 15 others, and in 7-token prefill chunks",
    "[engine][packing]") {
  const auto prompts = Prompts();
  REQUIRE(prompts.size() == 16);
  constexpr int32_t kNew = 48;

  std::vector<std::vector<int32_t>> alone;
  for (const auto& p : prompts) {
    auto engine = MakeEngine(512, 16);
    alone.push_back(Run(*engine, {p}, kNew)[0]);
  }
  auto packed_engine = MakeEngine(2048, 16);
  const auto packed = Run(*packed_engine, prompts, kNew);
  auto chunked_engine = MakeEngine(7, 1);  // every prefill goes in pieces of at most 7 tokens
  const auto chunked = Run(*chunked_engine, prompts, kNew);

  for (size_t i = 0; i < prompts.size(); ++i) {
    INFO("prompt " << i << " (" << prompts[i].size() << " tokens)");
    REQUIRE(alone[i].size() == kNew);
    CHECK(packed[i] == alone[i]);
    CHECK(chunked[i] == alone[i]);
  }
}

}  // namespace ribbon::testing
