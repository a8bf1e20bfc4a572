// OomPolicy: what the engine does when a step runs out of memory (the runner answered
// RESOURCE_EXHAUSTED). Pure policy over plain numbers; the engine carries it out (rolls the step
// back and plans again under the new budget). Threads: the engine thread.
//
// On each out-of-memory the step budget halves, aligned up, never below `floor`: the next step is
// smaller, and nothing was sampled, so no token is lost or duplicated. After `max_streak`
// consecutive out-of-memory steps the policy gives up: the step's requests fail with the error
// instead of retrying forever. A step that runs ends the streak.
#pragma once

#include <cstdint>

namespace ribbon {

class OomPolicy {
 public:
  OomPolicy(int32_t floor, int32_t align, int32_t max_streak = 8)
      : floor_(floor < 1 ? 1 : floor), align_(align < 1 ? 1 : align), max_streak_(max_streak) {}

  struct Decision {
    bool retry = false;  // false: fail the step's requests
    int32_t budget = 0;  // the step budget from now on
  };
  // A step of `failed_rows` rows ran out of memory with `budget` in force.
  Decision OnOutOfMemory(int32_t budget, int32_t failed_rows);
  void OnStepRan() { streak_ = 0; }
  int32_t streak() const { return streak_; }

 private:
  int32_t floor_;
  int32_t align_;
  int32_t max_streak_;
  int32_t streak_ = 0;
};

}  // namespace ribbon
