// ValidatePlan: a good plan passes; each planted mutation (the kinds of bug a plan producer can
// have) is refused with INVALID_ARGUMENT naming it.
#include "core/plan/validate_plan.h"

#include <catch2/catch.hpp>
#include <functional>

#include "core/kv/block_manager.h"
#include "core/plan/offline_plan.h"

namespace ribbon::testing {
namespace {

PlanLimits Limits() {
  return {.vocab_size = 100, .max_position = 64, .num_blocks = 8, .block_size = 4};
}

// A prefill of 5 tokens, a decode at position 6 and a 3-token chunk at 2..4, 3 alignment rows.
StepPlan MixedPlan() {
  BlockManager blocks({.num_blocks = 8, .block_size = 4});
  std::vector<PlanSegment> segments = {{1, 0, {5, 6, 7, 8, 9}}, {2, 6, {11}}, {3, 2, {12, 13, 14}}};
  auto plan = BuildOfflinePlan(blocks, segments, /*align=*/4);
  REQUIRE(plan.ok());
  return *plan;
}

// The message of the status a mutated plan gets (which must be INVALID_ARGUMENT).
std::string Refusal(const std::function<void(StepPlan&, PlanLimits&)>& mutate) {
  StepPlan plan = MixedPlan();
  PlanLimits limits = Limits();
  mutate(plan, limits);
  const absl::Status status = ValidatePlan(plan, limits);
  INFO(status.ToString());
  CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  return std::string(status.message());
}

bool Names(const std::string& message, const std::string& what) {
  INFO(message);
  return message.find(what) != std::string::npos;
}

}  // namespace

TEST_CASE("a good plan passes") { CHECK(ValidatePlan(MixedPlan(), Limits()).ok()); }

TEST_CASE("planted mutations of the kinds a builder bug makes are each caught") {
  // Off by one in cu_seqlens: the first segment ends a row early, the second starts a row early.
  CHECK(Names(Refusal([](StepPlan& p, PlanLimits&) { p.cu_seqlens[1] -= 1; }), "position"));
  CHECK(Names(Refusal([](StepPlan& p, PlanLimits&) { p.cu_seqlens[2] += 1; }), "position"));
  // A wrong slot: inside the cache but not where the block table puts the position.
  CHECK(Names(Refusal([](StepPlan& p, PlanLimits&) { p.slot_mapping[3] += 1; }), "KV slot"));
  CHECK(Names(
      Refusal([](StepPlan& p, PlanLimits&) { std::swap(p.slot_mapping[0], p.slot_mapping[5]); }),
      "KV slot"));
  // A sample row past the end of the sequences' rows (into the alignment rows, past num_rows).
  CHECK(Names(Refusal([](StepPlan& p, PlanLimits&) { p.sample_rows.back() = 9; }), "sample row"));
  CHECK(Names(Refusal([](StepPlan& p, PlanLimits&) { p.sample_rows.back() = 12; }), "sample row"));
  CHECK(Names(Refusal([](StepPlan& p, PlanLimits&) { p.sampling.pop_back(); }), "sizes"));
  // Alignment rows that write KV; kv_len off by one; links out of range or doubled.
  CHECK(Names(Refusal([](StepPlan& p, PlanLimits&) { p.slot_mapping[10] = 3; }), "alignment"));
  CHECK(Names(Refusal([](StepPlan& p, PlanLimits&) { p.kv_lens[1] += 1; }), "kv_len"));
  CHECK(Names(Refusal([](StepPlan& p, PlanLimits&) {
                p.linked_rows.push_back({9, 0});
              }),
              "linked row"));
  CHECK(Names(Refusal([](StepPlan& p, PlanLimits&) {
                p.linked_rows.push_back({5, 0});
                p.linked_rows.push_back({5, 1});
              }),
              "linked twice"));
}

TEST_CASE("out-of-range ids, positions, slots and blocks are named") {
  CHECK(Names(Refusal([](StepPlan& p, PlanLimits&) { p.token_ids[2] = 100; }), "token id"));
  CHECK(Names(Refusal([](StepPlan& p, PlanLimits&) { p.positions[1] = 64; }), "position"));
  CHECK(Names(Refusal([](StepPlan& p, PlanLimits&) { p.slot_mapping[0] = 32; }), "KV slot"));
  CHECK(Names(Refusal([](StepPlan& p, PlanLimits&) { p.block_tables[0] = 8; }), "block table"));
  CHECK(Names(Refusal([](StepPlan&, PlanLimits& l) { l.block_size = 16; }), "block_size"));
  CHECK(Names(Refusal([](StepPlan& p, PlanLimits&) { p.positions.pop_back(); }), "sizes"));
  CHECK(Names(Refusal([](StepPlan& p, PlanLimits&) {
                p.cu_seqlens[1] = 0;
                p.cu_seqlens[2] = 7;
                p.cu_seqlens[3] = 6;
              }),
              "cu_seqlens"));
}

}  // namespace ribbon::testing
