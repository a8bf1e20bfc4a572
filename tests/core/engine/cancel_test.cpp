// Cancels reach the engine through its inbox and take effect at the next step boundary: the
// sequence ends with kCancelled, its KV blocks go back at once, and the gauges return to zero.
#include <catch2/catch.hpp>

#include "core/engine/engine.h"
#include "tests/core/engine/engine_test_util.h"

namespace ribbon::testing {

TEST_CASE("cancelled requests end, free their KV and leave no running or waiting count",
          "[engine][cancel]") {
  for (bool pipeline : {false, true}) {
    auto model = LoadModel({.path = Stories260k(), .num_threads = 2});
    REQUIRE(model.ok());
    EngineOptions options;
    options.pipeline = pipeline;
    options.scheduler.max_running_seqs = 4;  // the rest wait in the queue
    auto engine = Engine::Create(options, std::move(*model));
    REQUIRE(engine.ok());
    std::vector<std::shared_ptr<CollectingSink>> sinks;
    std::vector<uint64_t> ids;
    for (int i = 0; i < 8; ++i) {
      GenerationRequest r;
      r.prompt = {1, 403, 407, 261 + i};
      r.stop.max_new_tokens = 200;
      r.stop.ignore_eos = true;
      sinks.push_back(std::make_shared<CollectingSink>());
      auto id = (*engine)->Submit(r, sinks.back());
      REQUIRE(id.ok());
      ids.push_back(*id);
    }
    for (int s = 0; s < 5; ++s) REQUIRE((*engine)->StepOnce().ok());
    EngineStats busy = (*engine)->Stats();
    CHECK(busy.running == 4);
    CHECK(busy.waiting == 4);
    CHECK(busy.kv_blocks_free < busy.kv_blocks_total);
    for (uint64_t id : ids) (*engine)->Cancel(id);
    RunToCompletion(**engine);
    const EngineStats idle = (*engine)->Stats();
    CHECK(idle.running == 0);
    CHECK(idle.waiting == 0);
    CHECK(idle.kv_blocks_free == idle.kv_blocks_total);
    for (size_t i = 0; i < sinks.size(); ++i) {
      INFO("pipeline " << pipeline << ", request " << i);
      CHECK(sinks[i]->finish_calls == 1);
      CHECK(sinks[i]->info.reason == FinishReason::kCancelled);
      CHECK(absl::IsCancelled(sinks[i]->info.status));
      CHECK(sinks[i]->ids.size() < 200);
    }
    // A queued request that was cancelled never reached the model.
    CHECK(sinks.back()->info.prompt_tokens_computed == 0);
  }
}

}  // namespace ribbon::testing
