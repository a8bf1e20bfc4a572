// AdmissionPolicy on hand-made snapshots: who is eligible, who is preempted, and why.
#include "core/scheduler/admission.h"

#include <catch2/catch.hpp>
#include <vector>

namespace ribbon::sched {
namespace {

constexpr int32_t kBudget = 2048;

SeqState Running(SeqId id, int32_t num_tokens, int32_t num_computed, int32_t blocks_held) {
  return {.id = id,
          .prompt_len = num_tokens,
          .num_tokens = num_tokens,
          .num_computed = num_computed,
          .max_total_tokens = num_tokens + 8,
          .blocks_held = blocks_held,
          .arrival = static_cast<TimeNs>(id),
          .running = true};
}

SeqState Waiting(SeqId id, int32_t prompt, int32_t priority = 0) {
  return {.id = id,
          .prompt_len = prompt,
          .num_tokens = prompt,
          .max_total_tokens = prompt + 1,
          .priority = priority,
          .arrival = static_cast<TimeNs>(id)};
}

SchedulerInput Input(const std::vector<SeqState>& seqs, int32_t free, int32_t total) {
  return {
      .now = 0, .seqs = seqs, .kv = {.free_blocks = free, .total_blocks = total, .block_size = 4}};
}

std::vector<SeqId> Ids(const std::vector<Candidate>& candidates) {
  std::vector<SeqId> ids;
  for (const Candidate& c : candidates) ids.push_back(c.seq->id);
  return ids;
}

TEST_CASE("headroom keeps blocks back for running decodes", "[sched][admission]") {
  // A decode holding 6 of 10 blocks; the 16-token prompt needs exactly the 4 free ones.
  const std::vector<SeqState> seqs{Running(1, 21, 20, 6), Waiting(2, 16)};
  SchedulerOptions with_headroom;
  AdmissionPolicy strict(with_headroom);
  CHECK(strict.Admit(Input(seqs, 4, 10), kBudget).prefills.empty());
  SchedulerOptions no_headroom;
  no_headroom.kv_headroom_blocks_per_seq = 0;
  AdmissionPolicy loose(no_headroom);
  CHECK(Ids(loose.Admit(Input(seqs, 4, 10), kBudget).prefills) == std::vector<SeqId>{2});
}

TEST_CASE("blocks a running prompt still needs are not given away", "[sched][admission]") {
  // Seq 1: a 40-token prompt (10 blocks), 8 computed (2 held); an 8-token budget reserves 2 more
  // now and promises the other 6, leaving 10 - 2 - 6 = 2 blocks for newcomers.
  SchedulerOptions o;
  o.kv_headroom_blocks_per_seq = 0;
  const std::vector<SeqState> big{Running(1, 40, 8, 2), Waiting(2, 12)};
  AdmissionPolicy a(o);
  const Admission too_big = a.Admit(Input(big, 10, 12), 8);
  CHECK(Ids(too_big.prefills) == std::vector<SeqId>{1});
  CHECK(too_big.prefills[0].pinned);
  const std::vector<SeqState> small{Running(1, 40, 8, 2), Waiting(2, 8)};
  AdmissionPolicy b(o);
  CHECK(Ids(b.Admit(Input(small, 10, 12), 8).prefills) == std::vector<SeqId>{1, 2});
}

TEST_CASE("victims are taken from the bottom of the rank, and nobody new is admitted",
          "[sched][admission]") {
  // Seq 1 continues its prompt (8 of 16 computed) and needs 2 more blocks; none is free. Seqs 2
  // and 3 hold one each: seq 3, the youngest, goes first, then seq 2.
  const std::vector<SeqState> seqs{Running(1, 16, 8, 2), Running(2, 5, 4, 1), Running(3, 5, 4, 1),
                                   Waiting(4, 1)};
  SchedulerOptions o;
  o.kv_headroom_blocks_per_seq = 0;
  AdmissionPolicy policy(o);
  const Admission a = policy.Admit(Input(seqs, 0, 8), kBudget);
  CHECK(a.preempted == std::vector<SeqId>{3, 2});
  CHECK(a.decodes.empty());
  CHECK(Ids(a.prefills) == std::vector<SeqId>{1});  // seq 4 would fit, but not this step
  CHECK(a.kv_free_blocks == 2);                     // both victims' blocks
}

TEST_CASE("a sequence that preemption cannot help waits instead of preempting",
          "[sched][admission]") {
  // Seq 2 needs a new block; none is free and only seq 3 (1 block) ranks below it, but it needs
  // two: preempting seq 3 would be wasted, so seq 2 sits this step out and nobody is preempted.
  std::vector<SeqState> seqs{Running(1, 9, 8, 4), Running(2, 9, 8, 2), Running(3, 2, 1, 1)};
  seqs[1].num_tokens = 13;
  seqs[1].num_computed = 8;  // a 5-token continuation: 13 tokens need 4 blocks, holds 2
  AdmissionPolicy policy(SchedulerOptions{});
  const Admission a = policy.Admit(Input(seqs, 0, 7), kBudget);
  CHECK(a.preempted.empty());
  REQUIRE(a.decodes.size() == 2);
  CHECK(a.decodes[0]->id == 1);
  CHECK(a.decodes[1]->id == 3);
  CHECK(a.prefills.empty());
}

TEST_CASE("aged requests come first, in the order they started waiting", "[sched][admission]") {
  SchedulerOptions o;
  o.max_running_seqs = 1;
  o.max_wait_steps = 3;
  AdmissionPolicy policy(o);
  // Step 1: only the low-priority request waits. Step 2: a high-priority one joins.
  const std::vector<SeqState> first{Waiting(1, 8, 0)};
  const std::vector<SeqState> both{Waiting(1, 8, 0), Waiting(2, 8, 5)};
  CHECK(Ids(policy.Admit(Input(first, 100, 100), kBudget).prefills) == std::vector<SeqId>{1});
  CHECK(Ids(policy.Admit(Input(both, 100, 100), kBudget).prefills) == std::vector<SeqId>{2});
  CHECK(Ids(policy.Admit(Input(both, 100, 100), kBudget).prefills) == std::vector<SeqId>{2});
  // Step 4: seq 1 has waited 3 steps: aged, it goes first despite its priority.
  const Admission aged = policy.Admit(Input(both, 100, 100), kBudget);
  CHECK(Ids(aged.prefills) == std::vector<SeqId>{1});
  CHECK(aged.prefills[0].pinned);
}

TEST_CASE("expired and never-fitting sequences are sorted out first", "[sched][admission]") {
  std::vector<SeqState> seqs{Waiting(1, 8), Waiting(2, 100), Waiting(3, 8)};
  seqs[2].deadline = 5;
  SchedulerInput input = Input(seqs, 10, 10);
  input.now = 5;
  AdmissionPolicy policy(SchedulerOptions{});
  const Admission a = policy.Admit(input, kBudget);
  CHECK(a.expired == std::vector<SeqId>{3});
  REQUIRE(a.rejected.size() == 1);
  CHECK(a.rejected[0].id == 2);
  CHECK(absl::IsResourceExhausted(a.rejected[0].status));
  CHECK(Ids(a.prefills) == std::vector<SeqId>{1});
}

}  // namespace
}  // namespace ribbon::sched
