#include "core/sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/sampling/philox.h"
#include "core/sampling/sampling_steps.h"

namespace ribbon {
namespace {

// log-softmax of one logit; -inf when every logit is -inf (no distribution to speak of).
float LogProb(float logit, double log_normaliser) {
  if (log_normaliser == -std::numeric_limits<double>::infinity()) {
    return -std::numeric_limits<float>::infinity();
  }
  return static_cast<float>(logit - log_normaliser);
}

// Higher logit first; equal logits: lower token id first.
bool RanksHigher(const TopLogprob& a, const TopLogprob& b) {
  return a.logprob > b.logprob || (a.logprob == b.logprob && a.token < b.token);
}

// The `count` highest raw logits as logprobs, best first. A heap whose front is the worst kept
// entry makes this one pass over the vocabulary.
std::vector<TopLogprob> TopLogprobs(std::span<const float> logits, int32_t count,
                                    double log_normaliser) {
  const size_t wanted = std::min(static_cast<size_t>(std::max(count, 0)), logits.size());
  std::vector<TopLogprob> top;
  if (wanted == 0) return top;
  top.reserve(wanted);
  for (size_t i = 0; i < logits.size(); ++i) {
    const TopLogprob entry{static_cast<int32_t>(i), logits[i]};  // logprob holds the logit
    if (top.size() < wanted) {
      top.push_back(entry);
      std::push_heap(top.begin(), top.end(), RanksHigher);
    } else if (RanksHigher(entry, top.front())) {
      std::pop_heap(top.begin(), top.end(), RanksHigher);
      top.back() = entry;
      std::push_heap(top.begin(), top.end(), RanksHigher);
    }
  }
  std::sort_heap(top.begin(), top.end(), RanksHigher);
  for (TopLogprob& entry : top) entry.logprob = LogProb(entry.logprob, log_normaliser);
  return top;
}

bool HasFiniteLogit(std::span<const float> logits) {
  return MaxLogit(logits) > -std::numeric_limits<float>::infinity();
}

// Penalised logits in, the chosen token out.
int32_t ChooseToken(std::span<const float> scores, const SamplingParams& params,
                    uint64_t output_index, SamplingWorkspace& workspace) {
  if (params.greedy() || !HasFiniteLogit(scores)) return ArgMax(scores);
  const CandidateSet candidates = SelectCandidates(scores, params, workspace);
  return DrawCandidate(candidates, SamplingUniform(params.seed, output_index));
}

}  // namespace

SampledToken SampleToken(std::span<float> logits, const SamplingParams& params,
                         const SamplingContext& context) {
  SampledToken result;
  if (logits.empty()) return result;
  SamplingWorkspace& workspace = ThreadSamplingWorkspace();
  SanitizeLogits(logits);
  const bool want_logprobs = params.logprobs || params.top_logprobs > 0;
  double raw_log_normaliser = 0.0;
  if (want_logprobs) {
    raw_log_normaliser = LogSumExp(logits);
    result.top = TopLogprobs(logits, params.top_logprobs, raw_log_normaliser);
  }
  ApplyPenalties(logits, params, context, workspace);
  result.token = ChooseToken(logits, params, context.output_index, workspace);
  if (want_logprobs) {
    const float raw_logit = LogitBeforePenalties(logits, result.token, workspace);
    result.logprob = LogProb(raw_logit, raw_log_normaliser);
  }
  return result;
}

std::vector<double> FilteredProbabilities(std::span<float> logits, const SamplingParams& params,
                                          const SamplingContext& context) {
  std::vector<double> probabilities(logits.size(), 0.0);
  if (logits.empty()) return probabilities;
  SamplingWorkspace& workspace = ThreadSamplingWorkspace();
  SanitizeLogits(logits);
  ApplyPenalties(logits, params, context, workspace);
  if (params.greedy() || !HasFiniteLogit(logits)) {
    probabilities[ArgMax(logits)] = 1.0;
    return probabilities;
  }
  const CandidateSet candidates = SelectCandidates(logits, params, workspace);
  for (size_t i = 0; i < candidates.tokens.size(); ++i) {
    probabilities[candidates.tokens[i]] = candidates.weights[i] / candidates.total_weight;
  }
  return probabilities;
}

}  // namespace ribbon
