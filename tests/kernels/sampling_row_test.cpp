// The device sampler's row algorithm (kernels/cuda/sampling_row.h) and arithmetic
// (kernels/cuda/sampling_math.h), run on the CPU with a one-thread block, against the host
// sampler: same Philox draws, same exp weights bit for bit, same tokens. The kernel runs the same
// code with 512 threads per row; tests/kernels/cuda_sampling_test.cpp checks it on a GPU.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "core/sampling/philox.h"
#include "kernels/cpu/fast_exp.h"
#include "kernels/cuda/sampling_math.h"
#include "kernels/cuda/sampling_row.h"
#include "tests/kernels/sampling_cases.h"

namespace ribbon {
namespace {

namespace ks = kernels::sampling;

TEST_CASE("device Philox draw equals the host's", "[sampling]") {
  std::mt19937_64 rng(7);
  const uint64_t edges[] = {0, 1, 0xFFFFFFFFull, 0x100000000ull, ~0ull};
  for (uint64_t seed : edges) {
    for (uint64_t index : edges)
      REQUIRE(ks::SamplingUniform(seed, index) == SamplingUniform(seed, index));
  }
  for (int i = 0; i < 1000000; ++i) {
    const uint64_t seed = rng(), index = i % 2 ? rng() : rng() % 100000;
    REQUIRE(ks::SamplingUniform(seed, index) == SamplingUniform(seed, index));
  }
}

TEST_CASE("device ExpNonPositive equals the host's bit for bit", "[sampling]") {
  // Every 61st float from -0 down to -100 (about 18 million), then the edges.
  const uint32_t last = std::bit_cast<uint32_t>(-100.0f);
  int64_t checked = 0;
  for (uint32_t bits = 0x80000000u; bits <= last; bits += 61) {
    const float x = std::bit_cast<float>(bits);
    REQUIRE(std::bit_cast<uint32_t>(ks::ExpNonPositive(x)) ==
            std::bit_cast<uint32_t>(kernels::ExpNonPositive(x)));
    ++checked;
  }
  CHECK(checked > 10000000);
  const float edges[] = {0.0f,
                         -0.0f,
                         -87.3f,
                         std::nextafter(-87.3f, 0.0f),
                         std::nextafter(-87.3f, -100.0f),
                         -std::numeric_limits<float>::infinity(),
                         -std::numeric_limits<float>::max(),
                         -1e-45f};
  for (float x : edges) {
    REQUIRE(std::bit_cast<uint32_t>(ks::ExpNonPositive(x)) ==
            std::bit_cast<uint32_t>(kernels::ExpNonPositive(x)));
  }
}

TEST_CASE("order keys sort like floats", "[sampling]") {
  const float values[] = {
      -std::numeric_limits<float>::infinity(), -3.5f, -1e-30f, -0.0f, 0.0f, 1e-30f, 2.0f,
      std::numeric_limits<float>::max()};
  for (size_t i = 0; i + 1 < std::size(values); ++i) {
    CHECK(ks::OrderKey(values[i]) <= ks::OrderKey(values[i + 1]));
    CHECK(ks::FromOrderKey(ks::OrderKey(values[i])) == values[i]);
  }
  CHECK(ks::OrderKey(-0.0f) == ks::OrderKey(0.0f));
}

int32_t SerialToken(const testing::SamplingCase& c) {
  ks::SerialBlock block;
  std::vector<float> weights(c.logits.size());
  return ks::SampleRow(block, c.logits.data(), static_cast<int32_t>(c.logits.size()), c.params,
                       weights.data());
}

TEST_CASE("the row algorithm draws the host sampler's tokens", "[sampling]") {
  std::mt19937_64 rng(20261204);
  int draws = 0, random_draws = 0, off_argmax = 0, top_p = 0, top_k = 0, vocab_128k = 0;
  for (int i = 0; i < 1000; ++i) {
    const int32_t vocab = testing::kSamplingVocabs[i % std::size(testing::kSamplingVocabs)];
    const testing::SamplingCase c = testing::RandomCase(rng, vocab);
    const int32_t host = testing::HostToken(c);
    INFO("draw " << i << " vocab " << vocab << " T " << c.params.temperature << " top_k "
                 << c.params.top_k << " top_p " << c.params.top_p << " min_p " << c.params.min_p
                 << " seed " << c.params.seed);
    REQUIRE(SerialToken(c) == host);
    ++draws;
    if (c.params.temperature > 0.0f) {
      ++random_draws;
      top_p += c.params.top_p < 1.0f;
      top_k += c.params.top_k > 0 && c.params.top_k < vocab;
      ks::SerialBlock block;
      off_argmax += host != ks::Best(block, c.logits.data(), vocab).index;
    }
    vocab_128k += vocab == 128256;
  }
  CHECK(draws == 1000);
  // The mix must exercise what it claims to.
  CHECK(random_draws > 700);
  CHECK(off_argmax > 200);
  CHECK(top_p > 300);
  CHECK(top_k > 200);
  CHECK(vocab_128k > 100);
}

}  // namespace
}  // namespace ribbon
