// Stop rules: when a request's generation ends on a token, stated and implemented once, for the
// engine (which applies them) and every sink (which can rely on them). Pure functions over plain
// data; any thread.
//
// The rule:
//  - A stop token is EOS (the model's eos ids, unless ignore_eos) or one of stop_token_ids.
//  - Before min_new_tokens tokens have been generated no stop token can be drawn: they are banned
//    (their logits set to -inf; BannedTokens).
//  - A stop token drawn at or after min_new_tokens ends the request (kStopToken) and is WITHHELD:
//    it is never delivered as output and does not count as generated.
//  - Otherwise the token is delivered, and the request ends after it (kLength) when it is the
//    max_new_tokens-th generated token or when it sits at the last position of the context (it
//    could never be fed back).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ribbon {

struct StopConditions {
  int32_t max_new_tokens = 16;
  int32_t min_new_tokens = 0;           // stop tokens cannot be drawn before this many
  std::vector<int32_t> stop_token_ids;  // in addition to the model's EOS ids
  bool ignore_eos = false;              // EOS does not stop (stop_token_ids still do)
};

enum class StopOutcome {
  kContinue,      // deliver the token; generation goes on
  kStopToken,     // withhold the token; the request ends (a stop token)
  kLengthReached  // deliver the token; the request ends after it (a length limit)
};

// The tokens banned for the token drawn after `generated` generated tokens.
std::vector<int32_t> BannedTokens(const StopConditions& stop, std::span<const int32_t> eos_ids,
                                  int32_t generated);

// What a drawn `token` means for a request that had generated `generated` tokens before it and
// holds `sequence_tokens` tokens (prompt + generated) before it, in a context of `context`.
StopOutcome CheckStop(const StopConditions& stop, std::span<const int32_t> eos_ids,
                      int32_t generated, int64_t sequence_tokens, int64_t context, int32_t token);

}  // namespace ribbon
