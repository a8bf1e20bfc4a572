// packing_bench: packed vs padded offline batches on the CPU, same kernels, same prompt order.
//
//   packing_bench --stories DIR [--llama-100m DIR] [--threads 2] [--scale 1.0] [--repeats 2]
//                 [--only MIX[,MIX...]]
//
// Each mix is a prefill-heavy offline job (max_new_tokens 1 unless the mix says otherwise) run
// through RunOfflineBatch, i.e. the real engine and its scheduler, once in BatchingMode::kPadded
// and once in kPacked, alternating, `repeats` times each; the fastest run of each mode counts
// (the machine may be shared). Every run prints real tokens/s, ribbons, rows and padding waste;
// each mix then prints the ideal ratio (padded rows / real tokens: what packing saves if time is
// proportional to rows) beside the measured ratio (packed tokens/s / padded tokens/s) and
// whether measured >= 0.9 x ideal. A second table compares align 16 with align 1 (packed).
// The load average is printed before and after every run: figures taken under load say so.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/engine/engine.h"
#include "core/offline/offline_batch.h"

namespace ribbon::bench {
namespace {

using offline::OfflineReport;
using sched::BatchingMode;

struct Args {
  std::string stories;
  std::string llama_100m;
  int32_t threads = 2;
  double scale = 1.0;  // multiplies every mix's prompt count
  int32_t repeats = 2;
  std::vector<std::string> only;
};

enum class Lengths { kUniform, kLogNormal };

struct Mix {
  std::string name;
  std::string model_dir;
  Lengths lengths = Lengths::kUniform;
  int32_t min_len = 16;
  int32_t max_len = 512;
  double median = 200;  // lognormal
  double sigma = 1;     // lognormal
  int32_t prompts = 100;
  int32_t max_new_tokens = 1;
  int32_t max_ribbon_tokens = 2048;
};

struct RunSetup {
  BatchingMode mode = BatchingMode::kPacked;
  int32_t align = 16;
};

struct Measured {
  OfflineReport report;
  double load_before = 0;
  double load_after = 0;
};

double LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double one_minute = -1;
  in >> one_minute;
  return one_minute;
}

std::vector<int32_t> PromptLengths(const Mix& mix, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> uniform(mix.min_len, mix.max_len);
  std::lognormal_distribution<double> lognormal(std::log(mix.median), mix.sigma);
  std::vector<int32_t> lens;
  for (int32_t i = 0; i < mix.prompts; ++i) {
    const int32_t len = mix.lengths == Lengths::kUniform
                            ? uniform(rng)
                            : static_cast<int32_t>(std::lround(lognormal(rng)));
    lens.push_back(std::clamp(len, mix.min_len, mix.max_len));
  }
  return lens;
}

std::vector<GenerationRequest> MakeRequests(const std::vector<int32_t>& lens,
                                            int32_t max_new_tokens, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> id(3, static_cast<int32_t>(vocab) - 1);
  std::vector<GenerationRequest> requests;
  for (int32_t len : lens) {
    GenerationRequest r;
    r.prompt.push_back(1);
    while (static_cast<int32_t>(r.prompt.size()) < len) r.prompt.push_back(id(rng));
    r.stop.max_new_tokens = max_new_tokens;
    r.stop.ignore_eos = true;
    requests.push_back(std::move(r));
  }
  return requests;
}

absl::StatusOr<std::unique_ptr<Engine>> MakeEngine(const Args& args, const Mix& mix,
                                                   const RunSetup& setup) {
  auto model = LoadModel({.path = mix.model_dir, .dtype = "float32", .num_threads = args.threads});
  if (!model.ok()) return model.status();
  EngineOptions options;
  options.scheduler.max_ribbon_tokens = mix.max_ribbon_tokens;
  options.scheduler.align = setup.align;
  options.scheduler.mode = setup.mode;
  return Engine::Create(options, std::move(*model));
}

// One measured batch on a fresh engine, after a warm-up batch of a few prompts on the same
// engine (first-touch allocations and thread start-up stay out of the figure).
absl::StatusOr<Measured> RunOnce(const Args& args, const Mix& mix,
                                 const std::vector<GenerationRequest>& requests,
                                 const RunSetup& setup) {
  auto engine = MakeEngine(args, mix, setup);
  if (!engine.ok()) return engine.status();
  std::vector<GenerationRequest> warm_up(requests.begin(),
                                         requests.begin() + std::min<size_t>(4, requests.size()));
  if (auto w = offline::RunOfflineBatch(**engine, warm_up, {}); !w.ok()) return w.status();
  Measured m;
  m.load_before = LoadAverage();
  auto batch = offline::RunOfflineBatch(**engine, requests, {});
  if (!batch.ok()) return batch.status();
  m.load_after = LoadAverage();
  if (batch->report.failed > 0) {
    return absl::InternalError(
        absl::StrCat(batch->report.failed, " requests failed in ", mix.name));
  }
  m.report = batch->report;
  return m;
}

void PrintRun(const Mix& mix, const RunSetup& setup, int repeat, const Measured& m) {
  const OfflineReport& r = m.report;
  std::printf(
      "  %-7s align %-2d #%d  %9.1f tok/s  %7.2f s  ribbons %5lld (lower bound %5lld)  rows %8lld  "
      "real %8lld  padding %5.1f %%  load %.1f -> %.1f\n",
      sched::BatchingModeName(setup.mode), setup.align, repeat + 1, r.computed_tokens_per_second(),
      r.seconds, static_cast<long long>(r.ribbons), static_cast<long long>(r.lower_bound),
      static_cast<long long>(r.rows), static_cast<long long>(r.computed_tokens),
      100.0 * r.padding_fraction(), m.load_before, m.load_after);
  std::fflush(stdout);
}

// Runs each setup `repeats` times, interleaved; returns the fastest run of each setup.
absl::StatusOr<std::vector<Measured>> RunInterleaved(const Args& args, const Mix& mix,
                                                     const std::vector<GenerationRequest>& requests,
                                                     const std::vector<RunSetup>& setups) {
  std::vector<Measured> best(setups.size());
  for (int repeat = 0; repeat < args.repeats; ++repeat) {
    for (size_t i = 0; i < setups.size(); ++i) {
      auto m = RunOnce(args, mix, requests, setups[i]);
      if (!m.ok()) return m.status();
      PrintRun(mix, setups[i], repeat, *m);
      if (repeat == 0 ||
          m->report.computed_tokens_per_second() > best[i].report.computed_tokens_per_second()) {
        best[i] = *m;
      }
    }
  }
  return best;
}

struct MixSummary {
  std::string mix;
  double ideal = 0;      // padded rows / real tokens
  double row_ratio = 0;  // padded rows / packed rows
  double measured = 0;   // packed tok/s / padded tok/s
};

void PrintHeader(const Mix& mix, const std::vector<int32_t>& lens) {
  int64_t total = 0;
  for (int32_t l : lens) total += l;
  std::printf(
      "\n%s: %zu prompts, %lld prompt tokens (mean %.0f, min %d, max %d), max_new_tokens %d, "
      "ribbon %d tokens\n",
      mix.name.c_str(), lens.size(), static_cast<long long>(total),
      static_cast<double>(total) / lens.size(), *std::min_element(lens.begin(), lens.end()),
      *std::max_element(lens.begin(), lens.end()), mix.max_new_tokens, mix.max_ribbon_tokens);
}

absl::StatusOr<MixSummary> PackedVsPadded(const Args& args, const Mix& mix) {
  const std::vector<int32_t> lens = PromptLengths(mix, 2026);
  PrintHeader(mix, lens);
  const auto requests = MakeRequests(lens, mix.max_new_tokens, 512, 7);
  auto best = RunInterleaved(args, mix, requests,
                             {{BatchingMode::kPadded, 16}, {BatchingMode::kPacked, 16}});
  if (!best.ok()) return best.status();
  const OfflineReport& padded = (*best)[0].report;
  const OfflineReport& packed = (*best)[1].report;
  MixSummary s{mix.name, padded.rows_per_token(), static_cast<double>(padded.rows) / packed.rows,
               packed.computed_tokens_per_second() / padded.computed_tokens_per_second()};
  std::printf(
      "  => ideal ratio (padded rows / real tokens) %.3f, padded rows / packed rows %.3f, measured "
      "ratio "
      "(packed tok/s / padded tok/s) %.3f = %.2f x ideal: %s\n",
      s.ideal, s.row_ratio, s.measured, s.measured / s.ideal,
      s.measured >= 0.9 * s.ideal ? "MEETS >= 0.9" : "BELOW 0.9");
  return s;
}

absl::Status AlignComparison(const Args& args, const Mix& mix) {
  const std::vector<int32_t> lens = PromptLengths(mix, 2027);
  PrintHeader(mix, lens);
  const auto requests = MakeRequests(lens, mix.max_new_tokens, 512, 8);
  auto best = RunInterleaved(args, mix, requests,
                             {{BatchingMode::kPacked, 16}, {BatchingMode::kPacked, 1}});
  if (!best.ok()) return best.status();
  const double a16 = (*best)[0].report.computed_tokens_per_second();
  const double a1 = (*best)[1].report.computed_tokens_per_second();
  std::printf("  => align 16 %.1f tok/s, align 1 %.1f tok/s: align %s is faster by %.1f %%\n", a16,
              a1, a16 >= a1 ? "16" : "1", 100.0 * (std::max(a16, a1) / std::min(a16, a1) - 1));
  return absl::OkStatus();
}

std::vector<Mix> PackingMixes(const Args& args) {
  auto count = [&](int32_t n) {
    return std::max<int32_t>(4, static_cast<int32_t>(std::lround(n * args.scale)));
  };
  std::vector<Mix> mixes = {{.name = "stories260k-uniform-16-511",
                             .model_dir = args.stories,
                             .min_len = 16,
                             .max_len = 511,
                             .prompts = count(300)}};
  if (!args.llama_100m.empty()) {
    mixes.push_back({.name = "llama100m-uniform-16-2047",
                     .model_dir = args.llama_100m,
                     .min_len = 16,
                     .max_len = 2047,
                     .prompts = count(16)});
    mixes.push_back({.name = "llama100m-lognormal-200-1",
                     .model_dir = args.llama_100m,
                     .lengths = Lengths::kLogNormal,
                     .min_len = 16,
                     .max_len = 2047,
                     .prompts = count(40)});
  }
  return mixes;
}

std::vector<Mix> AlignMixes(const Args& args) {
  auto count = [&](int32_t n) {
    return std::max<int32_t>(4, static_cast<int32_t>(std::lround(n * args.scale)));
  };
  std::vector<Mix> mixes = {{.name = "align/stories260k-uniform-16-511",
                             .model_dir = args.stories,
                             .min_len = 16,
                             .max_len = 511,
                             .prompts = count(300)},
                            {.name = "align/stories260k-decode-heavy",
                             .model_dir = args.stories,
                             .min_len = 16,
                             .max_len = 128,
                             .prompts = count(48),
                             .max_new_tokens = 256}};
  if (!args.llama_100m.empty()) {
    mixes.push_back({.name = "align/llama100m-lognormal-200-1",
                     .model_dir = args.llama_100m,
                     .lengths = Lengths::kLogNormal,
                     .min_len = 16,
                     .max_len = 2047,
                     .prompts = count(16)});
    mixes.push_back({.name = "align/llama100m-decode-heavy",
                     .model_dir = args.llama_100m,
                     .min_len = 16,
                     .max_len = 128,
                     .prompts = count(8),
                     .max_new_tokens = 48});
  }
  return mixes;
}

bool Selected(const Args& args, const std::string& name) {
  if (args.only.empty()) return true;
  return std::any_of(args.only.begin(), args.only.end(),
                     [&](const std::string& s) { return name.find(s) != std::string::npos; });
}

bool Parse(int argc, char** argv, Args& a) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    bool ok = true;
    if (k == "--stories")
      a.stories = v;
    else if (k == "--llama-100m")
      a.llama_100m = v;
    else if (k == "--threads")
      ok = absl::SimpleAtoi(v, &a.threads);
    else if (k == "--scale")
      ok = absl::SimpleAtod(v, &a.scale) && a.scale > 0;
    else if (k == "--repeats")
      ok = absl::SimpleAtoi(v, &a.repeats) && a.repeats >= 1;
    else if (k == "--only")
      a.only = absl::StrSplit(v, ',');
    else
      ok = false;
    if (!ok) return false;
  }
  return argc % 2 == 1 && !a.stories.empty();
}

int Main(int argc, char** argv) {
  Args args;
  if (!Parse(argc, argv, args)) {
    std::fprintf(stderr,
                 "usage: packing_bench --stories DIR [--llama-100m DIR] [--threads N] [--scale X] "
                 "[--repeats N] [--only MIX,...]\n");
    return 2;
  }
  std::printf(
      "packing_bench: threads %d, repeats %d (fastest counts), scale %.2f, load average %.2f\n",
      args.threads, args.repeats, args.scale, LoadAverage());
  std::vector<MixSummary> summaries;
  for (const Mix& mix : PackingMixes(args)) {
    if (!Selected(args, mix.name)) continue;
    auto s = PackedVsPadded(args, mix);
    if (!s.ok()) {
      std::fprintf(stderr, "%s: %s\n", mix.name.c_str(), s.status().ToString().c_str());
      return 1;
    }
    summaries.push_back(*s);
  }
  for (const Mix& mix : AlignMixes(args)) {
    if (!Selected(args, mix.name)) continue;
    if (absl::Status s = AlignComparison(args, mix); !s.ok()) {
      std::fprintf(stderr, "%s: %s\n", mix.name.c_str(), s.ToString().c_str());
      return 1;
    }
  }
  std::printf("\nsummary (packed vs padded):\n  %-28s %8s %10s %9s %9s\n", "mix", "ideal",
              "rows p/p", "measured", "x ideal");
  for (const auto& s : summaries) {
    std::printf("  %-28s %8.3f %10.3f %9.3f %9.2f %s\n", s.mix.c_str(), s.ideal, s.row_ratio,
                s.measured, s.measured / s.ideal, s.measured >= 0.9 * s.ideal ? "ok" : "BELOW 0.9");
  }
  std::printf("load average at the end %.2f\n", LoadAverage());
  return 0;
}

}  // namespace
}  // namespace ribbon::bench

int main(int argc, char** argv) { return ribbon::bench::Main(argc, argv); }
