// Stop rules (core/sampling/stop_rules.h): bans before min_new_tokens, a stop token withheld at
// or after it, ignore_eos, stop token ids, length and context limits.
#include "core/sampling/stop_rules.h"

#include <catch2/catch.hpp>
#include <vector>

namespace ribbon::testing {

TEST_CASE("stop tokens are banned before min_new_tokens and end the request after it") {
  const std::vector<int32_t> eos = {2};
  StopConditions stop{.max_new_tokens = 10, .min_new_tokens = 3, .stop_token_ids = {7}};
  CHECK(BannedTokens(stop, eos, 0) == std::vector<int32_t>{7, 2});
  CHECK(BannedTokens(stop, eos, 2) == std::vector<int32_t>{7, 2});
  CHECK(BannedTokens(stop, eos, 3).empty());
  CHECK(CheckStop(stop, eos, 3, 20, 100, 2) == StopOutcome::kStopToken);
  CHECK(CheckStop(stop, eos, 3, 20, 100, 7) == StopOutcome::kStopToken);
  CHECK(CheckStop(stop, eos, 3, 20, 100, 5) == StopOutcome::kContinue);
  // Should one be drawn anyway before min_new_tokens, it is output like any other token.
  CHECK(CheckStop(stop, eos, 1, 20, 100, 2) == StopOutcome::kContinue);

  stop.ignore_eos = true;
  CHECK(BannedTokens(stop, eos, 0) == std::vector<int32_t>{7});
  CHECK(CheckStop(stop, eos, 5, 20, 100, 2) == StopOutcome::kContinue);
  CHECK(CheckStop(stop, eos, 5, 20, 100, 7) == StopOutcome::kStopToken);
}

TEST_CASE("the length limit and the context end the request after the token") {
  const std::vector<int32_t> eos = {2};
  const StopConditions stop{.max_new_tokens = 4};
  CHECK(CheckStop(stop, eos, 2, 20, 100, 5) == StopOutcome::kContinue);
  CHECK(CheckStop(stop, eos, 3, 20, 100, 5) == StopOutcome::kLengthReached);
  CHECK(CheckStop(stop, eos, 3, 20, 100, 2) == StopOutcome::kStopToken);  // a stop token wins
  CHECK(CheckStop(stop, eos, 0, 99, 100, 5) == StopOutcome::kContinue);
  CHECK(CheckStop(stop, eos, 0, 100, 100, 5) == StopOutcome::kLengthReached);
}

}  // namespace ribbon::testing
