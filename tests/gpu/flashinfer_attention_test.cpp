// FlashInfer's paged attention (kernels/cuda/flashinfer_attention.h) against ribbon's reference
// CUDA kernel (kernels/cuda/paged_attention.h) on the same device inputs: fresh random mixed
// ribbons (prefills from 0, later chunks, decodes, long decodes that make FlashInfer split the
// KV walk), GQA groups 1-8, head dim 64 and 128, sliding windows, block sizes 1-32 with segments
// ending on and just past page boundaries, float16 and bfloat16; alignment rows must come back
// zero. The run must have used every query tile (16, 64, 128) and split-KV at least once, so it
// cannot pass by exercising one easy path. Label gpu: skips without a device.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <set>

#include "kernels/cuda/flashinfer_attention.h"
#include "kernels/cuda/paged_attention.h"
#include "tests/kernels/cuda_test_util.h"

namespace ribbon::testing {
namespace {

struct Shape {
  int32_t kv_heads, group, head_dim, block_size, window;
};

struct Ribbon {
  std::vector<int32_t> cu_seqlens{0}, positions, block_tables;
  int32_t max_blocks = 0, num_blocks = 0, real_rows = 0, num_rows = 0;
};

// What the run exercised, checked at the end.
struct Coverage {
  std::set<int64_t> tiles;
  int32_t split_plans = 0, plans = 0;
};

// One segment's (first position, rows): a prefill, a later chunk, a decode, a long decode, or a
// segment whose keys end exactly on (or one past) a page boundary.
std::pair<int32_t, int32_t> RandomSegment(std::mt19937& rng, int32_t block_size) {
  std::uniform_int_distribution<int32_t> kind(0, 5), len(1, 300), start(1, 900), pages(1, 40);
  switch (kind(rng)) {
    case 0:
      return {0, len(rng)};
    case 1:
      return {start(rng), len(rng) % 64 + 1};
    case 2:
      return {start(rng), 1};
    case 3:
      return {std::uniform_int_distribution<int32_t>(2000, 6000)(rng), 1};
    case 4: {
      const int32_t end = pages(rng) * block_size, rows = std::min(end, len(rng) % 20 + 1);
      return {end - rows, rows};  // last key fills its page
    }
    default: {
      const int32_t end = pages(rng) * block_size + 1, rows = std::min(end, len(rng) % 20 + 1);
      return {end - rows, rows};  // last key alone on a fresh page
    }
  }
}

// Random segments over shuffled blocks (a real cache's order), with three alignment rows. With
// `long_decodes`, a few decodes deep into their context (FlashInfer splits those).
Ribbon MakeRibbon(std::mt19937& rng, int32_t block_size, bool long_decodes) {
  std::vector<std::pair<int32_t, int32_t>> segments;
  const int32_t count = std::uniform_int_distribution<int32_t>(1, 8)(rng);
  for (int32_t s = 0; s < count; ++s) {
    segments.push_back(
        long_decodes
            ? std::make_pair(std::uniform_int_distribution<int32_t>(3000, 8000)(rng), int32_t{1})
            : RandomSegment(rng, block_size));
  }
  Ribbon r;
  for (const auto& [start, rows] : segments)
    r.max_blocks = std::max(r.max_blocks, (start + rows + block_size - 1) / block_size);
  r.num_blocks = r.max_blocks * count + 3;
  std::vector<int32_t> pool(r.num_blocks);
  std::iota(pool.begin(), pool.end(), 0);
  std::shuffle(pool.begin(), pool.end(), rng);
  r.block_tables.assign(pool.begin(), pool.begin() + int64_t{count} * r.max_blocks);
  for (const auto& [start, rows] : segments) {
    for (int32_t j = 0; j < rows; ++j) r.positions.push_back(start + j);
    r.cu_seqlens.push_back(static_cast<int32_t>(r.positions.size()));
  }
  r.real_rows = static_cast<int32_t>(r.positions.size());
  for (int32_t pad = 0; pad < 3; ++pad) r.positions.push_back(0);
  r.num_rows = static_cast<int32_t>(r.positions.size());
  return r;
}

kernels::PagedAttentionCudaArgs ReferenceArgs(const Shape& shape, ElementType type, const Ribbon& r,
                                              int64_t row_stride) {
  kernels::PagedAttentionCudaArgs a;
  a.q_row_stride = row_stride;
  a.num_rows = r.num_rows;
  a.num_seqs = static_cast<int32_t>(r.cu_seqlens.size() - 1);
  a.max_blocks_per_seq = r.max_blocks;
  a.num_heads = shape.kv_heads * shape.group;
  a.num_kv_heads = shape.kv_heads;
  a.head_dim = shape.head_dim;
  a.block_size = shape.block_size;
  a.sliding_window = shape.window;
  a.scale = 1.0f / std::sqrt(static_cast<float>(shape.head_dim));
  a.type = type;
  return a;
}

// Plans and runs FlashInfer on the device inputs of `ref` into `out`, with caller-owned
// workspaces sized as FlashInferWorkspaceNeeds says.
void RunFlashInferOnce(const kernels::FlashInferShape& fshape, const Ribbon& r,
                       const kernels::PagedAttentionCudaArgs& ref, void* out, Coverage& seen) {
  kernels::FlashInferIndices indices;
  REQUIRE(kernels::BuildFlashInferIndices(
              fshape, {r.cu_seqlens, r.positions, r.block_tables, r.max_blocks}, indices)
              .ok());
  const auto needs = kernels::FlashInferWorkspaceNeeds(fshape, indices);
  REQUIRE(needs.ok());
  DeviceBuffer float_ws(needs->float_bytes), int_ws(needs->int_bytes);
  void* pinned = nullptr;
  CUDA_REQUIRE(cudaMallocHost(&pinned, needs->int_bytes));
  const kernels::FlashInferWorkspace ws{float_ws.get(), needs->float_bytes, int_ws.get(), pinned,
                                        needs->int_bytes};
  const auto plan = kernels::PlanFlashInferStep(fshape, indices, ws, nullptr);
  INFO((plan.ok() ? std::string("planned") : plan.status().ToString()));
  REQUIRE(plan.ok());
  seen.tiles.insert(plan->info.cta_tile_q);
  seen.split_plans += plan->info.split_kv ? 1 : 0;
  ++seen.plans;
  kernels::FlashInferRunArgs run{ref.q, ref.q_row_stride, ref.k_cache, ref.v_cache,
                                 out,   r.num_rows,       ref.scale};
  const absl::Status status = kernels::RunFlashInfer(*plan, run, nullptr);
  INFO(status.ToString());
  REQUIRE(status.ok());
  CUDA_REQUIRE(cudaDeviceSynchronize());
  CUDA_REQUIRE(cudaFreeHost(pinned));
}

// Worst per-row relative error (every head of the row together).
double WorstRowError(const std::vector<float>& got, const std::vector<float>& want, int32_t rows,
                     int64_t row_elems) {
  double worst = 0;
  for (int32_t r = 0; r < rows; ++r) {
    const std::vector<float> g(got.begin() + r * row_elems, got.begin() + (r + 1) * row_elems);
    const std::vector<float> w(want.begin() + r * row_elems, want.begin() + (r + 1) * row_elems);
    worst = std::max(worst, RelativeError(g, w));
  }
  return worst;
}

void CheckCase(const Shape& shape, ElementType type, bool long_decodes, std::mt19937& rng,
               Coverage& seen) {
  const Ribbon r = MakeRibbon(rng, shape.block_size, long_decodes);
  const int32_t heads = shape.kv_heads * shape.group;
  const int64_t hd = shape.head_dim, q_width = int64_t{heads} * hd,
                kv_width = int64_t{shape.kv_heads} * hd, row_stride = q_width + 2 * kv_width;
  const int64_t slots = int64_t{r.num_blocks} * shape.block_size;
  auto q_dev = DeviceBuffer::From(Encode(RandomNormal(r.num_rows * row_stride, rng), type));
  auto k_dev = DeviceBuffer::From(Encode(RandomNormal(slots * kv_width, rng), type));
  auto v_dev = DeviceBuffer::From(Encode(RandomNormal(slots * kv_width, rng), type));
  auto cu_dev = DeviceBuffer::From(r.cu_seqlens);
  auto pos_dev = DeviceBuffer::From(r.positions);
  auto tables_dev = DeviceBuffer::From(r.block_tables);
  const size_t out_bytes = r.num_rows * q_width * kernels::ElementBytes(type);
  DeviceBuffer want_dev(out_bytes), got_dev(out_bytes);
  want_dev.Poison();
  got_dev.Poison();

  kernels::PagedAttentionCudaArgs ref = ReferenceArgs(shape, type, r, row_stride);
  ref.q = q_dev.get();
  ref.k_cache = k_dev.get();
  ref.v_cache = v_dev.get();
  ref.out = want_dev.get();
  ref.cu_seqlens = cu_dev.as<int32_t>();
  ref.positions = pos_dev.as<int32_t>();
  ref.block_tables = tables_dev.as<int32_t>();
  CUDA_REQUIRE(kernels::PagedAttentionCuda(ref, nullptr));
  const kernels::FlashInferShape fshape{
      heads, shape.kv_heads, shape.head_dim, shape.block_size, shape.window, type};
  RunFlashInferOnce(fshape, r, ref, got_dev.get(), seen);

  const auto want = Decode(want_dev.To<std::byte>(), type);
  const auto got = Decode(got_dev.To<std::byte>(), type);
  INFO("type " << kernels::ElementTypeName(type) << ", heads " << heads << "/" << shape.kv_heads
               << ", head_dim " << hd << ", block " << shape.block_size << ", window "
               << shape.window << ", " << r.cu_seqlens.size() - 1 << " sequences, " << r.real_rows
               << " rows, max context " << r.max_blocks * shape.block_size);
  const double error = RelativeError(got, want);
  const double worst_row = WorstRowError(got, want, r.real_rows, q_width);
  INFO("relative error " << error << ", worst row " << worst_row);
  CHECK(error < Tolerance(type));
  CHECK(worst_row < 3 * Tolerance(type));
  for (int64_t i = int64_t{r.real_rows} * q_width; i < static_cast<int64_t>(got.size()); ++i) {
    REQUIRE(got[i] == 0.0f);  // alignment rows: zeros, not garbage
  }
}

}  // namespace

TEST_CASE("FlashInfer paged attention equals the reference kernel on random mixed ribbons",
          "[gpu][flashinfer][attention]") {
  const std::vector<Shape> shapes = {
      {2, 4, 64, 16, 0},     // GQA 4
      {8, 1, 64, 1, 0},      // MHA, one-token pages
      {4, 2, 64, 32, 37},    // GQA 2, sliding window
      {8, 4, 128, 16, 0},    // Llama-3-8B-like
      {1, 8, 128, 16, 0},    // GQA 8
      {2, 7, 128, 8, 300},   // odd group, window across pages
      {4, 3, 128, 32, 5},    // small window
      {2, 5, 64, 16, 1000},  // window longer than most contexts
  };
  std::mt19937 rng(20261204);
  Coverage seen;
  for (ElementType type : {ElementType::kBF16, ElementType::kF16}) {
    for (const Shape& shape : shapes) {
      for (int round = 0; round < 3; ++round) CheckCase(shape, type, false, rng, seen);
      CheckCase(shape, type, true, rng, seen);
    }
  }
  std::printf("flashinfer: %d plans, %d split the KV walk, query tiles:", seen.plans,
              seen.split_plans);
  for (int64_t tile : seen.tiles) std::printf(" %lld", static_cast<long long>(tile));
  std::printf("\n");
  CHECK(seen.split_plans > 0);
  CHECK(seen.tiles == std::set<int64_t>{16, 64, 128});
}

TEST_CASE("FlashInfer refuses what it was not compiled for, with the reason",
          "[gpu][flashinfer][attention]") {
  kernels::FlashInferShape shape{8, 2, 96, 16, 0, ElementType::kBF16};
  CHECK(kernels::FlashInferRejects(shape).find("head_dim") != std::string::npos);
  shape.head_dim = 64;
  shape.type = ElementType::kF32;
  CHECK(kernels::FlashInferRejects(shape).find("float32") != std::string::npos);
  shape.type = ElementType::kF16;
  CHECK(kernels::FlashInferRejects(shape).empty());
  const auto plan =
      kernels::PlanFlashInferStep({8, 2, 80, 16, 0, ElementType::kF16}, {}, {}, nullptr);
  CHECK(plan.status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace ribbon::testing
