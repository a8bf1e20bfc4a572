#include "core/sampling/sampler.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <thread>
#include <vector>

namespace {

using ribbon::FilteredProbabilities;
using ribbon::SampledToken;
using ribbon::SampleToken;
using ribbon::SamplingContext;
using ribbon::SamplingParams;

constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<float> FixedLogits(int vocab, float scale) {
  std::vector<float> logits(vocab);
  for (int i = 0; i < vocab; ++i) {
    logits[i] = scale * static_cast<float>(std::sin(i * 1.7) + 0.5 * std::cos(i * 0.37 + 1.0));
  }
  return logits;
}

int32_t Sample(std::vector<float> logits, const SamplingParams& params, uint64_t index,
               const std::vector<int32_t>& output = {}) {
  return SampleToken(logits, params, {.output = output, .output_index = index}).token;
}

std::vector<int32_t> SampleSequence(const std::vector<float>& logits, const SamplingParams& params,
                                    int length) {
  std::vector<int32_t> tokens;
  for (int i = 0; i < length; ++i) tokens.push_back(Sample(logits, params, i));
  return tokens;
}

size_t CountNonZero(const std::vector<double>& probabilities) {
  return std::count_if(probabilities.begin(), probabilities.end(), [](double p) { return p > 0; });
}

}  // namespace

TEST_CASE("the same seed and index give the same token, other seeds other tokens", "[sampling]") {
  const std::vector<float> logits = FixedLogits(1000, 0.5f);
  const SamplingParams seeded{.temperature = 1.0f, .seed = 42};
  const std::vector<int32_t> first = SampleSequence(logits, seeded, 200);
  CHECK(SampleSequence(logits, seeded, 200) == first);

  SamplingParams other = seeded;
  other.seed = 43;
  const std::vector<int32_t> second = SampleSequence(logits, other, 200);
  int same = 0;
  for (size_t i = 0; i < first.size(); ++i) same += first[i] == second[i];
  CHECK(same < 20);  // near-flat over 1000 tokens: a chance match is rare
  // Successive indices of one seed are independent draws, not a repeated one.
  CHECK(std::count(first.begin(), first.end(), first[0]) < 20);
}

TEST_CASE("a request's draw depends only on its own seed and index", "[sampling]") {
  const std::vector<float> logits = FixedLogits(500, 1.0f);
  const SamplingParams request{.temperature = 0.9f, .top_p = 0.95f, .seed = 7};
  const std::vector<int32_t> alone = SampleSequence(logits, request, 64);

  // Interleaved with another request of a different vocabulary and penalties, as in a batch.
  const std::vector<float> other_logits = FixedLogits(3000, 2.0f);
  const SamplingParams other{.temperature = 1.3f,
                             .top_k = 700,
                             .repetition_penalty = 1.5f,
                             .frequency_penalty = 0.5f,
                             .seed = 8};
  std::vector<int32_t> interleaved, other_output = {1, 2, 2, 999};
  for (int i = 0; i < 64; ++i) {
    Sample(other_logits, other, i, other_output);
    interleaved.push_back(Sample(logits, request, i));
  }
  CHECK(interleaved == alone);

  // Resumed after a preemption: index 40 onwards, on a thread that has not sampled before.
  std::vector<int32_t> resumed;
  std::thread([&] {
    for (int i = 40; i < 64; ++i) resumed.push_back(Sample(logits, request, i));
  }).join();
  CHECK(resumed == std::vector<int32_t>(alone.begin() + 40, alone.end()));

  // Concurrently on four threads.
  std::vector<std::vector<int32_t>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& tokens : per_thread) {
    threads.emplace_back([&] { tokens = SampleSequence(logits, request, 64); });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& tokens : per_thread) CHECK(tokens == alone);
}

TEST_CASE("temperature 0 takes the argmax of the penalised logits", "[sampling]") {
  std::vector<float> logits = {1.0f, 3.0f, 2.9f, -1.0f};
  const SamplingParams greedy{.temperature = 0.0f, .seed = 1};
  for (uint64_t index = 0; index < 10; ++index) CHECK(Sample(logits, greedy, index) == 1);

  SamplingParams penalised = greedy;
  penalised.repetition_penalty = 1.1f;  // 3.0 / 1.1 = 2.73 < 2.9
  CHECK(SampleToken(logits, penalised, {.prompt = std::vector<int32_t>{1}}).token == 2);

  logits = {1.0f, 3.0f, 2.9f, -1.0f};
  penalised = greedy;
  penalised.presence_penalty = 0.2f;
  CHECK(Sample(logits, penalised, 0, {1}) == 2);

  // Ties go to the lower token id.
  CHECK(Sample({0.5f, 2.0f, 2.0f}, greedy, 0) == 1);
}

TEST_CASE("logprobs come from the raw log-softmax, before penalties and filters", "[sampling]") {
  const std::vector<float> logits = {2.0f, 1.0f, 0.5f, 3.0f, 3.0f, -2.0f};
  double normaliser = 0.0;
  for (float x : logits) normaliser += std::exp(static_cast<double>(x));
  const auto raw_logprob = [&](int32_t token) { return logits[token] - std::log(normaliser); };

  const SamplingParams params{.temperature = 0.7f,
                              .top_k = 3,
                              .repetition_penalty = 1.4f,
                              .presence_penalty = 0.5f,
                              .seed = 5,
                              .top_logprobs = 4,
                              .logprobs = true};
  for (uint64_t index = 0; index < 20; ++index) {
    std::vector<float> scratch = logits;
    const std::vector<int32_t> output = {3, 0};
    const SampledToken sampled =
        SampleToken(scratch, params, {.output = output, .output_index = index});
    CHECK(sampled.logprob == Approx(raw_logprob(sampled.token)).margin(1e-6));
    REQUIRE(sampled.top.size() == 4);
    const int32_t expected_order[] = {3, 4, 0, 1};  // 3.0 ties: lower id first
    for (int i = 0; i < 4; ++i) {
      CHECK(sampled.top[i].token == expected_order[i]);
      CHECK(sampled.top[i].logprob == Approx(raw_logprob(expected_order[i])).margin(1e-6));
    }
  }

  std::vector<float> scratch = logits;
  const SampledToken capped = SampleToken(scratch, {.top_logprobs = 50}, {});
  CHECK(capped.top.size() == logits.size());
  CHECK(capped.logprob == Approx(raw_logprob(3)).margin(1e-6));

  scratch = logits;
  const SampledToken none = SampleToken(scratch, {.temperature = 1.0f}, {});
  CHECK(none.top.empty());
  CHECK(none.logprob == 0.0f);
}

TEST_CASE("NaN and infinite logits", "[sampling]") {
  const SamplingParams params{.temperature = 1.0f, .seed = 3};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (uint64_t index = 0; index < 50; ++index) {
    CHECK(Sample({nan, 0.0f, nan, 0.1f}, params, index) % 2 == 1);  // NaN is never drawn
    CHECK(Sample({0.0f, kInf, 5.0f}, params, index) == 1);
  }
  std::vector<float> all_masked = {-kInf, -kInf, -kInf};
  const SampledToken fallback =
      SampleToken(all_masked, {.temperature = 1.0f, .top_logprobs = 2}, {});
  CHECK(fallback.token == 0);
  CHECK(fallback.logprob == -kInf);
  CHECK(fallback.top.at(1).logprob == -kInf);
  std::vector<float> masked = {-kInf, 1.0f, -kInf};
  CHECK(SampleToken(masked, {.temperature = 1.0f, .logprobs = true}, {}).logprob ==
        Approx(0.0).margin(1e-7));
}

TEST_CASE("top-k keeps every token tied with the k-th logit", "[sampling]") {
  std::vector<float> logits = {1.0f, 2.0f, 2.0f, 2.0f, 0.0f, 3.0f};
  const auto probabilities = FilteredProbabilities(logits, {.temperature = 1.0f, .top_k = 2}, {});
  CHECK(CountNonZero(probabilities) == 4);
  CHECK(probabilities[0] == 0.0);
  CHECK(probabilities[4] == 0.0);
}

TEST_CASE("filters on a 151,936-token vocabulary keep the right tokens", "[sampling]") {
  const int vocab = 151936;
  const std::vector<float> logits = FixedLogits(vocab, 4.0f);
  std::vector<float> sorted = logits;
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  for (int32_t k : {1, 50, 256, 257, 5000}) {
    std::vector<float> scratch = logits;
    const auto probabilities =
        FilteredProbabilities(scratch, {.temperature = 1.0f, .top_k = k}, {});
    INFO("top_k = " << k);
    const auto at_least_kth =
        std::count_if(logits.begin(), logits.end(), [&](float x) { return x >= sorted[k - 1]; });
    CHECK(CountNonZero(probabilities) == static_cast<size_t>(at_least_kth));
    for (int i = 0; i < vocab; ++i) {
      if (probabilities[i] > 0) REQUIRE(logits[i] >= sorted[k - 1]);
    }
  }
  // top-p over the whole vocabulary: the kept tokens are the most probable ones.
  std::vector<float> scratch = logits;
  const auto top_p = FilteredProbabilities(scratch, {.temperature = 1.0f, .top_p = 0.5f}, {});
  const size_t kept = CountNonZero(top_p);
  CHECK(kept > 1000);
  for (int i = 0; i < vocab; ++i) {
    if (top_p[i] > 0) REQUIRE(logits[i] >= sorted[kept - 1]);
  }
}

TEST_CASE("penalties that overflow a logit do not poison the distribution", "[sampling]") {
  std::vector<float> logits = {3e38f, 1.0f, 2.0f};
  const std::vector<int32_t> output = {0};
  // 3e38 / 0.01 overflows to +inf, which counts as the largest float.
  const auto probabilities = FilteredProbabilities(
      logits, {.temperature = 1.0f, .repetition_penalty = 0.01f}, {.output = output});
  CHECK(probabilities == std::vector<double>{1.0, 0.0, 0.0});
}

TEST_CASE("penalties ignore token ids outside the vocabulary", "[sampling]") {
  std::vector<float> logits = {1.0f, 2.0f, 3.0f};
  const std::vector<int32_t> prompt = {-1, 3, 1000000};
  const auto probabilities = FilteredProbabilities(
      logits, {.temperature = 1.0f, .repetition_penalty = 2.0f, .frequency_penalty = 1.0f},
      {.prompt = prompt, .output = prompt});
  const double normaliser = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  CHECK(probabilities[2] == Approx(std::exp(3.0) / normaliser).epsilon(1e-6));
}
