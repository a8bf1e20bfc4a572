// SequenceTable: the engine's sequences and their life cycle. Every change of a sequence's
// state goes through Transition, the one place that knows the legal moves:
//
//   kWaiting   -> kRunning   (first scheduled)      kWaiting   -> kFinished (cancelled, expired,
//   kRunning   -> kPreempted (KV given back)                                 rejected, aborted)
//   kPreempted -> kRunning   (scheduled again)      kRunning   -> kFinished
//                                                   kPreempted -> kFinished
// kFinished is final. A finished sequence stays in the table while a launched step still refers
// to it (Sequence::in_flight > 0) and is dropped by RemoveFinished after that.
//
// Ownership: the table owns its sequences; pointers stay valid until RemoveFinished drops them.
// Threads: the engine thread only. Errors: Transition refuses an illegal move with
// FAILED_PRECONDITION naming both states, leaving the sequence unchanged.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "core/engine/sequence.h"

namespace ribbon {

const char* SeqStateName(SeqState state);
bool IsLegalTransition(SeqState from, SeqState to);

class SequenceTable {
 public:
  // Takes a new sequence (state kWaiting); it goes last in arrival order.
  Sequence& Add(std::unique_ptr<Sequence> seq);
  // Null when the id is unknown or already dropped.
  Sequence* Find(uint64_t id) const;
  Sequence& At(uint64_t id) const { return *by_id_.at(id); }

  absl::Status Transition(Sequence& seq, SeqState to);

  // Drops finished sequences that no launched step refers to any more.
  void RemoveFinished();

  // Every sequence held, finished ones included, in arrival order.
  const std::vector<std::unique_ptr<Sequence>>& all() const { return seqs_; }
  bool empty() const { return seqs_.empty(); }
  int32_t size() const { return static_cast<int32_t>(seqs_.size()); }
  int32_t count(SeqState state) const { return counts_[static_cast<int>(state)]; }

 private:
  std::vector<std::unique_ptr<Sequence>> seqs_;
  std::unordered_map<uint64_t, Sequence*> by_id_;
  int32_t counts_[4] = {0, 0, 0, 0};
};

}  // namespace ribbon
