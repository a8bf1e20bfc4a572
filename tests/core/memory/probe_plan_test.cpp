// The worst-case probe plan: every row attends to a whole context, no two rows write the same
// KV slot, longer ribbons split into full-context sequences, and the sampled rows are the last.
#include <catch2/catch.hpp>

#include <set>

#include "core/memory/probe_plan.h"

namespace ribbon::memory {
namespace {

void RequireUniqueSlots(const StepPlan& plan) {
  const std::set<int32_t> slots(plan.slot_mapping.begin(), plan.slot_mapping.end());
  CHECK(slots.size() == plan.slot_mapping.size());
  CHECK(*slots.begin() >= 0);
}

TEST_CASE("a ribbon within one context is one sequence ending at the last position") {
  const ProbePlanOptions o{.context_tokens = 512, .block_size = 16, .max_sample_rows = 8};
  BlockManager blocks({.num_blocks = ProbeKvBlocks(96, o), .block_size = 16});
  CHECK(blocks.total_blocks() == 32);
  StepPlan plan;
  REQUIRE(BuildProbePlan(96, o, blocks, plan).ok());
  CHECK(plan.num_rows == 96);
  CHECK(plan.num_seqs == 1);
  CHECK(plan.real_tokens == 96);
  CHECK(plan.cu_seqlens == std::vector<int32_t>{0, 96});
  CHECK(plan.kv_lens == std::vector<int32_t>{512});
  CHECK(plan.positions.front() == 512 - 96);
  CHECK(plan.positions.back() == 511);
  CHECK(plan.max_blocks_per_seq == 32);
  CHECK(blocks.free_blocks() == 0);
  CHECK(plan.sample_rows == std::vector<int32_t>{88, 89, 90, 91, 92, 93, 94, 95});
  RequireUniqueSlots(plan);
}

TEST_CASE("a ribbon longer than the context splits into full contexts, the last one at the end") {
  const ProbePlanOptions o{.context_tokens = 512, .block_size = 16, .max_sample_rows = 256};
  CHECK(ProbeSequences(1200, 512) == 3);
  BlockManager blocks({.num_blocks = ProbeKvBlocks(1200, o), .block_size = 16});
  CHECK(blocks.total_blocks() == 96);
  StepPlan plan;
  REQUIRE(BuildProbePlan(1200, o, blocks, plan).ok());
  CHECK(plan.num_seqs == 3);
  CHECK(plan.cu_seqlens == std::vector<int32_t>{0, 512, 1024, 1200});
  CHECK(plan.kv_lens == std::vector<int32_t>{512, 512, 512});
  CHECK(plan.positions[0] == 0);
  CHECK(plan.positions[511] == 511);
  CHECK(plan.positions[1024] == 512 - 176);
  CHECK(plan.positions[1199] == 511);
  CHECK(plan.block_tables.size() == 3 * 32);
  CHECK(plan.sample_rows.size() == 256);
  CHECK(plan.sample_rows.back() == 1199);
  RequireUniqueSlots(plan);
}

TEST_CASE("sampled rows never outnumber the ribbon's rows") {
  const ProbePlanOptions o{.context_tokens = 64, .block_size = 16, .max_sample_rows = 256};
  CHECK(ProbeSampleRows(16, o) == 16);
  CHECK(ProbeSampleRows(1024, o) == 256);
}

TEST_CASE("a block manager too small for the plan is RESOURCE_EXHAUSTED") {
  const ProbePlanOptions o{.context_tokens = 512, .block_size = 16, .max_sample_rows = 1};
  BlockManager blocks({.num_blocks = 31, .block_size = 16});
  StepPlan plan;
  CHECK(absl::IsResourceExhausted(BuildProbePlan(64, o, blocks, plan)));
  BlockManager mismatched({.num_blocks = 64, .block_size = 32});
  CHECK(absl::IsInvalidArgument(BuildProbePlan(64, o, mismatched, plan)));
}

}  // namespace
}  // namespace ribbon::memory
