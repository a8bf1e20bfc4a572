#include "bench/prefix/scenarios.h"

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

namespace ribbon::bench {
namespace {

using Json = nlohmann::ordered_json;

// Before anything is timed: one short request through the engine (workspaces allocated, pages
// touched); its counts are then forgotten.
absl::Status WarmUp(BenchEngine& e) {
  std::mt19937 rng(12345);
  auto done = RunAll(*e.engine, {Greedy(RandomTokens(64, e.vocab, rng), 2)});
  if (!done.ok()) return done.status();
  e.counter->Reset();
  return absl::OkStatus();
}

absl::StatusOr<BenchEngine> ReadyEngine(const BenchOptions& options, bool prefix_cache) {
  auto e = MakeEngine(options, prefix_cache);
  if (!e.ok()) return e.status();
  if (absl::Status warm = WarmUp(*e); !warm.ok()) return warm;
  return e;
}

Json Counts(const StepCounter& c) {
  return Json{{"steps", c.steps},
              {"forward_rows", c.ribbon_rows},
              {"real_tokens", c.real_tokens},
              {"prompt_tokens_computed", c.prompt_tokens},
              {"decode_tokens", c.decode_tokens},
              {"prefix_query_tokens", c.prefix_query_tokens},
              {"prefix_hit_tokens", c.prefix_hit_tokens}};
}

double Ratio(double num, double den) { return den > 0 ? num / den : 0; }

struct Run {
  Json figures;
  std::vector<std::vector<int32_t>> outputs;
  double ttft_p50 = 0, main_s = 0, total_s = 0;
};

std::vector<GenerationRequest> SharedPrefixRequests(const SharedPrefixSpec& spec, int64_t vocab) {
  std::mt19937 rng(spec.seed);
  const std::vector<int32_t> prefix = RandomTokens(spec.prefix, vocab, rng);
  std::uniform_int_distribution<int32_t> extra(spec.min_new, spec.max_new);
  std::vector<GenerationRequest> out;
  for (int32_t i = 0; i <= spec.requests; ++i) {  // the first one, then `requests`
    std::vector<int32_t> prompt = prefix;
    const std::vector<int32_t> tail = RandomTokens(extra(rng), vocab, rng);
    prompt.insert(prompt.end(), tail.begin(), tail.end());
    out.push_back(Greedy(std::move(prompt), spec.generate));
  }
  return out;
}

absl::StatusOr<Run> SharedPrefixOnce(const BenchOptions& options, const SharedPrefixSpec& spec,
                                     bool cache) {
  auto e = ReadyEngine(options, cache);
  if (!e.ok()) return e.status();
  const std::vector<GenerationRequest> requests = SharedPrefixRequests(spec, e->vocab);
  Run run;
  std::vector<double> ttft;
  int64_t prompt_tokens = 0, cached_tokens = 0;
  const double t0 = NowSeconds();
  auto first = RunAll(*e->engine, {requests[0]});
  if (!first.ok()) return first.status();
  run.outputs.push_back((*first)[0]->ids);
  const double t1 = NowSeconds();
  for (size_t i = 1; i < requests.size(); i += spec.concurrency) {
    const size_t end = std::min(requests.size(), i + spec.concurrency);
    auto wave = RunAll(*e->engine, {requests.begin() + i, requests.begin() + end});
    if (!wave.ok()) return wave.status();
    for (const auto& s : *wave) {
      ttft.push_back(s->ttft_seconds());
      prompt_tokens += s->info.prompt_tokens;
      cached_tokens += s->info.cached_prompt_tokens;
      run.outputs.push_back(s->ids);
    }
  }
  const double t2 = NowSeconds();
  run.ttft_p50 = Median(ttft);
  run.main_s = t2 - t1;
  run.total_s = t2 - t0;
  run.figures = Json{{"prefix_cache", cache},
                     {"first_request_s", t1 - t0},
                     {"ttft_p50_s", run.ttft_p50},
                     {"ttft_max_s", *std::max_element(ttft.begin(), ttft.end())},
                     {"requests_total_s", run.main_s},
                     {"total_with_first_s", run.total_s},
                     {"prompt_tokens", prompt_tokens},
                     {"cached_prompt_tokens", cached_tokens},
                     {"hit_rate", Ratio(static_cast<double>(cached_tokens), prompt_tokens)},
                     {"cached_blocks_at_end", e->engine->Stats().prefix_cached_blocks},
                     {"counts", Counts(*e->counter)}};
  return run;
}

// Generated tokens' KV is cached too: the previous turn wrote KV for its prompt and for every
// generated token but the last (sampled, never fed back), so the next turn can find every full
// block of that, including blocks that end in generated tokens.
int32_t ExpectedChatHit(int32_t previous_prompt, int32_t generate, int32_t block_size) {
  if (previous_prompt == 0) return 0;
  return (previous_prompt + generate - 1) / block_size * block_size;
}

absl::StatusOr<Run> ChatOnce(const BenchOptions& options, const ChatSpec& spec, bool cache) {
  auto e = ReadyEngine(options, cache);
  if (!e.ok()) return e.status();
  const int32_t block = e->engine->options().block_size;
  std::mt19937 rng(spec.seed);
  std::vector<int32_t> prompt = RandomTokens(spec.first_prompt, e->vocab, rng);
  Run run;
  Json turns = Json::array();
  int32_t previous = 0, beyond_prompts = 0;
  int64_t prompt_tokens = 0, cached_tokens = 0;
  bool hits_as_expected = true;
  const double t0 = NowSeconds();
  for (int32_t t = 0; t < spec.turns; ++t) {
    const double start = NowSeconds();
    auto done = RunAll(*e->engine, {Greedy(prompt, spec.generate)});
    if (!done.ok()) return done.status();
    const KeepingSink& s = *(*done)[0];
    const int32_t cached = s.info.cached_prompt_tokens;
    const int32_t expected = cache ? ExpectedChatHit(previous, spec.generate, block) : 0;
    hits_as_expected = hits_as_expected && cached == expected;
    // Cached tokens past the previous prompt's last full block sit in blocks holding generated
    // tokens.
    if (previous > 0) beyond_prompts += std::max(0, cached - previous / block * block);
    turns.push_back(Json{{"prompt", prompt.size()},
                         {"cached", cached},
                         {"expected", expected},
                         {"seconds", NowSeconds() - start}});
    prompt_tokens += static_cast<int64_t>(prompt.size());
    cached_tokens += cached;
    run.outputs.push_back(s.ids);
    previous = static_cast<int32_t>(prompt.size());
    const std::vector<int32_t> more = RandomTokens(spec.new_per_turn, e->vocab, rng);
    prompt.insert(prompt.end(), s.ids.begin(), s.ids.end());
    prompt.insert(prompt.end(), more.begin(), more.end());
  }
  run.total_s = NowSeconds() - t0;
  run.figures = Json{{"prefix_cache", cache},
                     {"total_s", run.total_s},
                     {"prompt_tokens", prompt_tokens},
                     {"cached_prompt_tokens", cached_tokens},
                     {"hit_rate", Ratio(static_cast<double>(cached_tokens), prompt_tokens)},
                     {"hits_as_expected", hits_as_expected},
                     {"cached_tokens_in_blocks_with_generated_ids", beyond_prompts},
                     {"counts", Counts(*e->counter)},
                     {"turns", turns}};
  return run;
}

}  // namespace

absl::StatusOr<Json> RunSharedPrefix(const BenchOptions& options, const SharedPrefixSpec& spec) {
  auto off = SharedPrefixOnce(options, spec, false);
  if (!off.ok()) return off.status();
  auto on = SharedPrefixOnce(options, spec, true);
  if (!on.ok()) return on.status();
  const double ttft = Ratio(off->ttft_p50, on->ttft_p50);
  const double total = Ratio(off->main_s, on->main_s);
  return Json{{"scenario", "shared_prefix"},
              {"prefix", spec.prefix},
              {"requests", spec.requests},
              {"new_tokens", {spec.min_new, spec.max_new}},
              {"generate", spec.generate},
              {"concurrency", spec.concurrency},
              {"ttft_p50_speedup", ttft},
              {"requests_total_speedup", total},
              {"total_with_first_speedup", Ratio(off->total_s, on->total_s)},
              {"hit_rate", on->figures["hit_rate"]},
              {"outputs_equal", off->outputs == on->outputs},
              {"meets_10x_ttft_2x_total", ttft >= 10 && total >= 2},
              {"off", off->figures},
              {"on", on->figures}};
}

absl::StatusOr<Json> RunChat(const BenchOptions& options, const ChatSpec& spec) {
  auto off = ChatOnce(options, spec, false);
  if (!off.ok()) return off.status();
  auto on = ChatOnce(options, spec, true);
  if (!on.ok()) return on.status();
  const double speedup = Ratio(off->total_s, on->total_s);
  const bool generated_cached = on->figures["hits_as_expected"].get<bool>() &&
                                on->figures["cached_tokens_in_blocks_with_generated_ids"] > 0;
  return Json{{"scenario", "chat"},
              {"first_prompt", spec.first_prompt},
              {"turns", spec.turns},
              {"new_per_turn", spec.new_per_turn},
              {"generate", spec.generate},
              {"speedup", speedup},
              {"hit_rate", on->figures["hit_rate"]},
              {"generated_blocks_cached", generated_cached},
              {"outputs_equal", off->outputs == on->outputs},
              {"meets_2x", speedup >= 2},
              {"off", off->figures},
              {"on", on->figures}};
}

}  // namespace ribbon::bench
