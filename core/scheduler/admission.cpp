#include "core/scheduler/admission.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "core/scheduler/seq_order.h"

namespace ribbon::sched {

// KV blocks as this step's decision hands them out. `promised` are blocks that running prompts
// will need in later steps to finish their prefill; new admissions may not take them.
struct AdmissionPolicy::Ledger {
  int32_t free = 0;
  int32_t promised = 0;
  int32_t reserved = 0;  // handed to running sequences this step
  int32_t block_size = 16;

  // Blocks `seq` needs on top of what it holds to hold `tokens` tokens.
  int32_t Extra(const SeqState& seq, int32_t tokens) const {
    return std::max(0, BlocksFor(tokens, block_size) - seq.blocks_held);
  }
};

std::optional<absl::Status> NeverFits(const SeqState& seq, const KvBudget& kv,
                                      const SchedulerOptions& options) {
  const int32_t blocks = BlocksFor(seq.max_total_tokens, kv.block_size);
  if (blocks > kv.total_blocks) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "request needs ", blocks, " KV blocks (prompt + max_new_tokens = ", seq.max_total_tokens,
        " tokens, ", kv.block_size, " per block) but the whole KV cache has ", kv.total_blocks));
  }
  if (options.max_blocks_per_seq > 0 && blocks > options.max_blocks_per_seq) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "request needs ", blocks, " KV blocks (prompt + max_new_tokens = ", seq.max_total_tokens,
        " tokens) but one sequence may hold at most ", options.max_blocks_per_seq, " (",
        options.max_blocks_per_seq * kv.block_size, " tokens)"));
  }
  return std::nullopt;
}

Admission AdmissionPolicy::Admit(const SchedulerInput& input, int32_t token_budget) {
  ++step_;
  Admission out;
  std::vector<const SeqState*> running;
  std::vector<Waiting> waiting;
  for (const SeqState& s : input.seqs) {
    if (s.deadline <= input.now) {
      out.expired.push_back(s.id);
    } else if (auto why = NeverFits(s, input.kv, options_)) {
      out.rejected.push_back({s.id, *std::move(why)});
    } else if (s.running) {
      running.push_back(&s);
    } else {
      auto [entry, added] = waiting_since_.try_emplace(s.id, WaitingSince{step_, step_});
      entry->second.last_seen = step_;
      const int64_t since = entry->second.since;
      waiting.push_back({step_ - since >= options_.max_wait_steps, since, &s});
    }
  }
  std::erase_if(waiting_since_, [&](const auto& entry) { return entry.second.last_seen != step_; });

  Ledger kv{.free = input.kv.free_blocks, .block_size = input.kv.block_size};
  ReserveRunning(running, token_budget, kv, out);
  const int32_t running_count = static_cast<int32_t>(running.size() - out.preempted.size());
  AdmitWaiting(waiting, running_count, kv, out);
  return out;
}

// Running sequences in rank order each reserve the blocks this step's tokens need. One that does
// not fit preempts running sequences from the bottom of the rank, never itself: if even that is
// not enough it sits this step out holding its KV, until higher-ranked sequences release blocks
// or need its blocks and preempt it. The highest-ranked sequence therefore always progresses.
// Victims always rank below every sequence already served, so no reservation is undone.
void AdmissionPolicy::ReserveRunning(std::vector<const SeqState*>& running, int32_t token_budget,
                                     Ledger& kv, Admission& out) const {
  SortByRank(running);
  std::vector<bool> dropped(running.size(), false);
  for (size_t i = 0; i < running.size(); ++i) {
    if (dropped[i]) continue;
    const SeqState& s = *running[i];
    const int32_t remaining = s.num_tokens - s.num_computed;
    if (remaining <= 0) continue;
    const int32_t need = kv.Extra(s, s.num_computed + std::min(remaining, token_budget));
    if (need > kv.free) {
      int32_t reclaimable = kv.free;
      for (size_t j = i + 1; j < running.size(); ++j) {
        if (!dropped[j]) reclaimable += running[j]->reclaimable_blocks();
      }
      if (need > reclaimable) continue;  // preempting would not be enough: wait, keep the KV
    }
    for (size_t j = running.size() - 1; need > kv.free && j > i; --j) {
      if (dropped[j]) continue;
      dropped[j] = true;
      out.preempted.push_back(running[j]->id);
      kv.free += running[j]->reclaimable_blocks();
    }
    kv.free -= need;
    kv.reserved += need;
    kv.promised += kv.Extra(s, s.num_tokens) - need;
    if (remaining == 1) {
      out.decodes.push_back(&s);
    } else {
      out.prefills.push_back({&s, remaining, /*pinned=*/true});
    }
  }
  out.kv_free_blocks = kv.free + kv.reserved;
}

// Waiting sequences become eligible in order (aged ones first, FIFO by when they started
// waiting, ties by rank; then by rank) while their whole known prefix fits in the blocks nobody
// reserved or was promised, less the headroom kept for every sequence that will hold KV. The first
// one that does not fit ends the scan: nothing overtakes a request that waits for blocks.
void AdmissionPolicy::AdmitWaiting(std::vector<Waiting>& waiting, int32_t running_count, Ledger& kv,
                                   Admission& out) const {
  if (!out.preempted.empty()) return;  // memory is tight: admit nobody new this step
  const int32_t slots = std::max(0, options_.max_running_seqs - running_count);
  // Only the first `slots` in order can be admitted: sort just those.
  const auto first_after = waiting.begin() + std::min<size_t>(slots, waiting.size());
  std::partial_sort(waiting.begin(), first_after, waiting.end(),
                    [](const Waiting& a, const Waiting& b) {
                      if (a.aged != b.aged) return a.aged;
                      if (a.aged && a.since != b.since) return a.since < b.since;
                      return RanksBefore(*a.seq, *b.seq);
                    });
  waiting.erase(first_after, waiting.end());
  std::vector<Candidate> pinned;
  std::vector<Candidate> loose;
  int32_t holders = running_count;
  int32_t available = kv.free - kv.promised;
  for (const auto& [aged, since, s] : waiting) {
    const int32_t need = kv.Extra(*s, s->num_tokens) + s->blocks_revived;
    if (need + options_.kv_headroom_blocks_per_seq * holders > available) break;
    available -= need;
    kv.free -= need;
    ++holders;
    (aged ? pinned : loose).push_back({s, s->num_tokens - s->num_computed, aged});
  }
  pinned.insert(pinned.end(), out.prefills.begin(), out.prefills.end());
  pinned.insert(pinned.end(), loose.begin(), loose.end());
  out.prefills = std::move(pinned);
}

}  // namespace ribbon::sched
