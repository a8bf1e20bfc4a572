// Stop tokens through the engine (the rule in core/sampling/stop_rules.h, applied once): a stop
// token that ends the request is withheld, never delivered; before min_new_tokens it cannot be
// drawn; with ignore_eos an EOS is output like any token. The fake runner's greedy output is
// known in advance, so the k-th token can be made a stop token.
#include <catch2/catch.hpp>

#include "core/engine/engine.h"
#include "tests/core/engine/engine_test_util.h"
#include "tests/fakes/fake_runner.h"

namespace ribbon::testing {
namespace {

const std::vector<int32_t> kPrompt = {5, 6, 7, 8};
constexpr int32_t kMax = 12, kStopAt = 4;

struct Result {
  std::vector<int32_t> ids;
  FinishInfo info;
};

Result Generate(StopConditions stop, std::vector<int32_t> eos) {
  FakeDeviceMemory memory(64 << 20);
  FakeRunnerOptions fo;
  fo.eos_token_ids = std::move(eos);
  EngineOptions o;
  o.num_kv_blocks = 64;
  auto engine = Engine::Create(o, std::make_unique<FakeRunner>(fo, memory));
  REQUIRE(engine.ok());
  GenerationRequest r;
  r.prompt = kPrompt;
  r.stop = std::move(stop);
  const auto sinks = SubmitAndRun(**engine, {r});
  REQUIRE(sinks[0]->finish_calls == 1);
  return {sinks[0]->ids, sinks[0]->info};
}

}  // namespace

TEST_CASE("a stop token is withheld exactly once; min_new_tokens bans it; ignore_eos outputs EOS") {
  const int32_t vocab = FakeRunnerOptions{}.vocab_size;
  const std::vector<int32_t> expected = FakeRunner::ExpectedGreedy(kPrompt, kMax, vocab);
  const int32_t stop_token = expected[kStopAt];
  const std::vector<int32_t> before(expected.begin(), expected.begin() + kStopAt);

  SECTION("a stop token id ends the request and is not output") {
    const Result r = Generate({.max_new_tokens = kMax, .stop_token_ids = {stop_token}}, {1});
    CHECK(r.ids == before);
    CHECK(r.info.reason == FinishReason::kStopToken);
    CHECK(r.info.generated_tokens == kStopAt);
  }
  SECTION("EOS ends the request the same way") {
    const Result r = Generate({.max_new_tokens = kMax}, {stop_token});
    CHECK(r.ids == before);
    CHECK(r.info.reason == FinishReason::kStopToken);
  }
  SECTION("before min_new_tokens the stop token cannot be drawn") {
    const Result r = Generate(
        {.max_new_tokens = kMax, .min_new_tokens = kStopAt + 1, .stop_token_ids = {stop_token}},
        {1});
    REQUIRE(r.ids.size() > before.size());
    CHECK(std::vector<int32_t>(r.ids.begin(), r.ids.begin() + kStopAt) == before);
    CHECK(r.ids[kStopAt] != stop_token);  // banned: the runner drew the next best token
    for (size_t i = kStopAt + 1; i < r.ids.size(); ++i) CHECK(r.ids[i] != stop_token);
  }
  SECTION("with ignore_eos an EOS is output and generation goes on") {
    const Result r = Generate({.max_new_tokens = kMax, .ignore_eos = true}, {stop_token});
    CHECK(r.ids == expected);
    CHECK(r.info.reason == FinishReason::kLength);
  }
}

}  // namespace ribbon::testing
