// Packing: decides *how* this step's admitted work (admission.h) is laid into one ribbon.
//
// PackFfd (BatchingMode::kPacked): decode tokens first; then pinned prompts (aged requests and
// running prompts' continuations) in order, each as much as fits; then the other eligible
// prompts First-Fit-Decreasing (higher priority first, larger first within a priority) as whole
// prompts where they fit; finally the space left goes to a chunk of the first prompt (in rank
// order) that did not fit whole. Rows are the real tokens rounded up to `align`.
//
// PackPadded (BatchingMode::kPadded, for A/B comparison): the same sequences in the same order
// (decodes, then prompts as admitted, no FFD reordering) as a rectangular [B, Lmax] batch: B is
// the largest prefix with B * Lmax <= the token budget whose padded KV still fits the free
// blocks. Every chunk gets padded_tokens = Lmax; a prompt longer than the budget is chunked only
// when it leads the batch.
//
// PackInOrder (the "fcfs" baseline): decodes first, then the prompts in admission order, each
// as much as the budget has left, stopping at the first that gets nothing (nobody overtakes).
//
// Pure functions over plain data; any thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/scheduler/admission.h"
#include "core/scheduler/scheduler.h"

namespace ribbon::sched {

struct PackInput {
  std::span<const SeqState* const> decodes = {};  // one token each, in order
  std::span<const Candidate> prefills = {};       // pinned ones first
  int32_t token_budget = 0;                       // real tokens (packed) or B * Lmax (padded)
  int32_t align = 1;
  // Padded mode only: pads write KV, so the batch must fit these.
  int32_t kv_free_blocks = 0;
  int32_t block_size = 16;
  int32_t max_blocks_per_seq = 0;  // 0 = unlimited
};

struct Packing {
  std::vector<ScheduledChunk> chunks;  // decodes first
  int32_t real_tokens = 0;
  int32_t ribbon_rows = 0;  // aligned
};

Packing PackFfd(const PackInput& input);
Packing PackPadded(const PackInput& input);
Packing PackInOrder(const PackInput& input);

}  // namespace ribbon::sched
