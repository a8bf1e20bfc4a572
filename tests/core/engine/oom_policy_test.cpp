// OomPolicy: the budget halves (aligned up, never below the floor, never above the budget in
// force), and the policy gives up after max_streak consecutive out-of-memory steps; a step that
// ran resets the streak.
#include "core/engine/oom_policy.h"

#include <catch2/catch.hpp>

namespace ribbon::testing {

TEST_CASE("out of memory halves the budget down to the floor, then gives up") {
  OomPolicy policy(/*floor=*/32, /*align=*/16, /*max_streak=*/3);
  auto d = policy.OnOutOfMemory(512, 512);
  CHECK(d.retry);
  CHECK(d.budget == 256);
  d = policy.OnOutOfMemory(256, 200);  // half of 200 = 100, aligned up to 112
  CHECK(d.budget == 112);
  d = policy.OnOutOfMemory(112, 40);  // half of 40 = 20 -> 32, the floor
  CHECK(d.budget == 32);
  CHECK(policy.streak() == 3);
  CHECK_FALSE(policy.OnOutOfMemory(32, 32).retry);
  policy.OnStepRan();
  CHECK(policy.streak() == 0);
  CHECK(policy.OnOutOfMemory(32, 32).retry);
  // A failed step smaller than the budget never raises it.
  OomPolicy fresh(16, 16);
  CHECK(fresh.OnOutOfMemory(64, 512).budget == 64);
}

}  // namespace ribbon::testing
