#include "core/engine/sequence_table.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ribbon {

const char* SeqStateName(SeqState state) {
  switch (state) {
    case SeqState::kWaiting:
      return "waiting";
    case SeqState::kRunning:
      return "running";
    case SeqState::kPreempted:
      return "preempted";
    case SeqState::kFinished:
      return "finished";
  }
  return "unknown";
}

bool IsLegalTransition(SeqState from, SeqState to) {
  switch (from) {
    case SeqState::kWaiting:
      return to == SeqState::kRunning || to == SeqState::kFinished;
    case SeqState::kRunning:
      return to == SeqState::kPreempted || to == SeqState::kFinished;
    case SeqState::kPreempted:
      return to == SeqState::kRunning || to == SeqState::kFinished;
    case SeqState::kFinished:
      return false;
  }
  return false;
}

Sequence& SequenceTable::Add(std::unique_ptr<Sequence> seq) {
  seq->state = SeqState::kWaiting;
  ++counts_[static_cast<int>(SeqState::kWaiting)];
  by_id_[seq->id] = seq.get();
  seqs_.push_back(std::move(seq));
  return *seqs_.back();
}

Sequence* SequenceTable::Find(uint64_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

absl::Status SequenceTable::Transition(Sequence& seq, SeqState to) {
  if (!IsLegalTransition(seq.state, to)) {
    return absl::FailedPreconditionError(absl::StrCat("sequence ", seq.id, ": ",
                                                      SeqStateName(seq.state), " -> ",
                                                      SeqStateName(to), " is not a legal move"));
  }
  --counts_[static_cast<int>(seq.state)];
  ++counts_[static_cast<int>(to)];
  seq.state = to;
  return absl::OkStatus();
}

void SequenceTable::RemoveFinished() {
  auto droppable = [](const std::unique_ptr<Sequence>& seq) {
    return seq->state == SeqState::kFinished && seq->in_flight == 0;
  };
  for (const auto& seq : seqs_) {
    if (droppable(seq)) {
      by_id_.erase(seq->id);
      --counts_[static_cast<int>(SeqState::kFinished)];
    }
  }
  seqs_.erase(std::remove_if(seqs_.begin(), seqs_.end(), droppable), seqs_.end());
}

}  // namespace ribbon
