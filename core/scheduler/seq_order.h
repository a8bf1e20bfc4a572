// The one order every part of the policy agrees on: which of two sequences matters more.
// Higher priority first; at equal priority the earliest deadline, then the earliest arrival,
// then the lowest id (so the order is total and stable from step to step). Admission admits in
// this order, packing breaks ties with it, and preemption takes victims from its far end.
//
// Header-only pure functions; any thread.
#pragma once

#include <algorithm>
#include <tuple>
#include <vector>

#include "core/scheduler/scheduler.h"

namespace ribbon::sched {

inline bool RanksBefore(const SeqState& a, const SeqState& b) {
  return std::make_tuple(-static_cast<int64_t>(a.priority), a.deadline, a.arrival, a.id) <
         std::make_tuple(-static_cast<int64_t>(b.priority), b.deadline, b.arrival, b.id);
}

inline void SortByRank(std::vector<const SeqState*>& seqs) {
  std::sort(seqs.begin(), seqs.end(),
            [](const SeqState* a, const SeqState* b) { return RanksBefore(*a, *b); });
}

}  // namespace ribbon::sched
