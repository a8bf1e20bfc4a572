// Seeded offline mixes with long decode chains, for ribbon-batch's ordering (issue 19, item 4).
//
// Contract: MakeChainMix(spec, seed) is deterministic. It draws `prompts` prompt lengths from a
// lognormal (median, sigma) clipped to [min_len, max_len], random token ids in [3, vocab); of
// those requests, `long_chains` (chosen at random positions) decode uniform [long_min, long_max]
// tokens and the others uniform [short_min, short_max]. EOS is ignored, so every request decodes
// exactly its max_new_tokens and the lower bound is known before the run.
#pragma once

#include <cstdint>
#include <vector>

#include "core/engine/request.h"

namespace ribbon::bench {

struct ChainMixSpec {
  int32_t prompts = 300;
  int32_t long_chains = 18;
  int32_t long_min = 60, long_max = 127;
  int32_t short_min = 1, short_max = 8;
  double median = 100, sigma = 0.8;
  int32_t min_len = 8, max_len = 384;
  int32_t vocab = 512;
};

std::vector<GenerationRequest> MakeChainMix(const ChainMixSpec& spec, uint64_t seed);

}  // namespace ribbon::bench
