// pipeline_bench: host time exposed per step, with the pipeline off and on. "exposed" is the gap
// between one forward's end and the next one's start (the device — here the CPU's GEMM threads —
// waits on sampling, delivering, scheduling and plan building); "host_gap" is that gap without
// the sampling, which any design must run between two dependent forwards.
//
//   pipeline_bench MODEL_DIR [--seqs 64] [--new 64] [--threads 2]
#include <chrono>
#include <cstdio>
#include <random>
#include <string>

#include "core/engine/engine.h"

namespace {

class NullSink final : public ribbon::RequestSink {
 public:
  void OnTokens(std::span<const ribbon::SampledToken>) override {}
  void OnFinish(const ribbon::FinishInfo&) override {}
};

struct Totals : ribbon::EngineObserver {
  void OnStep(const ribbon::StepReport& r) override {
    if (r.real_tokens == 0) return;
    ++steps;
    exposed += r.host_exposed_seconds;
    gap += r.host_gap_seconds;
    schedule += r.schedule_seconds;
    forward += r.forward_seconds;
    sample += r.sample_seconds;
  }
  int64_t steps = 0;
  double exposed = 0, gap = 0, schedule = 0, forward = 0, sample = 0;
};

int Run(const std::string& model_dir, bool pipeline, int seqs, int new_tokens, int threads) {
  auto model = ribbon::LoadModel({.path = model_dir, .num_threads = threads});
  if (!model.ok()) return std::fprintf(stderr, "%s\n", model.status().ToString().c_str()), 1;
  const int64_t vocab = (*model)->config().vocab_size;
  ribbon::EngineOptions options;
  options.pipeline = pipeline;
  options.scheduler.max_ribbon_tokens = 1024;
  auto engine = ribbon::Engine::Create(options, std::move(*model));
  if (!engine.ok()) return std::fprintf(stderr, "%s\n", engine.status().ToString().c_str()), 1;
  auto totals = std::make_shared<Totals>();
  (*engine)->SetObserver(totals);
  std::mt19937 rng(1);
  for (int i = 0; i < seqs; ++i) {
    ribbon::GenerationRequest r;
    for (int t = 0; t < 32; ++t) r.prompt.push_back(static_cast<int32_t>(rng() % vocab));
    r.stop.max_new_tokens = new_tokens;
    r.stop.ignore_eos = true;
    r.sampling.temperature = 0.8f;
    r.sampling.seed = i;
    if (!(*engine)->Submit(r, std::make_shared<NullSink>()).ok()) return 1;
  }
  const auto t0 = std::chrono::steady_clock::now();
  while (true) {
    auto more = (*engine)->StepOnce();
    if (!more.ok() || !*more) break;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double n = static_cast<double>(totals->steps);
  std::printf(
      "{\"pipeline\": %s, \"steps\": %lld, \"host_exposed_us_per_step\": %.1f, "
      "\"host_gap_us_per_step\": %.1f, \"schedule_us\": %.1f, "
      "\"sample_us\": %.1f, \"forward_us\": %.1f, \"tokens_per_s\": %.1f}\n",
      pipeline ? "true" : "false", static_cast<long long>(totals->steps), 1e6 * totals->exposed / n,
      1e6 * totals->gap / n, 1e6 * totals->schedule / n, 1e6 * totals->sample / n,
      1e6 * totals->forward / n, seqs * new_tokens / wall);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: pipeline_bench MODEL_DIR [--seqs N] [--new N] [--threads N]\n");
    return 2;
  }
  int seqs = 64, new_tokens = 64, threads = 2;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const int v = std::stoi(argv[i + 1]);
    if (k == "--seqs") seqs = v;
    if (k == "--new") new_tokens = v;
    if (k == "--threads") threads = v;
  }
  for (bool pipeline : {false, true}) {
    if (int rc = Run(argv[1], pipeline, seqs, new_tokens, threads); rc != 0) return rc;
  }
  return 0;
}
