// Helpers shared by the engine tests: a sink that records what the engine delivers, the path of
// the shared test data, and a loader for stories260K's golden outputs.
#pragma once

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/engine/engine.h"
#include "nlohmann/json.hpp"

namespace ribbon::testing {

inline std::string SharedData() {
  const char* env = std::getenv("RIBBON_SHARED_DATA");
  return env ? env : "../shared/data";
}

inline std::string Stories260k() { return SharedData() + "/stories260k"; }

class CollectingSink final : public RequestSink {
 public:
  void OnTokens(std::span<const SampledToken> tokens) override {
    for (const auto& t : tokens) ids.push_back(t.token);
  }
  void OnFinish(const FinishInfo& finish) override {
    info = finish;
    ++finish_calls;
  }
  std::vector<int32_t> ids;
  FinishInfo info;
  int finish_calls = 0;
};

struct GoldenCase {
  std::string name;
  std::vector<int32_t> prompt;
  int max_new_tokens = 0;
  std::vector<int32_t> ids;
  std::vector<int32_t> ids_until_stop;
};

inline std::vector<GoldenCase> LoadGolden() {
  std::ifstream in(Stories260k() + "/golden.json");
  nlohmann::json j = nlohmann::json::parse(in);
  std::vector<GoldenCase> cases;
  for (const auto& c : j["cases"]) {
    for (const auto& run : c["continuations"]) {
      GoldenCase g;
      g.max_new_tokens = run["max_new_tokens"].get<int>();
      g.name = c["name"].get<std::string>() + "/" + std::to_string(g.max_new_tokens);
      g.prompt = c["prompt_ids"].get<std::vector<int32_t>>();
      g.ids = run["ids"].get<std::vector<int32_t>>();
      g.ids_until_stop = run["ids_until_stop"].get<std::vector<int32_t>>();
      cases.push_back(std::move(g));
    }
  }
  return cases;
}

// Runs the engine on the calling thread until every submitted request has finished.
inline void RunToCompletion(Engine& engine, int max_steps = 100000) {
  for (int i = 0; i < max_steps; ++i) {
    auto stepped = engine.StepOnce();
    if (!stepped.ok() || !*stepped) return;
  }
}

// Submits every request (each must be accepted), runs the engine until all have finished, and
// returns their sinks in request order.
inline std::vector<std::shared_ptr<CollectingSink>> SubmitAndRun(
    Engine& engine, const std::vector<GenerationRequest>& requests) {
  std::vector<std::shared_ptr<CollectingSink>> sinks;
  for (const auto& r : requests) {
    sinks.push_back(std::make_shared<CollectingSink>());
    REQUIRE(engine.Submit(r, sinks.back()).ok());
  }
  RunToCompletion(engine);
  return sinks;
}

}  // namespace ribbon::testing
