// The scheduling policy interface: pure policy over plain data (no torch, no CUDA, no clock of
// its own). The engine (the mechanism) calls Schedule() once per step with a snapshot of every
// live sequence and the KV budget, then carries out the decision in order: drop the expired and
// rejected, preempt, allocate KV blocks for the chunks, build the StepPlan, run.
//
// Ownership: a Scheduler is owned by the engine. Threads: called from the engine thread only;
// implementations need no locking. Schedule() may keep state between calls (ages, statistics).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "core/common/time.h"

namespace ribbon::sched {

using SeqId = uint64_t;

// One live sequence as the policy sees it. Tokens [0, num_computed) have KV in the cache; tokens
// [num_computed, num_tokens) are known (prompt or sampled) and still to be computed.
struct SeqState {
  SeqId id = 0;
  int32_t prompt_len = 0;
  int32_t num_tokens = 0;        // prompt + generated so far
  int32_t num_computed = 0;      // 0 for a waiting or preempted sequence
  int32_t max_total_tokens = 0;  // prompt + max_new_tokens: the most KV it can ever need
  int32_t blocks_held = 0;       // KV blocks currently allocated to it
  // Of those, the blocks preempting it would give back to the pool: blocks shared with other
  // sequences through the prefix cache stay held by them. -1 = all of blocks_held.
  int32_t blocks_exclusive = -1;
  // Waiting sequences: of blocks_held (cached blocks its prompt would reuse), those that are
  // idle in the evictable pool now: admitting it takes them out of the pool.
  int32_t blocks_revived = 0;
  int32_t priority = 0;  // higher runs first
  TimeNs arrival = 0;
  TimeNs deadline = kNoDeadline;
  bool running = false;  // admitted and scheduled since (a waiting sequence may hold cached KV)

  int32_t reclaimable_blocks() const {
    return blocks_exclusive >= 0 ? blocks_exclusive : blocks_held;
  }
};

struct KvBudget {
  int32_t free_blocks = 0;
  int32_t total_blocks = 0;
  int32_t block_size = 16;
};

struct SchedulerInput {
  TimeNs now = 0;
  std::span<const SeqState> seqs;  // every live sequence, in arrival order
  KvBudget kv;
  // This step's token budget when the engine has lowered it below
  // SchedulerOptions::max_ribbon_tokens (after an out-of-memory); 0 = use the options' value.
  int32_t token_budget = 0;
};

// The token budget a policy must respect for this input.
inline int32_t EffectiveBudget(const SchedulerInput& input, int32_t max_ribbon_tokens) {
  return input.token_budget > 0 ? std::min(input.token_budget, max_ribbon_tokens)
                                : max_ribbon_tokens;
}

// `num_tokens` tokens of sequence `id`, starting at its num_computed, go into this step's ribbon.
// In padded mode `padded_tokens` (>= num_tokens) rows are laid out for it; pads write KV too, so
// blocks must cover num_computed + padded_tokens.
struct ScheduledChunk {
  SeqId id = 0;
  int32_t num_tokens = 0;
  int32_t padded_tokens = 0;  // 0 = same as num_tokens
};

struct Rejection {
  SeqId id = 0;
  absl::Status status;  // why it can never run (e.g. needs more KV blocks than exist)
};

// What runs this step, computed once. Chunks are in ribbon order (decodes first).
struct ScheduleDecision {
  std::vector<ScheduledChunk> chunks;
  std::vector<SeqId> preempted;  // free their KV; recompute later (num_computed -> 0)
  std::vector<Rejection> rejected;
  std::vector<SeqId> expired;  // deadline passed: end with DEADLINE_EXCEEDED
  int32_t real_tokens = 0;     // sum of chunks' num_tokens
  int32_t ribbon_rows = 0;     // rows the step runs: real + padding, aligned
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual ScheduleDecision Schedule(const SchedulerInput& input) = 0;
};

enum class BatchingMode { kPacked, kPadded };

// The names configuration, flags and reports use for a BatchingMode: the one place they live.
inline const char* BatchingModeName(BatchingMode mode) {
  return mode == BatchingMode::kPadded ? "padded" : "packed";
}
inline std::optional<BatchingMode> ParseBatchingMode(std::string_view name) {
  if (name == "packed") return BatchingMode::kPacked;
  if (name == "padded") return BatchingMode::kPadded;
  return std::nullopt;
}

// Shared limits for every policy.
struct SchedulerOptions {
  int32_t max_ribbon_tokens = 2048;  // token budget of one step (measured capacity)
  int32_t max_running_seqs = 256;
  int32_t align = 16;              // ribbon rows rounded up to a multiple of this; 1 = off
  int32_t max_blocks_per_seq = 0;  // 0 = unlimited (bounded by the pool)
  BatchingMode mode = BatchingMode::kPacked;
  // Aging: a request that has waited this many steps goes ahead of every non-aged one, and aged
  // requests are admitted strictly first-come-first-served. Bounds how long FFD packing and
  // priorities can keep a request waiting (see docs/scheduler.md). Must be >= 1.
  int32_t max_wait_steps = 32;
  // Free KV blocks kept back per running sequence when admitting a new one, so that running
  // decodes can grow without preempting what was just admitted. 0 = none.
  int32_t kv_headroom_blocks_per_seq = 1;
};

inline int32_t BlocksFor(int32_t tokens, int32_t block_size) {
  return (tokens + block_size - 1) / block_size;
}

inline int32_t AlignUp(int32_t n, int32_t align) {
  return align <= 1 ? n : (n + align - 1) / align * align;
}

inline int32_t AlignDown(int32_t n, int32_t align) { return align <= 1 ? n : n / align * align; }

// Tokens one step may carry so that its aligned row count stays within max_ribbon_tokens.
inline int32_t TokenBudget(const SchedulerOptions& options) {
  return AlignDown(options.max_ribbon_tokens, options.align);
}

// The same for this step, honouring a budget the engine lowered (SchedulerInput::token_budget).
// Never 0, so that something always runs; below one aligned group the rows exceed it by padding.
inline int32_t StepTokenBudget(const SchedulerInput& input, const SchedulerOptions& options) {
  const int32_t budget = EffectiveBudget(input, options.max_ribbon_tokens);
  return std::max(1, AlignDown(budget, options.align));
}

}  // namespace ribbon::sched
