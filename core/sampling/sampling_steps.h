// The steps SampleToken runs, in order (see docs/sampling.md): penalties on the logits, then
// temperature, top-k, top-p and min-p giving the candidate set, then one inverse-CDF draw.
// Exposed for sampler.cpp and for tests; callers outside core/sampling use sampler.h.
//
// Ownership: every step works inside a SamplingWorkspace the caller owns; spans returned by a
// step point into it and stay valid until the workspace is used again.
// Threads: a workspace belongs to one thread at a time; the functions are otherwise stateless.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/sampling/sampler.h"
#include "core/sampling/sampling_params.h"

namespace ribbon {

// Scratch memory reused across calls so that sampling a token allocates nothing once the
// buffers have grown to the vocabulary size.
struct SamplingWorkspace {
  // Indexed by token id; all zero between calls.
  std::vector<int32_t> output_counts;
  std::vector<uint8_t> seen;
  // Tokens whose logits the penalties changed, and their logits before the change.
  std::vector<int32_t> penalised_tokens;
  std::vector<float> penalised_raw_logits;
  // The candidate set: token ids in increasing order and their unnormalised weights
  // exp((logit - max_logit) / temperature).
  std::vector<int32_t> candidate_tokens;
  std::vector<float> candidate_weights;
  // Candidates packed as (weight, position) keys for the top-p search.
  std::vector<uint64_t> rank_keys;
  // The top-k selection's heap, or its copy of the logits.
  std::vector<float> values;
};

// The calling thread's workspace.
SamplingWorkspace& ThreadSamplingWorkspace();

// Replaces NaN by -inf and +inf by the largest float so that every later comparison is a
// strict weak order and every weight is finite.
void SanitizeLogits(std::span<float> logits);

// Repetition penalty over the distinct prompt and output tokens (HF: positive logits divided,
// others multiplied), then frequency and presence penalties over the output tokens (OpenAI /
// vLLM: logit -= frequency * count, then logit -= presence if count > 0). Token ids outside
// [0, logits.size()) are ignored. Records what it changed in workspace.penalised_*.
void ApplyPenalties(std::span<float> logits, const SamplingParams& params,
                    const SamplingContext& context, SamplingWorkspace& workspace);

// The logit `token` had before ApplyPenalties, given the logits after it.
float LogitBeforePenalties(std::span<const float> logits, int32_t token,
                           const SamplingWorkspace& workspace);

// The largest logit (-inf for an empty span). Logits must be sanitised.
float MaxLogit(std::span<const float> logits);

// log(sum(exp(logits))), or -inf when every logit is -inf. Logits must be sanitised.
double LogSumExp(std::span<const float> logits);

// The first index of the largest logit (ties go to the lower token id). Logits must be
// sanitised and non-empty.
int32_t ArgMax(std::span<const float> logits);

// The tokens that survive temperature, top-k, top-p and min-p, with their weights.
struct CandidateSet {
  std::span<const int32_t> tokens;  // increasing token ids
  std::span<const float> weights;   // unnormalised; probability = weight / total_weight
  double total_weight = 0.0;
};

// Requires params.temperature > 0 and at least one finite logit. `scores` are the penalised,
// sanitised logits.
CandidateSet SelectCandidates(std::span<const float> scores, const SamplingParams& params,
                              SamplingWorkspace& workspace);

// Inverse CDF in increasing token order: the first candidate whose cumulative weight exceeds
// uniform * total_weight. `uniform` is in [0, 1).
int32_t DrawCandidate(const CandidateSet& candidates, double uniform);

}  // namespace ribbon
