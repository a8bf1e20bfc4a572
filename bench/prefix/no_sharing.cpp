// The no-sharing workload: what the prefix cache costs when nothing is ever found. Two engines
// stay loaded side by side (cache on, cache off); each round draws fresh random prompts (so the
// on engine's cache never holds them, but fills up over the rounds and then evicts) and runs them
// through both, alternating which goes first so that drift in the machine's speed falls on
// both alike.
#include <random>
#include <vector>

#include "bench/prefix/scenarios.h"

namespace ribbon::bench {
namespace {

using Json = nlohmann::ordered_json;

std::vector<GenerationRequest> RandomRequests(const NoSharingSpec& spec, int32_t round,
                                              int64_t vocab) {
  std::mt19937 rng(spec.seed * 1000 + round);
  std::uniform_int_distribution<int32_t> length(spec.min_prompt, spec.max_prompt);
  std::vector<GenerationRequest> out;
  for (int32_t i = 0; i < spec.requests; ++i) {
    out.push_back(Greedy(RandomTokens(length(rng), vocab, rng), spec.generate));
  }
  return out;
}

struct Measured {
  double seconds = 0;
  StepCounter counts;
  std::vector<std::vector<int32_t>> outputs;
};

absl::StatusOr<Measured> Measure(BenchEngine& e, const std::vector<GenerationRequest>& requests) {
  e.counter->Reset();
  Measured m;
  const double t0 = NowSeconds();
  auto done = RunAll(*e.engine, requests);
  m.seconds = NowSeconds() - t0;
  if (!done.ok()) return done.status();
  m.counts = *e.counter;
  for (const auto& s : *done) m.outputs.push_back(s->ids);
  return m;
}

bool SameRows(const StepCounter& a, const StepCounter& b) {
  return a.steps == b.steps && a.ribbon_rows == b.ribbon_rows && a.real_tokens == b.real_tokens &&
         a.prompt_tokens == b.prompt_tokens && a.decode_tokens == b.decode_tokens;
}

absl::StatusOr<BenchEngine> Warm(const BenchOptions& options, bool cache) {
  auto e = MakeEngine(options, cache);
  if (!e.ok()) return e.status();
  std::mt19937 rng(777);
  auto done = RunAll(*e->engine, {Greedy(RandomTokens(160, e->vocab, rng), 4)});
  if (!done.ok()) return done.status();
  return e;
}

}  // namespace

absl::StatusOr<Json> RunNoSharing(const BenchOptions& options, const NoSharingSpec& spec) {
  auto on = Warm(options, true);
  if (!on.ok()) return on.status();
  auto off = Warm(options, false);
  if (!off.ok()) return off.status();
  std::vector<double> on_s, off_s, ratios;
  bool rows_equal = true, outputs_equal = true;
  int64_t hits = 0, rows = 0;
  Json rounds = Json::array();
  for (int32_t r = 0; r < spec.rounds; ++r) {
    const std::vector<GenerationRequest> requests = RandomRequests(spec, r, on->vocab);
    const bool on_first = r % 2 == 0;
    auto first = Measure(on_first ? *on : *off, requests);
    if (!first.ok()) return first.status();
    auto second = Measure(on_first ? *off : *on, requests);
    if (!second.ok()) return second.status();
    const Measured& with = on_first ? *first : *second;
    const Measured& without = on_first ? *second : *first;
    rows_equal = rows_equal && SameRows(with.counts, without.counts);
    outputs_equal = outputs_equal && with.outputs == without.outputs;
    hits += with.counts.prefix_hit_tokens;
    rows += with.counts.ribbon_rows;
    on_s.push_back(with.seconds);
    off_s.push_back(without.seconds);
    ratios.push_back(without.seconds / with.seconds);
    rounds.push_back(Json{{"on_first", on_first},
                          {"on_s", with.seconds},
                          {"off_s", without.seconds},
                          {"rows_on", with.counts.ribbon_rows},
                          {"rows_off", without.counts.ribbon_rows}});
  }
  const double speed = Median(off_s) / Median(on_s);
  const EngineStats stats = on->engine->Stats();
  return Json{{"scenario", "no_sharing"},
              {"rounds", spec.rounds},
              {"requests", spec.requests},
              {"prompt_range", {spec.min_prompt, spec.max_prompt}},
              {"generate", spec.generate},
              {"forward_rows_per_round_on", rows / std::max(1, spec.rounds)},
              {"rows_equal", rows_equal},
              {"outputs_equal", outputs_equal},
              {"prefix_hit_tokens", hits},
              {"on_median_s", Median(on_s)},
              {"off_median_s", Median(off_s)},
              {"on_speed_vs_off", speed},
              {"median_round_ratio", Median(ratios)},
              {"meets_0_97", speed >= 0.97},
              {"on_engine_cached_blocks", stats.prefix_cached_blocks},
              {"on_engine_evictions", stats.prefix_evictions},
              {"detail", rounds}};
}

}  // namespace ribbon::bench
