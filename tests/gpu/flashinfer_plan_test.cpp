// The host half of the flashinfer attention backend, which needs no GPU: FlashInfer's page lists
// built from a ribbon (page boundaries, last-page lengths, block order), the refusal of rows whose
// positions break FlashInfer's bottom-right causal alignment (the caller falls back to the
// reference kernel), errors naming the malformed field, backend resolution and the per-step
// choice. Runs in `make test` everywhere (label cuda).
#include "core/model/cuda/cuda_attention.h"
#include "core/model/cuda/device_plan.h"
#include "core/plan/offline_plan.h"
#include "kernels/cuda/flashinfer_attention.h"
// After the headers that pull in c10: its logging defines a CHECK macro that must not replace
// Catch's.
#include <catch2/catch.hpp>

namespace ribbon::testing {
namespace {

using gpu::AttentionBackend;
using kernels::ElementType;

const kernels::FlashInferShape kShape{8, 2, 64, 4, 0, ElementType::kBF16};

// Block size 4: a prefill of 5 rows (2 pages, 1 key on the last), a decode at position 7 (its
// 8 keys fill 2 pages exactly) and a 3-row chunk at 2..4; then two alignment rows.
struct HandRibbon {
  std::vector<int32_t> cu_seqlens{0, 5, 6, 9};
  std::vector<int32_t> positions{0, 1, 2, 3, 4, 7, 2, 3, 4, 0, 0};
  std::vector<int32_t> block_tables{9, 3, 0, 5, 1, 7, 2, 8, 0};
  kernels::FlashInferStepInput Input() const { return {cu_seqlens, positions, block_tables, 3}; }
};

PlanSegment Segment(uint64_t seq_id, int32_t start, std::vector<int32_t> tokens) {
  PlanSegment segment;
  segment.seq_id = seq_id;
  segment.start = start;
  segment.tokens = std::move(tokens);
  return segment;
}

}  // namespace

TEST_CASE("BuildFlashInferIndices turns a mixed ribbon into FlashInfer's page lists",
          "[cuda][flashinfer]") {
  const HandRibbon hand;
  kernels::FlashInferIndices out;
  REQUIRE(kernels::BuildFlashInferIndices(kShape, hand.Input(), out).ok());
  CHECK(out.qo_indptr == hand.cu_seqlens);
  CHECK((out.kv_page_indptr == std::vector<int32_t>{0, 2, 4, 6}));
  CHECK((out.kv_page_indices == std::vector<int32_t>{9, 3, 5, 1, 2, 8}));
  CHECK((out.kv_last_page_len == std::vector<int32_t>{1, 4, 1}));
  CHECK(out.num_seqs == 3);
  CHECK(out.real_rows == 9);
  CHECK(out.max_kv_len == 8);

  // Reused across steps: a smaller ribbon leaves nothing of the last one behind.
  const std::vector<int32_t> cu{0, 1}, positions{12, 0}, tables{4, 6, 2, 11};
  REQUIRE(kernels::BuildFlashInferIndices(kShape, {cu, positions, tables, 4}, out).ok());
  CHECK((out.kv_page_indptr == std::vector<int32_t>{0, 4}));
  CHECK((out.kv_page_indices == std::vector<int32_t>{4, 6, 2, 11}));
  CHECK((out.kv_last_page_len == std::vector<int32_t>{1}));
  CHECK(out.real_rows == 1);
}

TEST_CASE("BuildFlashInferIndices refuses rows FlashInfer cannot align and names bad fields",
          "[cuda][flashinfer]") {
  kernels::FlashInferIndices out;
  HandRibbon clamped;  // positions clamped at the context limit, as the engine does at the end
  clamped.positions[4] = clamped.positions[3];
  absl::Status status = kernels::BuildFlashInferIndices(kShape, clamped.Input(), out);
  CHECK(status.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(status.message()).find("bottom-right") != std::string::npos);

  HandRibbon gap;  // a chunk whose rows skip a position
  gap.positions[7] = 5;
  gap.positions[8] = 6;
  CHECK(kernels::BuildFlashInferIndices(kShape, gap.Input(), out).code() ==
        absl::StatusCode::kFailedPrecondition);

  HandRibbon deep;  // a decode at position 12 needs four blocks; its table row has three
  deep.positions[5] = 12;
  status = kernels::BuildFlashInferIndices(kShape, deep.Input(), out);
  CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(status.message()).find("block_tables") != std::string::npos);

  HandRibbon backwards;
  backwards.cu_seqlens = {0, 5, 4, 9};
  status = kernels::BuildFlashInferIndices(kShape, backwards.Input(), out);
  CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(status.message()).find("cu_seqlens") != std::string::npos);

  HandRibbon short_tables;
  short_tables.block_tables.pop_back();
  CHECK(kernels::BuildFlashInferIndices(kShape, short_tables.Input(), out).code() ==
        absl::StatusCode::kInvalidArgument);

  kernels::FlashInferShape float32 = kShape;
  float32.type = ElementType::kF32;
  status = kernels::BuildFlashInferIndices(float32, HandRibbon().Input(), out);
  CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(status.message()).find("float32") != std::string::npos);
}

TEST_CASE("The flashinfer backend resolves by name only and falls back on misaligned steps",
          "[cuda][flashinfer]") {
  const gpu::AttentionShape bf16{8, 2, 64, 0, at::kBFloat16};
  const gpu::AttentionShape windowed{16, 4, 128, 256, at::kHalf};
  const gpu::AttentionShape head80{8, 2, 80, 0, at::kBFloat16};
  const gpu::AttentionShape fp32{8, 2, 64, 0, at::kFloat};
  CHECK(*gpu::ResolveAttentionBackend("flashinfer", bf16) == AttentionBackend::kFlashInfer);
  CHECK(*gpu::ResolveAttentionBackend("flashinfer", windowed) == AttentionBackend::kFlashInfer);
  CHECK(*gpu::ResolveAttentionBackend("auto", bf16) == AttentionBackend::kFlash);  // until measured
  const auto odd = gpu::ResolveAttentionBackend("flashinfer", head80);
  REQUIRE_FALSE(odd.ok());
  CHECK(odd.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(odd.status().message()).find("head_dim 64 and 128") != std::string::npos);
  CHECK(gpu::ResolveAttentionBackend("flashinfer", fp32).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(std::string(gpu::AttentionBackendName(AttentionBackend::kFlashInfer)) == "flashinfer");

  BlockManager blocks({.num_blocks = 8, .block_size = 4});
  std::vector<PlanSegment> segments = {Segment(1, 0, {5, 6, 7, 8, 9}), Segment(2, 6, {11}),
                                       Segment(3, 2, {12, 13})};
  auto mixed = BuildOfflinePlan(blocks, segments, /*align=*/4);
  REQUIRE(mixed.ok());
  StepPlan clamped = *mixed;
  clamped.positions[4] = clamped.positions[3];
  const auto device_plan = [](const StepPlan& plan) {
    const gpu::PlanFacts facts = gpu::SummarisePlan(plan);
    gpu::DevicePlan d;
    d.queries_end_at_kv = facts.queries_end_at_kv;
    d.full_prefill = facts.full_prefill;
    d.host = &plan;
    return d;
  };
  gpu::CudaAttention attention(AttentionBackend::kFlashInfer, bf16);
  attention.BeginStep(device_plan(*mixed));
  CHECK(attention.step_backend() == AttentionBackend::kFlashInfer);
  attention.BeginStep(device_plan(clamped));
  CHECK(attention.step_backend() == AttentionBackend::kReference);
  CHECK(attention.fallback_steps() == 1);
  CHECK(attention.Describe().find("FlashInfer") != std::string::npos);
}

}  // namespace ribbon::testing
