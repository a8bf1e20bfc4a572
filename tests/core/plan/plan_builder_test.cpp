// PlanBuilder: the one plan builder (engine, probe, offline drivers). Layout, links, dead
// sequences, sampling inputs, decode batches padded to a fixed size; every plan it makes passes
// ValidatePlan.
#include "core/plan/plan_builder.h"

#include <catch2/catch.hpp>

#include "core/kv/block_manager.h"
#include "core/plan/offline_plan.h"
#include "core/plan/validate_plan.h"

namespace ribbon::testing {
namespace {

constexpr PlanLimits kLimits{
    .vocab_size = 100, .max_position = 64, .num_blocks = 8, .block_size = 4};

// A prefill of 5 tokens, a decode at position 6 and a 3-token chunk at 2..4, 3 alignment rows.
StepPlan MixedPlan(BlockManager& blocks) {
  std::vector<PlanSegment> segments = {{1, 0, {5, 6, 7, 8, 9}}, {2, 6, {11}}, {3, 2, {12, 13, 14}}};
  auto plan = BuildOfflinePlan(blocks, segments, /*align=*/4);
  REQUIRE(plan.ok());
  return *plan;
}

}  // namespace

TEST_CASE("BuildOfflinePlan lays segments, pads and alignment rows out as the engine does") {
  BlockManager blocks({.num_blocks = 8, .block_size = 4});
  const StepPlan plan = MixedPlan(blocks);
  CHECK(plan.num_seqs == 3);
  CHECK((plan.cu_seqlens == std::vector<int32_t>{0, 5, 6, 9}));
  CHECK(plan.num_rows == 12);  // 9 rows aligned to 4
  CHECK((plan.kv_lens == std::vector<int32_t>{5, 7, 5}));
  CHECK((plan.positions == std::vector<int32_t>{0, 1, 2, 3, 4, 6, 2, 3, 4, 0, 0, 0}));
  CHECK((plan.sample_rows == std::vector<int32_t>{4, 5, 8}));
  CHECK(plan.sampling.size() == 3);
  CHECK(plan.real_tokens == 9);
  for (int32_t r = 0; r < 9; ++r) {
    const int32_t s = r < 5 ? 0 : (r < 6 ? 1 : 2);
    CHECK(plan.slot_mapping[r] == blocks.Slot(static_cast<uint64_t>(s + 1), plan.positions[r]));
  }
  for (int32_t r = 9; r < 12; ++r) CHECK(plan.slot_mapping[r] == -1);
  CHECK(ValidatePlan(plan, kLimits).ok());

  std::vector<PlanSegment> padded = {{7, 0, {1, 2}, 3, SampleRows::kAll}};
  auto p = BuildOfflinePlan(blocks, padded);
  REQUIRE(p.ok());
  CHECK((p->token_ids == std::vector<int32_t>{1, 2, StepPlan::kPadToken, StepPlan::kPadToken,
                                              StepPlan::kPadToken}));
  CHECK((p->kv_lens == std::vector<int32_t>{5}));
  CHECK((p->sample_rows == std::vector<int32_t>{0, 1}));
  CHECK(p->real_tokens == 2);
  CHECK(ValidatePlan(*p, kLimits).ok());
}

TEST_CASE("an unknown row is linked to the previous step's output, and only with a source") {
  const std::vector<int32_t> table = {3, 1};
  const std::vector<int32_t> known = {7};
  StepPlan plan;
  PlanBuilder builder(4, 64);
  builder.Reset(plan);
  SegmentSpec prefill{.tokens = known, .start = 4, .num_tokens = 1, .block_table = table};
  REQUIRE(builder.Add(prefill).ok());
  SegmentSpec decode{.tokens = {},
                     .start = 5,
                     .num_tokens = 1,
                     .block_table = table,
                     .link_source = 2,
                     .sample = RowSampling{.output_index = 9}};
  REQUIRE(builder.Add(decode).ok());
  builder.Finish({.align = 8});
  REQUIRE(plan.linked_rows.size() == 1);
  CHECK(plan.linked_rows[0].row == 1);
  CHECK(plan.linked_rows[0].source == 2);
  CHECK(plan.token_ids[1] == StepPlan::kPadToken);
  CHECK(plan.slot_mapping[1] == 1 * 4 + 1);  // position 5: block table[1] = 1, offset 1
  CHECK((plan.sample_rows == std::vector<int32_t>{1}));
  CHECK(plan.sampling[0].output_index == 9);
  CHECK(plan.num_rows == 8);
  CHECK(ValidatePlan(plan, kLimits).ok());

  builder.Reset(plan);
  SegmentSpec unlinked{.tokens = {}, .start = 5, .num_tokens = 1, .block_table = table};
  CHECK(builder.Add(unlinked).code() == absl::StatusCode::kInvalidArgument);
  builder.Reset(plan);
  SegmentSpec two_unknown{
      .tokens = {}, .start = 5, .num_tokens = 2, .block_table = table, .link_source = 0};
  CHECK(builder.Add(two_unknown).code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("a dead sequence's rows write no KV; a decode batch pads to a fixed size") {
  const std::vector<int32_t> a = {2}, b = {0};
  const std::vector<int32_t> tokens = {5};
  StepPlan plan;
  PlanBuilder builder(4, 64);
  builder.Reset(plan);
  REQUIRE(builder
              .Add({.tokens = tokens,
                    .start = 3,
                    .num_tokens = 1,
                    .block_table = a,
                    .sample = RowSampling{}})
              .ok());
  REQUIRE(
      builder
          .Add({.tokens = tokens, .start = 1, .num_tokens = 1, .block_table = b, .write_kv = false})
          .ok());
  builder.Finish({.align = 1, .pad_seqs_to = 8});
  CHECK(plan.num_seqs == 8);
  CHECK(plan.num_rows == 8);
  CHECK(plan.cu_seqlens.back() == 8);
  CHECK(plan.slot_mapping[0] == 2 * 4 + 3);
  for (int32_t r = 1; r < 8; ++r) CHECK(plan.slot_mapping[r] == -1);
  CHECK((plan.sample_rows == std::vector<int32_t>{0}));
  CHECK(plan.max_blocks_per_seq == 1);
  CHECK(ValidatePlan(plan, kLimits).ok());
}

TEST_CASE("rows past the context are refused; padded-mode pads past it are clamped") {
  const std::vector<int32_t> table = {0, 1, 2, 3};
  const std::vector<int32_t> tokens = {1, 2, 3};
  StepPlan plan;
  PlanBuilder builder(4, 16);
  builder.Reset(plan);
  CHECK(
      builder.Add({.tokens = tokens, .start = 14, .num_tokens = 3, .block_table = table}).code() ==
      absl::StatusCode::kInvalidArgument);
  builder.Reset(plan);
  REQUIRE(
      builder
          .Add(
              {.tokens = tokens, .start = 12, .num_tokens = 3, .pad_rows = 3, .block_table = table})
          .ok());
  builder.Finish({});
  CHECK((plan.positions == std::vector<int32_t>{12, 13, 14, 15, 15, 15}));
  CHECK((plan.slot_mapping == std::vector<int32_t>{12, 13, 14, 15, -1, -1}));
  CHECK(plan.kv_lens[0] == 16);
  CHECK(
      ValidatePlan(plan, {.vocab_size = 100, .max_position = 16, .num_blocks = 8, .block_size = 4})
          .ok());
  builder.Reset(plan);
  CHECK(builder.Add({.tokens = tokens, .start = 0, .num_tokens = 3, .block_table = {}}).code() ==
        absl::StatusCode::kInvalidArgument);  // no block to hold the rows
}

}  // namespace ribbon::testing
