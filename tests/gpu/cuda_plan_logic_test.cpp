// The host-side logic of the CUDA runner, which needs no GPU: the facts the attention backends
// choose by, the per-step choice of attention kernel with its fallback count and backend
// resolution. (Plan building and validation: tests/core/plan/.)
// Runs in `make test` everywhere.
#include "core/model/cuda/cuda_attention.h"
#include "core/model/cuda/device_plan.h"
#include "core/plan/offline_plan.h"
// After the headers that pull in c10: its logging defines a CHECK macro that must not replace
// Catch's.
#include <catch2/catch.hpp>

namespace ribbon::testing {
namespace {

using gpu::AttentionBackend;
using gpu::AttentionShape;

// A prefill of 5 tokens, a decode at position 6 and a 3-token chunk at 2..4, blocks from a
// BlockManager, 3 alignment rows.
StepPlan MixedPlan(BlockManager& blocks) {
  std::vector<PlanSegment> segments = {{1, 0, {5, 6, 7, 8, 9}}, {2, 6, {11}}, {3, 2, {12, 13, 14}}};
  auto plan = BuildOfflinePlan(blocks, segments, /*align=*/4);
  REQUIRE(plan.ok());
  return *plan;
}

gpu::DevicePlan WithFacts(const StepPlan& plan) {
  const gpu::PlanFacts facts = gpu::SummarisePlan(plan);
  gpu::DevicePlan d;
  d.queries_end_at_kv = facts.queries_end_at_kv;
  d.full_prefill = facts.full_prefill;
  return d;
}

}  // namespace

TEST_CASE("SummarisePlan finds the causal alignment the fused kernels need", "[cuda][plan]") {
  BlockManager blocks({.num_blocks = 8, .block_size = 4});
  const StepPlan mixed = MixedPlan(blocks);
  const gpu::PlanFacts facts = gpu::SummarisePlan(mixed);
  CHECK((facts.cu_kv == std::vector<int32_t>{0, 5, 12, 17}));
  CHECK(facts.total_kv == 17);
  CHECK(facts.max_q == 5);
  CHECK(facts.max_kv == 7);
  CHECK(facts.real_rows == 9);
  CHECK(facts.queries_end_at_kv);
  CHECK_FALSE(facts.full_prefill);  // the decode and the chunk start after position 0

  BlockManager fresh({.num_blocks = 8, .block_size = 4});
  std::vector<PlanSegment> prefills = {{1, 0, {1, 2, 3}}, {2, 0, {4}}, {3, 0, {5, 6}, 2}};
  auto plan = BuildOfflinePlan(fresh, prefills, 8);
  REQUIRE(plan.ok());
  CHECK(gpu::SummarisePlan(*plan).full_prefill);  // padded-mode pads continue the positions

  StepPlan clamped =
      mixed;  // positions clamped at the context limit, as the engine does at the end
  clamped.positions[4] = clamped.positions[3];
  CHECK_FALSE(gpu::SummarisePlan(clamped).queries_end_at_kv);
  CHECK_FALSE(gpu::SummarisePlan(clamped).full_prefill);
}

TEST_CASE("CudaAttention picks the kernel per step and counts fallbacks", "[cuda][attention]") {
  const AttentionShape shape{8, 2, 64, 0, at::kBFloat16};
  BlockManager blocks({.num_blocks = 8, .block_size = 4});
  const StepPlan mixed = MixedPlan(blocks);
  StepPlan clamped = mixed;
  clamped.positions[4] = clamped.positions[3];

  gpu::CudaAttention flash(AttentionBackend::kFlash, shape);
  flash.BeginStep(WithFacts(mixed));
  CHECK(flash.step_backend() == AttentionBackend::kFlash);
  flash.BeginStep(WithFacts(clamped));
  CHECK(flash.step_backend() == AttentionBackend::kReference);
  CHECK(flash.fallback_steps() == 1);
  CHECK(flash.steps() == 2);
  CHECK(flash.Describe().find("1 of 2 steps on another kernel") != std::string::npos);

  gpu::CudaAttention cudnn(AttentionBackend::kCudnn, shape);
  cudnn.BeginStep(WithFacts(mixed));
  CHECK(cudnn.step_backend() == AttentionBackend::kFlash);

  gpu::CudaAttention reference(AttentionBackend::kReference, shape);
  reference.BeginStep(WithFacts(clamped));
  CHECK(reference.step_backend() == AttentionBackend::kReference);
  CHECK(reference.fallback_steps() == 0);
}

TEST_CASE("ResolveAttentionBackend picks flash where it can run and explains where it cannot",
          "[cuda][attention]") {
  const AttentionShape bf16{8, 2, 64, 0, at::kBFloat16};
  const AttentionShape fp32{8, 4, 8, 0, at::kFloat};
  const AttentionShape odd_head{8, 4, 12, 0, at::kHalf};
  const AttentionShape windowed{8, 4, 64, 32, at::kHalf};
  CHECK(*gpu::ResolveAttentionBackend("auto", bf16) == AttentionBackend::kFlash);
  CHECK(*gpu::ResolveAttentionBackend("auto", fp32) == AttentionBackend::kReference);
  CHECK(*gpu::ResolveAttentionBackend("auto", odd_head) == AttentionBackend::kReference);
  CHECK(*gpu::ResolveAttentionBackend("reference", bf16) == AttentionBackend::kReference);
  CHECK(*gpu::ResolveAttentionBackend("cudnn", bf16) == AttentionBackend::kCudnn);
  CHECK(*gpu::ResolveAttentionBackend("flash", windowed) == AttentionBackend::kFlash);
  const auto flash32 = gpu::ResolveAttentionBackend("flash", fp32);
  REQUIRE_FALSE(flash32.ok());
  CHECK(flash32.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(flash32.status().message()).find("float16 or bfloat16") != std::string::npos);
  CHECK(gpu::ResolveAttentionBackend("flash", odd_head).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(gpu::ResolveAttentionBackend("cudnn", windowed).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(gpu::ResolveAttentionBackend("tensorrt", bf16).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

}  // namespace ribbon::testing
