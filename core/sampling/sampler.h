// Token sampling over one row of logits, on the host. Pure C++ (no torch).
//
// Randomness is counter-based: the uniform draw for output token i of a request is a pure
// function of (seed, i), so a seeded request gives the same tokens alone, packed with others,
// after preemption and after a retry.
//
// Threads: stateless; any thread, concurrently on different rows.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/sampling/sampling_params.h"

namespace ribbon {

struct TopLogprob {
  int32_t token = 0;
  float logprob = 0.0f;
};

struct SampledToken {
  int32_t token = 0;
  float logprob = 0.0f;            // log-probability of `token` under the raw (unfiltered) softmax
  std::vector<TopLogprob> top;     // params.top_logprobs best alternatives, highest first
};

// What the sampler may look at besides the logits.
struct SamplingContext {
  std::span<const int32_t> prompt;  // for the repetition penalty
  std::span<const int32_t> output;  // generated so far (penalties)
  uint64_t output_index = 0;        // index of the token being sampled (= output.size())
};

// Samples one token from `logits` (size = vocab). `logits` is scratch: it may be overwritten.
SampledToken SampleToken(std::span<float> logits, const SamplingParams& params,
                         const SamplingContext& context);

}  // namespace ribbon
