#include "bench/offline/chain_mixes.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace ribbon::bench {

std::vector<GenerationRequest> MakeChainMix(const ChainMixSpec& spec, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> length(std::log(spec.median), spec.sigma);
  std::uniform_int_distribution<int32_t> token(3, spec.vocab - 1);
  std::vector<size_t> positions(spec.prompts);
  std::iota(positions.begin(), positions.end(), 0);
  std::shuffle(positions.begin(), positions.end(), rng);
  std::vector<bool> is_long(spec.prompts, false);
  for (int32_t i = 0; i < std::min(spec.long_chains, spec.prompts); ++i)
    is_long[positions[i]] = true;
  std::vector<GenerationRequest> out(spec.prompts);
  for (int32_t i = 0; i < spec.prompts; ++i) {
    GenerationRequest& r = out[i];
    const int32_t len =
        std::clamp(static_cast<int32_t>(std::lround(length(rng))), spec.min_len, spec.max_len);
    r.prompt.resize(len);
    for (int32_t& id : r.prompt) id = token(rng);
    const int32_t lo = is_long[i] ? spec.long_min : spec.short_min;
    const int32_t hi = is_long[i] ? spec.long_max : spec.short_max;
    r.stop.max_new_tokens = std::uniform_int_distribution<int32_t>(lo, hi)(rng);
    r.stop.ignore_eos = true;
    r.sampling.temperature = 0;
    r.request_id = "mix-" + std::to_string(i);
  }
  return out;
}

}  // namespace ribbon::bench
