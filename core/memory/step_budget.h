// Step budget: how many tokens one step (ribbon) should carry, chosen from how fast the device
// actually runs each size. Memory gives the largest ribbon that fits (capacity.h); a bigger step
// is not always faster per token, and every stream sharing a step waits for all of it. So with
// `engine.max_ribbon_tokens: auto` the daemon times ribbons of doubling size up to that limit
// and takes the knee: the smallest size within `tolerance` of the best tokens/s measured.
//
// ChooseStepBudget is the policy (a pure function over the measured curve); MeasureStepBudget is
// the mechanism (real forward passes through the runner). Each timed ribbon is packed prompts of
// `prompt_tokens` tokens, as a serving step carries them, not the memory probe's worst case (a
// whole context per row), which would time attention over keys a real step does not read.
//
// Ownership: MeasureStepBudget borrows the runner and leaves it with an empty KV cache, like the
// memory probe. Threads: the thread allowed to run the model, before the engine starts.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model/model_runner.h"

namespace ribbon::memory {

struct StepTiming {
  int32_t tokens = 0;
  double seconds = 0;  // the fastest timed pass at this size
  double tokens_per_second() const { return seconds > 0 ? tokens / seconds : 0; }
};

struct StepBudgetOptions {
  int32_t min_tokens = 64;      // first size timed (rounded up to align)
  int32_t max_tokens = 2048;    // the memory limit: never timed past it, always timed itself
  int32_t align = 16;           // sizes are multiples of this, as the scheduler's rows are
  int32_t prompt_tokens = 512;  // each timed ribbon is packed prompts of this length
  int32_t block_size = 16;      // the engine's KV block size
  int32_t max_sample_rows = 256;
  int32_t repeats = 3;  // timed passes per size after one untimed warm-up; the fastest counts
  // The knee: the smallest size within this fraction of the best tokens/s. Also when to stop:
  // two doublings in a row that gain less than this end the sweep (the curve has flattened).
  double tolerance = 0.05;
  std::function<bool()> cancelled;  // checked before every pass: true stops with CANCELLED
};

struct StepBudgetReport {
  std::vector<StepTiming> curve;  // increasing size
  int32_t chosen_tokens = 0;
  double best_tokens_per_second = 0;
  double seconds = 0;  // wall time of the sweep
};

// The smallest size whose tokens/s is at least (1 - tolerance) times the best in `curve`; 0 for
// an empty curve.
int32_t ChooseStepBudget(std::span<const StepTiming> curve, double tolerance);

// Times the sizes min_tokens, 2 * min_tokens, ... (aligned, capped at max_tokens, which is always
// timed unless the sweep stopped early) and chooses. INVALID_ARGUMENT for sizes out of order or
// non-positive; the runner's errors (RESOURCE_EXHAUSTED, CANCELLED, ...) as they come.
absl::StatusOr<StepBudgetReport> MeasureStepBudget(ModelRunner& runner,
                                                   const StepBudgetOptions& options);

// "64: 1234 tok/s, 128: ..., chosen 256 (within 5% of the best, 1500 tok/s)" for logs and
// `ribbond probe`.
std::string FormatStepBudget(const StepBudgetReport& report, double tolerance);

}  // namespace ribbon::memory
