// SequenceTable: the one transition function takes every legal move and refuses every illegal
// one, leaving the sequence as it was; counts follow; finished sequences leave only when no
// launched step refers to them.
#include "core/engine/sequence_table.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>

namespace ribbon::testing {
namespace {

constexpr SeqState kAll[] = {SeqState::kWaiting, SeqState::kRunning, SeqState::kPreempted,
                             SeqState::kFinished};

// Puts a new sequence into `state` through legal moves.
Sequence& Reach(SequenceTable& table, uint64_t id, SeqState state) {
  auto seq = std::make_unique<Sequence>();
  seq->id = id;
  Sequence& s = table.Add(std::move(seq));
  if (state == SeqState::kWaiting) return s;
  if (state == SeqState::kFinished) {
    REQUIRE(table.Transition(s, SeqState::kFinished).ok());
    return s;
  }
  REQUIRE(table.Transition(s, SeqState::kRunning).ok());
  if (state == SeqState::kPreempted) REQUIRE(table.Transition(s, SeqState::kPreempted).ok());
  return s;
}

}  // namespace

TEST_CASE("every legal move is taken and every illegal one refused") {
  const std::set<std::pair<SeqState, SeqState>> legal = {
      {SeqState::kWaiting, SeqState::kRunning},   {SeqState::kWaiting, SeqState::kFinished},
      {SeqState::kRunning, SeqState::kPreempted}, {SeqState::kRunning, SeqState::kFinished},
      {SeqState::kPreempted, SeqState::kRunning}, {SeqState::kPreempted, SeqState::kFinished}};
  uint64_t id = 1;
  for (SeqState from : kAll) {
    for (SeqState to : kAll) {
      DYNAMIC_SECTION(SeqStateName(from) << " -> " << SeqStateName(to)) {
        SequenceTable table;
        Sequence& seq = Reach(table, id++, from);
        const int32_t from_count = table.count(from), to_count = table.count(to);
        const absl::Status status = table.Transition(seq, to);
        CHECK(IsLegalTransition(from, to) == legal.contains({from, to}));
        if (legal.contains({from, to})) {
          CHECK(status.ok());
          CHECK(seq.state == to);
          CHECK(table.count(from) == from_count - 1);
          CHECK(table.count(to) == to_count + 1);
        } else {
          CHECK(status.code() == absl::StatusCode::kFailedPrecondition);
          CHECK(std::string(status.message()).find(SeqStateName(to)) != std::string::npos);
          CHECK(seq.state == from);
          CHECK(table.count(from) == from_count);
        }
      }
    }
  }
}

TEST_CASE("finished sequences stay while a launched step refers to them") {
  SequenceTable table;
  Sequence& a = Reach(table, 1, SeqState::kRunning);
  Reach(table, 2, SeqState::kWaiting);
  a.in_flight = 1;
  REQUIRE(table.Transition(a, SeqState::kFinished).ok());
  table.RemoveFinished();
  CHECK(table.size() == 2);
  CHECK(table.Find(1) == &a);
  a.in_flight = 0;
  table.RemoveFinished();
  CHECK(table.size() == 1);
  CHECK(table.Find(1) == nullptr);
  CHECK(table.count(SeqState::kFinished) == 0);
  CHECK(table.count(SeqState::kWaiting) == 1);
  CHECK(table.all().front()->id == 2);
}

}  // namespace ribbon::testing
