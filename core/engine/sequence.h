// Sequence: the engine's state for one accepted request. Engine-internal.
// Ownership: owned by the engine's SequenceTable. Threads: engine thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/engine/request.h"

namespace ribbon {

// A sequence's place in its life cycle; changed only through SequenceTable::Transition
// (core/engine/sequence_table.h), which lists the legal moves.
enum class SeqState { kWaiting, kRunning, kPreempted, kFinished };

struct Sequence {
  uint64_t id = 0;
  GenerationRequest request;
  std::shared_ptr<RequestSink> sink;  // null once finished (OnFinish has been called)
  SeqState state = SeqState::kWaiting;
  std::vector<int32_t> tokens;  // prompt followed by the generated tokens
  int32_t prompt_len = 0;
  int32_t num_computed = 0;  // tokens whose KV is in the cache
  // Pipelined steps: tokens that launched steps are sampling are not in `tokens` yet (the next
  // plan links its row for one to the step drawing it), and a sequence in a launched step is
  // kept in the table.
  int32_t pending_tokens = 0;
  int32_t in_flight = 0;         // launched steps that still reference it
  FinishInfo info;               // timestamps and counters, completed at finish
  uint64_t cache_root = 0;       // prefix-cache hash chain start (the request's salt)
  uint64_t match_epoch = ~0ull;  // the cache's epoch when a match was last tried

  bool finished() const { return state == SeqState::kFinished; }
  int32_t generated() const { return static_cast<int32_t>(tokens.size()) - prompt_len; }
  // Tokens known or about to be known (the pending ones counted).
  int32_t known_tokens() const { return static_cast<int32_t>(tokens.size()) + pending_tokens; }
  std::span<const int32_t> prompt() const {
    return {tokens.data(), static_cast<size_t>(prompt_len)};
  }
  std::span<const int32_t> output() const {
    return {tokens.data() + prompt_len, tokens.size() - static_cast<size_t>(prompt_len)};
  }
};

}  // namespace ribbon
