// cpu_throughput: prefill and decode tokens/s of the engine on the CPU.
//
//   cpu_throughput MODEL_DIR [--batches 1,8,32] [--prompt 128] [--decode 32] [--threads 2]
//                  [--dtype float32] [--kv-cache-dtype auto]
// For each batch size B: B requests of `prompt` random tokens are submitted at once; the first
// step prefills them all in one ribbon (prefill tokens/s = B * prompt / step time), then `decode`
// steps each add one token per sequence (decode tokens/s = B * decode / time). Prints one JSON
// object per batch size.
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "core/engine/engine.h"

namespace {

struct Args {
  std::string model;
  std::vector<int> batches = {1, 8, 32};
  int prompt = 128;
  int decode = 32;
  int threads = 2;
  std::string dtype = "float32";
  std::string kv_cache_dtype = "auto";
};

class CountingSink final : public ribbon::RequestSink {
 public:
  void OnTokens(std::span<const ribbon::SampledToken> t) override {
    tokens += static_cast<int>(t.size());
  }
  void OnFinish(const ribbon::FinishInfo&) override {}
  int tokens = 0;
};

bool Parse(int argc, char** argv, Args& a) {
  if (argc < 2) return false;
  a.model = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--batches") {
      a.batches.clear();
      for (auto part : absl::StrSplit(v, ',')) a.batches.push_back(std::stoi(std::string(part)));
    } else if (k == "--prompt") {
      a.prompt = std::stoi(v);
    } else if (k == "--decode") {
      a.decode = std::stoi(v);
    } else if (k == "--threads") {
      a.threads = std::stoi(v);
    } else if (k == "--dtype") {
      a.dtype = v;
    } else if (k == "--kv-cache-dtype") {
      a.kv_cache_dtype = v;
    } else {
      return false;
    }
  }
  return true;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool Submit(ribbon::Engine& engine, int batch, int prompt, int new_tokens, int64_t vocab,
            std::mt19937& rng, const std::shared_ptr<CountingSink>& sink) {
  for (int b = 0; b < batch; ++b) {
    ribbon::GenerationRequest r;
    for (int i = 0; i < prompt; ++i) r.prompt.push_back(static_cast<int32_t>(rng() % vocab));
    r.stop.max_new_tokens = new_tokens;
    r.stop.ignore_eos = true;
    if (!engine.Submit(r, sink).ok()) return false;
  }
  return true;
}

int RunBatch(const Args& a, int batch) {
  auto model = ribbon::LoadModel({.path = a.model,
                                  .dtype = a.dtype,
                                  .kv_cache_dtype = a.kv_cache_dtype,
                                  .num_threads = a.threads});
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
    return 1;
  }
  const int64_t vocab = (*model)->config().vocab_size;
  ribbon::EngineOptions options;
  options.scheduler.max_ribbon_tokens = batch * a.prompt;
  options.scheduler.max_running_seqs = batch;
  options.num_kv_blocks = batch * ((a.prompt + a.decode + 2) / 16 + 2);
  auto engine = ribbon::Engine::Create(options, std::move(*model));
  if (!engine.ok()) {
    std::fprintf(stderr, "%s\n", engine.status().ToString().c_str());
    return 1;
  }
  // Warm-up, as transformers gets one: the same shapes once through (workspaces allocated,
  // pages touched), with other prompts, before anything is timed.
  std::mt19937 warm_rng(batch + 1000);
  if (!Submit(**engine, batch, a.prompt, 2, vocab, warm_rng, std::make_shared<CountingSink>()))
    return 1;
  for (;;) {
    auto more = (*engine)->StepOnce();
    if (!more.ok()) return 1;
    if (!*more) break;
  }
  std::mt19937 rng(batch);
  auto sink = std::make_shared<CountingSink>();
  if (!Submit(**engine, batch, a.prompt, a.decode + 1, vocab, rng, sink)) return 1;
  const double t0 = Now();
  if (!(*engine)->StepOnce().ok()) return 1;
  const double t1 = Now();
  for (int s = 0; s < a.decode; ++s) {
    if (!(*engine)->StepOnce().ok()) return 1;
  }
  const double t2 = Now();
  std::printf(
      "{\"batch\": %d, \"prompt\": %d, \"decode_steps\": %d, \"threads\": %d, "
      "\"prefill_tok_s\": %.1f, \"decode_tok_s\": %.1f, \"tokens_streamed\": %d}\n",
      batch, a.prompt, a.decode, a.threads, batch * a.prompt / (t1 - t0),
      batch * a.decode / (t2 - t1), sink->tokens);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!Parse(argc, argv, a)) {
    std::fprintf(stderr,
                 "usage: cpu_throughput MODEL_DIR [--batches 1,8,32] [--prompt N] [--decode N] "
                 "[--threads N] [--dtype D] [--kv-cache-dtype D]\n");
    return 2;
  }
  for (int b : a.batches) {
    if (int rc = RunBatch(a, b); rc != 0) return rc;
  }
  return 0;
}
