// Token sampling over one row of logits, on the host. Pure C++ (no torch).
//
// Order of operations (docs/sampling.md): repetition penalty, frequency and presence penalties,
// then temperature, top-k, top-p, min-p, then one draw. Temperature 0 is greedy: the argmax of
// the penalised logits. Randomness is counter-based: the uniform draw for output token i of a
// request is Philox4x32-10 keyed by the seed with counter i (core/sampling/philox.h), so a
// seeded request gives the same tokens alone, packed with others, after preemption and after a
// retry.
//
// Threads: any thread, concurrently on different rows. Each thread keeps a vocabulary-sized
// scratch workspace, so after its first call a thread samples without allocating (except the
// returned top-logprob list).
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
  // Log-probability of `token` under the raw softmax: the model's logits before penalties,
  // temperature and filters (vLLM's default "raw_logprobs"). Set when params.logprobs or
  // params.top_logprobs > 0, else 0.
  float logprob = 0.0f;
  // The params.top_logprobs tokens with the highest raw logits (capped at the vocabulary),
  // highest first, ties to the lower token id; logprobs as for `logprob`.
  std::vector<TopLogprob> top;
};

// What the sampler may look at besides the logits.
// Ids outside the vocabulary are ignored by the penalties.
struct SamplingContext {
  std::span<const int32_t> prompt = {};  // for the repetition penalty
  std::span<const int32_t> output = {};  // generated so far (all penalties)
  uint64_t output_index = 0;             // index of the token being sampled (= output.size());
                                         // the Philox counter
};

// Samples one token from `logits` (size = vocab, non-empty). `logits` is scratch: it may be
// overwritten. NaN logits count as -inf. If every logit is -inf the result is token 0.
// `params` must be within the ranges of sampling_params.h (the server validates them).
SampledToken SampleToken(std::span<float> logits, const SamplingParams& params,
                         const SamplingContext& context);

// The distribution SampleToken draws from, as a dense vocabulary-sized vector: penalised,
// filtered and renormalised probabilities (zero for filtered tokens; one-hot at the argmax when
// greedy). For tests and diagnostics; same contract on `logits` as SampleToken.
std::vector<double> FilteredProbabilities(std::span<float> logits, const SamplingParams& params,
                                          const SamplingContext& context);

}  // namespace ribbon
