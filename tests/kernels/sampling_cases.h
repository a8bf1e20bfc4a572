// Random sampling problems for comparing the device sampler (kernels/cuda/sampling.h) with the
// host sampler (core/sampling/sampler.h): logits of several vocabulary sizes (up to Llama 3's
// 128,256) with ties, -inf, NaN and +inf entries, and mixes of temperature, top-k, top-p and
// min-p. Shared by the CPU test of the row algorithm and the GPU test of the kernel. Test-only.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <vector>

#include "core/sampling/sampler.h"
#include "kernels/cuda/sampling_row.h"

namespace ribbon::testing {

struct SamplingCase {
  std::vector<float> logits;
  kernels::DeviceSamplingParams params;
};

inline constexpr int32_t kSamplingVocabs[] = {1, 2, 7, 1000, 32000, 49152, 128256};

// Logits for one row: a mix of shapes, so that ties (rounded logits), masked tokens (-inf),
// NaN, +inf, a dominant token and flat rows all occur.
inline std::vector<float> RandomLogits(std::mt19937_64& rng, int32_t vocab) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  const float scale = std::vector<float>{0.5f, 2.0f, 4.0f, 12.0f}[rng() % 4];
  const int shape = static_cast<int>(rng() % 6);
  std::vector<float> logits(vocab);
  for (float& x : logits) {
    x = normal(rng) * scale;
    if (shape == 1) x = std::round(x);          // many exact ties
    if (shape == 2) x = std::round(x * 0.25f);  // few distinct values, huge tie groups
    if (shape == 3 && unit(rng) < 0.3f) x = -std::numeric_limits<float>::infinity();
    if (shape == 4 && unit(rng) < 0.001f) x = std::numeric_limits<float>::quiet_NaN();
  }
  if (shape == 5) logits[rng() % vocab] += 30.0f;  // one dominant token
  if (rng() % 40 == 0) logits[rng() % vocab] = std::numeric_limits<float>::infinity();
  if (rng() % 80 == 0) {
    for (float& x : logits) x = -std::numeric_limits<float>::infinity();
  }
  return logits;
}

inline kernels::DeviceSamplingParams RandomParams(std::mt19937_64& rng, int32_t vocab) {
  kernels::DeviceSamplingParams p;
  const float temperatures[] = {0.0f, 0.3f, 0.7f, 1.0f, 1.0f, 1.5f};
  const int32_t top_ks[] = {0, 0, 1, 5, 50, 1000, 5000, vocab, vocab + 3};
  const float top_ps[] = {1.0f, 1.0f, 0.9f, 0.5f, 0.99f, 0.1f, 0.95f};
  const float min_ps[] = {0.0f, 0.0f, 0.0f, 0.05f, 0.2f};
  p.temperature = temperatures[rng() % 6];
  p.top_k = top_ks[rng() % 9];
  p.top_p = top_ps[rng() % 7];
  p.min_p = min_ps[rng() % 5];
  p.seed = rng();
  p.output_index = rng() % 3 == 0 ? rng() : rng() % 4096;
  return p;
}

inline SamplingCase RandomCase(std::mt19937_64& rng, int32_t vocab) {
  SamplingCase c;
  c.logits = RandomLogits(rng, vocab);
  c.params = RandomParams(rng, vocab);
  return c;
}

// The host sampler's token for the case (SampleToken on a copy of the logits).
inline int32_t HostToken(const SamplingCase& c) {
  std::vector<float> scratch = c.logits;
  SamplingParams params;
  params.temperature = c.params.temperature;
  params.top_k = c.params.top_k;
  params.top_p = c.params.top_p;
  params.min_p = c.params.min_p;
  params.seed = c.params.seed;
  SamplingContext context;
  context.output_index = c.params.output_index;
  return SampleToken(std::span<float>(scratch), params, context).token;
}

}  // namespace ribbon::testing
