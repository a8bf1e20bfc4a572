#include "core/scheduler/fcfs_scheduler.h"

#include <algorithm>
#include <unordered_set>

#include "core/scheduler/admission.h"

namespace ribbon::sched {
namespace {

// Tracks the KV blocks this decision has handed out so far.
struct BlockLedger {
  int32_t free = 0;
  int32_t block_size = 16;

  int32_t Extra(const SeqState& s, int32_t tokens_after) const {
    return std::max(0, BlocksFor(tokens_after, block_size) - s.blocks_held);
  }
};

}  // namespace

ScheduleDecision FcfsScheduler::Schedule(const SchedulerInput& input) {
  ScheduleDecision d;
  BlockLedger kv{input.kv.free_blocks, input.kv.block_size};
  int32_t budget = StepTokenBudget(input, options_);  // aligned down: the aligned rows fit too
  std::vector<const SeqState*> live;
  for (const SeqState& s : input.seqs) {
    if (s.deadline <= input.now) {
      d.expired.push_back(s.id);
    } else if (auto why = NeverFits(s, input.kv, options_)) {
      d.rejected.push_back({s.id, *std::move(why)});
    } else {
      live.push_back(&s);
    }
  }
  std::unordered_set<SeqId> preempted;
  // Running sequences, oldest first; the youngest running one is the victim when blocks run out.
  std::vector<const SeqState*> running;
  for (const SeqState* s : live) {
    if (s->running) running.push_back(s);
  }
  int32_t running_count = 0;
  for (size_t i = 0; i < running.size(); ++i) {
    const SeqState& s = *running[i];
    if (preempted.count(s.id)) continue;
    const int32_t want = std::min(s.num_tokens - s.num_computed, budget);
    if (want <= 0) continue;
    int32_t extra = kv.Extra(s, s.num_computed + want);
    while (extra > kv.free) {
      const SeqState* victim = nullptr;
      for (size_t j = running.size(); j-- > i;) {
        if (!preempted.count(running[j]->id)) {
          victim = running[j];
          break;
        }
      }
      preempted.insert(victim->id);
      d.preempted.push_back(victim->id);
      kv.free += victim->blocks_held;
      if (victim == &s) break;
    }
    if (preempted.count(s.id)) continue;
    kv.free -= extra;
    budget -= want;
    ++running_count;
    d.chunks.push_back({s.id, want, 0});
    d.real_tokens += want;
  }
  // Waiting sequences in arrival order, chunked to what the budget and the blocks allow.
  for (const SeqState* s : live) {
    if (s->running || budget <= 0 || running_count >= options_.max_running_seqs) continue;
    if (!preempted.empty()) break;  // memory is tight: admit nobody new this step
    int32_t want = std::min(s->num_tokens - s->num_computed, budget);
    while (want > 0 && kv.Extra(*s, s->num_computed + want) > kv.free) {
      want =
          (BlocksFor(s->num_computed + want, kv.block_size) - 1) * kv.block_size - s->num_computed;
    }
    if (want <= 0) break;  // FCFS: nobody may overtake the head of the queue
    kv.free -= kv.Extra(*s, s->num_computed + want);
    budget -= want;
    ++running_count;
    d.chunks.push_back({s->id, want, 0});
    d.real_tokens += want;
  }
  d.ribbon_rows = AlignUp(d.real_tokens, options_.align);
  return d;
}

}  // namespace ribbon::sched
