// Sequence: the engine's state for one accepted request. Engine-internal.
// Ownership: owned by the engine (Engine::Impl). Threads: engine thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/engine/request.h"

namespace ribbon {

struct Sequence {
  uint64_t id = 0;
  GenerationRequest request;
  std::shared_ptr<RequestSink> sink;
  std::vector<int32_t> tokens;  // prompt followed by the generated tokens
  int32_t prompt_len = 0;
  int32_t num_computed = 0;     // tokens whose KV is in the cache
  bool running = false;         // holds KV blocks
  bool ever_scheduled = false;
  // Pipelined steps: the token sampled by the step in flight is not in `tokens` yet (its row in
  // the next plan is patched when it arrives), and a sequence in a launched step is kept alive.
  bool pending_token = false;
  int32_t in_flight = 0;        // launched steps that still reference it
  FinishInfo info;              // timestamps and counters, completed at finish

  int32_t generated() const { return static_cast<int32_t>(tokens.size()) - prompt_len; }
  // Tokens known or about to be known (the pending one counted).
  int32_t known_tokens() const { return static_cast<int32_t>(tokens.size()) + (pending_token ? 1 : 0); }
  std::span<const int32_t> prompt() const { return {tokens.data(), static_cast<size_t>(prompt_len)}; }
  std::span<const int32_t> output() const {
    return {tokens.data() + prompt_len, tokens.size() - static_cast<size_t>(prompt_len)};
  }
};

}  // namespace ribbon
