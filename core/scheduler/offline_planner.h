// Offline planner: lays many prompts' prefill into as few ribbons as possible, ahead of time, and
// says how close that is to optimal. The reference the offline batch tests compare ribbon-batch's
// engine-driven runs with (ribbon-batch itself runs the engine's own scheduler).
//
// Packed mode: a prompt longer than the capacity is cut into full-capacity chunks, which run
// first, one ribbon each, and its tail; the tails and all shorter prompts are packed whole by
// First-Fit-Decreasing (bin packing: at most 11/9 OPT + 6/9 ribbons, Dósa 2007). Padded mode,
// for A/B comparison: prompts in their given order form rectangular [B, Lmax] batches, B the
// largest with B * Lmax <= capacity; a prompt longer than the capacity runs alone, in chunks.
// Either way a prompt's chunks appear in ribbon order, so running the ribbons in order is valid.
//
// Pure functions over plain data; any thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "core/scheduler/scheduler.h"

namespace ribbon::sched {

struct OfflinePlanOptions {
  int32_t capacity = 2048;  // tokens per ribbon; rounded down to a multiple of align
  int32_t align = 16;       // each ribbon's rows are rounded up to a multiple of this; 1 = off
  BatchingMode mode = BatchingMode::kPacked;
};

// Tokens [offset, offset + num_tokens) of prompt number `prompt` (its index in the input).
struct OfflineChunk {
  int32_t prompt = 0;
  int32_t offset = 0;
  int32_t num_tokens = 0;
  int32_t padded_tokens = 0;  // padded mode: the batch's Lmax; 0 = same as num_tokens
};

struct OfflineRibbon {
  std::vector<OfflineChunk> chunks;
  int32_t real_tokens = 0;
  int32_t rows = 0;  // real + padding, aligned
};

struct OfflinePlan {
  std::vector<OfflineRibbon> ribbons;  // in the order they must run
  int32_t capacity = 0;                // the capacity actually used (aligned down)
  int64_t real_tokens = 0;             // sum of the prompts' lengths
  int64_t rows = 0;                    // sum of the ribbons' rows
  int64_t lower_bound = 0;             // ceil(real_tokens / capacity): no plan needs fewer

  // Rows computed per real token (1.0 = no padding at all).
  double padding_ratio() const {
    return real_tokens == 0 ? 1.0 : static_cast<double>(rows) / static_cast<double>(real_tokens);
  }
};

// INVALID_ARGUMENT if a length is < 1, align < 1 or capacity < align.
absl::StatusOr<OfflinePlan> PlanOffline(std::span<const int32_t> prompt_lens,
                                        const OfflinePlanOptions& options);

}  // namespace ribbon::sched
