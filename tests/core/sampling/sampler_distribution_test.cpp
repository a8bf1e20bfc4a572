// The sampler's draws follow the distribution it reports: 100,000 draws per case, one per
// output index (the Philox counter), with a fixed seed so the test is deterministic, accepted by
// a chi-square test at p = 0.001. FilteredProbabilities itself is checked against a numpy
// reference in tests/python/sampling.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/sampling/sampler.h"
#include "tests/core/sampling/chi_square.h"

namespace {

using ribbon::SamplingContext;
using ribbon::SamplingParams;
using ribbon::testing::ChiSquarePValue;
using ribbon::testing::ChiSquareResult;
using ribbon::testing::ChiSquareTest;

constexpr int64_t kDraws = 100000;
constexpr double kAcceptBelow = 0.001;

// Deterministic, irregular logits (no library distribution, whose output is unspecified).
std::vector<float> FixedLogits(int vocab, float scale) {
  std::vector<float> logits(vocab);
  for (int i = 0; i < vocab; ++i) {
    logits[i] = scale * static_cast<float>(std::sin(i * 1.7) + 0.5 * std::cos(i * 0.37 + 1.0));
  }
  return logits;
}

std::vector<int64_t> DrawCounts(const std::vector<float>& logits, const SamplingParams& params,
                                const std::vector<int32_t>& prompt,
                                const std::vector<int32_t>& output) {
  std::vector<int64_t> counts(logits.size(), 0);
  std::vector<float> scratch;
  for (int64_t index = 0; index < kDraws; ++index) {
    scratch = logits;
    const SamplingContext context{
        .prompt = prompt, .output = output, .output_index = static_cast<uint64_t>(index)};
    ++counts[ribbon::SampleToken(scratch, params, context).token];
  }
  return counts;
}

std::vector<double> Expected(const std::vector<float>& logits, const SamplingParams& params,
                             const std::vector<int32_t>& prompt,
                             const std::vector<int32_t>& output) {
  std::vector<float> scratch = logits;
  return ribbon::FilteredProbabilities(scratch, params,
                                       {.prompt = prompt, .output = output, .output_index = 0});
}

struct DistributionCase {
  const char* name;
  std::vector<float> logits;
  SamplingParams params;
  std::vector<int32_t> prompt;
  std::vector<int32_t> output;
};

std::vector<DistributionCase> Cases() {
  std::vector<DistributionCase> cases;
  cases.push_back({"temperature only, 1000 tokens",
                   FixedLogits(1000, 1.0f),
                   {.temperature = 1.0f, .seed = 11},
                   {},
                   {}});
  cases.push_back({"every filter and penalty",
                   FixedLogits(64, 3.0f),
                   {.temperature = 0.8f,
                    .top_k = 40,
                    .top_p = 0.9f,
                    .min_p = 0.02f,
                    .repetition_penalty = 1.3f,
                    .presence_penalty = 0.4f,
                    .frequency_penalty = 0.3f,
                    .seed = 12},
                   {1, 2, 3, 5, 8, 13},
                   {2, 2, 21, 34, 34, 34}});
  cases.push_back({"peaked: top token near 0.9",
                   FixedLogits(50, 6.0f),
                   {.temperature = 0.5f, .seed = 13},
                   {},
                   {}});
  cases.push_back({"flat: 500 tokens, top-p 0.99",
                   FixedLogits(500, 0.1f),
                   {.temperature = 1.2f, .top_p = 0.99f, .seed = 14},
                   {},
                   {}});
  return cases;
}

}  // namespace

TEST_CASE("the chi-square p-value matches published critical values", "[sampling]") {
  // Critical values from standard tables: p = 0.001 for 1, 10 and 19 degrees, 0.01 for 999.
  CHECK(ChiSquarePValue(10.828, 1) == Approx(0.001).epsilon(1e-3));
  CHECK(ChiSquarePValue(29.588, 10) == Approx(0.001).epsilon(1e-3));
  CHECK(ChiSquarePValue(43.820, 19) == Approx(0.001).epsilon(1e-3));
  CHECK(ChiSquarePValue(1105.917, 999) == Approx(0.01).epsilon(1e-3));
  // Median of chi-square with 2 degrees of freedom is 2 ln 2.
  CHECK(ChiSquarePValue(2.0 * std::log(2.0), 2) == Approx(0.5).epsilon(1e-9));
}

TEST_CASE("100,000 draws follow the filtered distribution", "[sampling]") {
  for (const DistributionCase& c : Cases()) {
    SECTION(c.name) {
      const std::vector<double> expected = Expected(c.logits, c.params, c.prompt, c.output);
      const std::vector<int64_t> counts = DrawCounts(c.logits, c.params, c.prompt, c.output);
      const ChiSquareResult result = ChiSquareTest(counts, expected);
      INFO("chi2 = " << result.statistic << ", dof = " << result.degrees
                     << ", p = " << result.p_value);
      REQUIRE(result.draws_outside_support == 0);
      REQUIRE(result.degrees >= 5);
      REQUIRE(result.p_value >= kAcceptBelow);
    }
  }
}

TEST_CASE("the chi-square test rejects a distribution slightly off", "[sampling]") {
  // The same draws judged against temperature 0.9 instead of 0.8 and against the distribution
  // without top-p: both must be rejected, or the acceptance above would prove nothing.
  const std::vector<float> logits = FixedLogits(64, 3.0f);
  const SamplingParams drawn{.temperature = 0.8f, .top_p = 0.95f, .seed = 21};
  const std::vector<int64_t> counts = DrawCounts(logits, drawn, {}, {});

  SamplingParams hotter = drawn;
  hotter.temperature = 0.9f;
  CHECK(ChiSquareTest(counts, Expected(logits, hotter, {}, {})).p_value < 1e-6);

  SamplingParams without_top_p = drawn;
  without_top_p.top_p = 1.0f;
  const ChiSquareResult unfiltered = ChiSquareTest(counts, Expected(logits, without_top_p, {}, {}));
  CHECK(unfiltered.p_value < 1e-6);
}
