// chain_bench: ribbons used by offline batches with long decode chains, against the lower bound
// max(ceil(tokens / capacity), longest chain), with and without longest-chain-first ordering
// (OfflineBatchOptions::longest_chain_first), on seeded mixes (chain_mixes.h).
//
//   chain_bench --model DIR [--seeds 1,2,3,4,5] [--capacity 512] [--threads 2] [--prompts 300]
//               [--long 18] [--long-min 60] [--long-max 127] [--median 100] [--sigma 0.8]
// Prints one JSON object per seed and ordering. Ribbon counts do not depend on the machine's
// speed (the scheduler decides them), so these figures are exact, not noisy.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "bench/offline/chain_mixes.h"
#include "core/engine/engine.h"
#include "core/offline/offline_batch.h"

namespace ribbon::bench {
namespace {

struct Args {
  std::string model;
  std::vector<uint64_t> seeds = {1, 2, 3, 4, 5};
  int32_t capacity = 512;
  int32_t threads = 2;
  ChainMixSpec mix;
};

bool Int(const std::string& v, int32_t& out) { return absl::SimpleAtoi(v, &out); }

bool Parse(int argc, char** argv, Args& a) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    bool ok = true;
    if (k == "--model")
      a.model = v;
    else if (k == "--capacity")
      ok = Int(v, a.capacity);
    else if (k == "--threads")
      ok = Int(v, a.threads);
    else if (k == "--prompts")
      ok = Int(v, a.mix.prompts);
    else if (k == "--long")
      ok = Int(v, a.mix.long_chains);
    else if (k == "--long-min")
      ok = Int(v, a.mix.long_min);
    else if (k == "--long-max")
      ok = Int(v, a.mix.long_max);
    else if (k == "--median")
      ok = absl::SimpleAtod(v, &a.mix.median);
    else if (k == "--sigma")
      ok = absl::SimpleAtod(v, &a.mix.sigma);
    else if (k == "--seeds") {
      a.seeds.clear();
      for (auto part : absl::StrSplit(v, ',')) {
        uint64_t s = 0;
        ok = ok && absl::SimpleAtoi(part, &s);
        a.seeds.push_back(s);
      }
    } else {
      std::fprintf(stderr, "chain_bench: unknown flag %s\n", k.c_str());
      return false;
    }
    if (!ok) {
      std::fprintf(stderr, "chain_bench: %s: bad value '%s'\n", k.c_str(), v.c_str());
      return false;
    }
  }
  return !a.model.empty();
}

int RunOne(const Args& a, uint64_t seed, bool ordered) {
  auto model = LoadModel({.path = a.model, .dtype = "float32", .num_threads = a.threads});
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
    return 1;
  }
  EngineOptions options;
  options.scheduler.max_ribbon_tokens = a.capacity;
  auto engine = Engine::Create(options, std::move(*model));
  if (!engine.ok()) {
    std::fprintf(stderr, "%s\n", engine.status().ToString().c_str());
    return 1;
  }
  offline::OfflineBatchOptions batch_options;
  batch_options.longest_chain_first = ordered;
  auto batch = offline::RunOfflineBatch(**engine, MakeChainMix(a.mix, seed), batch_options);
  if (!batch.ok()) {
    std::fprintf(stderr, "%s\n", batch.status().ToString().c_str());
    return 1;
  }
  const offline::OfflineReport& r = batch->report;
  const double gap = r.lower_bound > 0 ? 100.0 * (r.ribbons - r.lower_bound) / r.lower_bound : 0;
  std::printf(
      "{\"seed\": %llu, \"ordering\": \"%s\", \"prompts\": %lld, \"long_chains\": %d, "
      "\"capacity\": %d, \"required_tokens\": %lld, \"ribbons\": %lld, \"lower_bound\": %lld, "
      "\"over_bound_pct\": %.2f, \"failed\": %lld, \"preemptions\": %lld, \"seconds\": %.2f}\n",
      static_cast<unsigned long long>(seed), ordered ? "longest_chain_first" : "input_order",
      static_cast<long long>(r.requests), a.mix.long_chains, r.capacity,
      static_cast<long long>(r.required_tokens), static_cast<long long>(r.ribbons),
      static_cast<long long>(r.lower_bound), gap, static_cast<long long>(r.failed),
      static_cast<long long>(r.preemptions), r.seconds);
  std::fflush(stdout);
  return r.failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace ribbon::bench

int main(int argc, char** argv) {
  ribbon::bench::Args a;
  if (!ribbon::bench::Parse(argc, argv, a)) {
    std::fprintf(stderr, "usage: chain_bench --model DIR [--seeds 1,2,3] [--capacity 512] ...\n");
    return 2;
  }
  for (uint64_t seed : a.seeds) {
    for (bool ordered : {false, true}) {
      if (int rc = ribbon::bench::RunOne(a, seed, ordered); rc != 0) return rc;
    }
  }
  return 0;
}
