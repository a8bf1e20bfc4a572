#include "core/sampling/sampler.h"

#include <algorithm>
#include <cmath>

namespace ribbon {
namespace {

float LogSumExp(std::span<const float> logits) {
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float x : logits) sum += std::exp(static_cast<double>(x - max));
  return max + static_cast<float>(std::log(sum));
}

}  // namespace

SampledToken SampleToken(std::span<float> logits, const SamplingParams& params,
                         const SamplingContext& context) {
  SampledToken result;
  result.token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  if (params.logprobs || params.top_logprobs > 0) {
    const float lse = LogSumExp(logits);
    result.logprob = logits[result.token] - lse;
  }
  return result;
}

}  // namespace ribbon
