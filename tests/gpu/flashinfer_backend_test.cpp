// The flashinfer attention backend through CudaAttention, as the CUDA runner drives it: the
// load-time probe passes, and over several steps (plans from the engine's PlanBuilder, uploaded
// by PlanUploader, workspaces growing as the steps grow) every layer's output equals the
// reference backend's on the same tensors, with the plan made once per step and reused by the
// step's layers. A step with clamped positions runs on the reference kernel and is counted as a
// fallback. Label gpu: skips without a device.
#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <ATen/ops/randn.h>
#include <c10/core/InferenceMode.h>

#include <cmath>
#include <random>

#include "core/model/cuda/cuda_attention.h"
#include "core/model/cuda/device_plan.h"
#include "core/plan/offline_plan.h"
// After the headers that pull in c10: its logging defines a CHECK macro that must not replace
// Catch's.
#include <catch2/catch.hpp>

namespace ribbon::testing {
namespace {

using gpu::AttentionBackend;

constexpr int32_t kBlockSize = 16;

// Step `step` of six: sequences 1-6 advance by a prefill chunk or one decode token each; step 2
// is decodes only, step 4 adds a long prompt.
std::vector<PlanSegment> StepSegments(int step, std::mt19937& rng, std::vector<int32_t>& lengths) {
  std::vector<PlanSegment> segments;
  std::uniform_int_distribution<int32_t> chunk(2, 120);
  for (uint64_t seq = 1; seq <= 6; ++seq) {
    int32_t& length = lengths[seq];
    const bool decode = step == 2 || (length > 0 && rng() % 2 == 0);
    const int32_t rows = step == 4 && seq == 1 ? 700 : decode ? 1 : chunk(rng);
    PlanSegment& segment = segments.emplace_back();
    segment.seq_id = seq;
    segment.start = length;
    segment.tokens.assign(rows, 3);
    length += rows;
  }
  return segments;
}

double RelativeError(const at::Tensor& got, const at::Tensor& want) {
  const at::Tensor w = want.to(at::kFloat);
  return (got.to(at::kFloat) - w).norm().item<double>() / w.norm().item<double>();
}

void RunSteps(const gpu::AttentionShape& shape, at::Device device) {
  c10::InferenceMode inference;
  const auto stream = c10::cuda::getCurrentCUDAStream(device.index());
  BlockManager blocks({.num_blocks = 400, .block_size = kBlockSize});
  gpu::CudaAttention flashinfer(AttentionBackend::kFlashInfer, shape);
  gpu::CudaAttention reference(AttentionBackend::kReference, shape);
  gpu::PlanUploader uploader;
  std::mt19937 rng(77);
  std::vector<int32_t> lengths(7, 0);
  const int64_t q = int64_t{shape.num_heads} * shape.head_dim,
                kv = int64_t{shape.num_kv_heads} * shape.head_dim;
  const auto options = at::TensorOptions().dtype(shape.dtype).device(device);
  const at::Tensor k_cache = at::randn({400 * kBlockSize, kv}, options);
  const at::Tensor v_cache = at::randn({400 * kBlockSize, kv}, options);
  for (int step = 0; step < 6; ++step) {
    const auto segments = StepSegments(step, rng, lengths);
    auto plan = BuildOfflinePlan(blocks, segments, /*align=*/8);
    REQUIRE(plan.ok());
    if (step == 5) plan->positions[plan->cu_seqlens[1] - 1] -= 1;  // clamped: misaligned
    const auto d = uploader.Upload(*plan, plan->token_ids, stream);
    REQUIRE(d.ok());
    flashinfer.BeginStep(*d);
    reference.BeginStep(*d);
    for (int layer = 0; layer < 3; ++layer) {  // fresh tensors per layer, one plan per step
      const at::Tensor qkv = at::randn({plan->num_rows, q + 2 * kv}, options);
      gpu::AttentionIo io{qkv, k_cache, v_cache, at::full({plan->num_rows, q}, NAN, options)};
      gpu::AttentionIo want = io;
      want.out = at::empty({plan->num_rows, q}, options);
      REQUIRE(flashinfer.Run(*d, io, stream).ok());
      REQUIRE(reference.Run(*d, want, stream).ok());
      INFO("step " << step << ", layer " << layer << ", " << plan->num_seqs << " sequences, "
                   << plan->num_rows << " rows, head_dim " << shape.head_dim);
      CHECK(flashinfer.step_backend() ==
            (step == 5 ? AttentionBackend::kReference : AttentionBackend::kFlashInfer));
      CHECK(RelativeError(io.out, want.out) < 1.5e-2);
    }
  }
  CHECK(flashinfer.steps() == 6);
  CHECK(flashinfer.fallback_steps() == 1);
}

}  // namespace

TEST_CASE("The flashinfer backend passes the load probe and matches reference step after step",
          "[gpu][flashinfer][attention]") {
  const at::Device device(at::kCUDA, 0);
  const std::vector<gpu::AttentionShape> shapes = {
      {8, 2, 64, 0, at::kBFloat16},
      {16, 4, 128, 0, at::kBFloat16},
      {12, 2, 128, 48, at::kHalf},
      {8, 8, 64, 200, at::kHalf},
  };
  for (const auto& shape : shapes) {
    const absl::Status probe = gpu::ProbeAttention(AttentionBackend::kFlashInfer, shape, device);
    INFO(probe.ToString());
    CHECK(probe.ok());
    RunSteps(shape, device);
  }
}

}  // namespace ribbon::testing
