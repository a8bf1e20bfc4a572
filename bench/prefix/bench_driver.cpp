#include "bench/prefix/bench_driver.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"

namespace ribbon::bench {

void KeepingSink::OnTokens(std::span<const SampledToken> tokens) {
  for (const SampledToken& t : tokens) ids.push_back(t.token);
}

void KeepingSink::OnFinish(const FinishInfo& finish) {
  info = finish;
  finished = true;
}

void StepCounter::OnStep(const StepReport& report) {
  ++steps;
  ribbon_rows += report.ribbon_rows;
  real_tokens += report.real_tokens;
  prompt_tokens += report.prompt_tokens;
  decode_tokens += report.decode_tokens;
  prefix_query_tokens += report.prefix_query_tokens;
  prefix_hit_tokens += report.prefix_hit_tokens;
}

void StepCounter::Reset() {
  steps = ribbon_rows = real_tokens = prompt_tokens = decode_tokens = 0;
  prefix_query_tokens = prefix_hit_tokens = 0;
}

absl::StatusOr<BenchEngine> MakeEngine(const BenchOptions& options, bool prefix_cache) {
  auto model =
      LoadModel({.path = options.model, .dtype = options.dtype, .num_threads = options.threads});
  if (!model.ok()) return model.status();
  BenchEngine out;
  out.vocab = (*model)->config().vocab_size;
  EngineOptions engine_options;
  engine_options.num_kv_blocks = options.kv_blocks;
  engine_options.prefix_cache = prefix_cache;
  auto engine = Engine::Create(engine_options, std::move(*model));
  if (!engine.ok()) return engine.status();
  out.engine = std::move(*engine);
  out.counter = std::make_shared<StepCounter>();
  out.engine->SetObserver(out.counter);
  return out;
}

GenerationRequest Greedy(std::vector<int32_t> prompt, int32_t new_tokens) {
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.stop.max_new_tokens = new_tokens;
  r.stop.ignore_eos = true;
  return r;
}

std::vector<int32_t> RandomTokens(int32_t count, int64_t vocab, std::mt19937& rng) {
  std::vector<int32_t> out;
  out.reserve(count);
  for (int32_t i = 0; i < count; ++i) out.push_back(static_cast<int32_t>(rng() % vocab));
  return out;
}

absl::StatusOr<std::vector<std::shared_ptr<KeepingSink>>> RunAll(
    Engine& engine, const std::vector<GenerationRequest>& requests) {
  std::vector<std::shared_ptr<KeepingSink>> sinks;
  for (const GenerationRequest& r : requests) {
    sinks.push_back(std::make_shared<KeepingSink>());
    if (auto id = engine.Submit(r, sinks.back()); !id.ok()) return id.status();
  }
  const auto all_done = [&sinks] {
    return std::all_of(sinks.begin(), sinks.end(), [](const auto& s) { return s->finished; });
  };
  while (!all_done()) {
    absl::StatusOr<bool> more = engine.StepOnce();
    if (!more.ok()) return more.status();
    if (!*more && !all_done()) return absl::InternalError("the engine went idle early");
  }
  for (const auto& s : sinks) {
    if (!s->info.status.ok()) {
      return absl::InternalError(absl::StrCat("a request failed: ", s->info.status.ToString()));
    }
  }
  return sinks;
}

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace ribbon::bench
