#include "core/sampling/stop_rules.h"

#include <algorithm>

namespace ribbon {
namespace {

bool Contains(std::span<const int32_t> ids, int32_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

std::vector<int32_t> BannedTokens(const StopConditions& stop, std::span<const int32_t> eos_ids,
                                  int32_t generated) {
  std::vector<int32_t> banned;
  if (generated >= stop.min_new_tokens) return banned;
  banned = stop.stop_token_ids;
  if (!stop.ignore_eos) banned.insert(banned.end(), eos_ids.begin(), eos_ids.end());
  return banned;
}

StopOutcome CheckStop(const StopConditions& stop, std::span<const int32_t> eos_ids,
                      int32_t generated, int64_t sequence_tokens, int64_t context, int32_t token) {
  if (generated >= stop.min_new_tokens) {
    if (Contains(stop.stop_token_ids, token)) return StopOutcome::kStopToken;
    if (!stop.ignore_eos && Contains(eos_ids, token)) return StopOutcome::kStopToken;
  }
  if (generated + 1 >= stop.max_new_tokens) return StopOutcome::kLengthReached;
  // The new token sits at position sequence_tokens; past the context it can never be fed back.
  if (sequence_tokens >= context) return StopOutcome::kLengthReached;
  return StopOutcome::kContinue;
}

}  // namespace ribbon
