// The prefix-cache benchmark's plumbing: an engine on a loaded model, driven step by step on the
// calling thread (StepOnce), sinks that keep each request's output and finish record, and an
// observer that counts what the forwards computed.
//
// Threads: everything runs on the caller's thread (the engine is never Start()ed).
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/engine/engine.h"

namespace ribbon::bench {

struct BenchOptions {
  std::string model;
  std::string dtype = "float32";
  int32_t threads = 2;
  int32_t kv_blocks = 512;  // 8,192 tokens: four 1,050-token requests plus what stays cached
};

// One request's output: the ids streamed and the engine's finish record.
class KeepingSink final : public RequestSink {
 public:
  void OnTokens(std::span<const SampledToken> tokens) override;
  void OnFinish(const FinishInfo& info) override;

  std::vector<int32_t> ids;
  FinishInfo info;
  bool finished = false;

  double ttft_seconds() const { return NsToSeconds(info.first_token - info.arrival); }
};

// Sums over every step: rows the forwards ran and prefix-cache lookups.
class StepCounter final : public EngineObserver {
 public:
  void OnStep(const StepReport& report) override;
  void Reset();

  int64_t steps = 0;
  int64_t ribbon_rows = 0;  // rows run, padding included
  int64_t real_tokens = 0;
  int64_t prompt_tokens = 0;  // prompt tokens computed (cached ones are not)
  int64_t decode_tokens = 0;
  int64_t prefix_query_tokens = 0;
  int64_t prefix_hit_tokens = 0;
};

struct BenchEngine {
  std::unique_ptr<Engine> engine;
  std::shared_ptr<StepCounter> counter;
  int64_t vocab = 0;
};

// Loads the model and makes an engine with the prefix cache on or off (otherwise defaults).
absl::StatusOr<BenchEngine> MakeEngine(const BenchOptions& options, bool prefix_cache);

// A greedy request for `prompt` generating exactly `new_tokens` (EOS ignored).
GenerationRequest Greedy(std::vector<int32_t> prompt, int32_t new_tokens);

std::vector<int32_t> RandomTokens(int32_t count, int64_t vocab, std::mt19937& rng);

// Submits each request with a fresh sink and steps until all have finished.
absl::StatusOr<std::vector<std::shared_ptr<KeepingSink>>> RunAll(
    Engine& engine, const std::vector<GenerationRequest>& requests);

double NowSeconds();
double Median(std::vector<double> values);

}  // namespace ribbon::bench
