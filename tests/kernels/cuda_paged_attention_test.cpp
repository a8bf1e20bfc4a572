// The CUDA reference paged attention kernel against the CPU kernel (kernels/cpu), on random
// inputs over batch, segment kinds (prefill, later chunk, decode), block size, head dim, GQA
// ratio, sliding window and storage type. Inputs are rounded to the storage type first, so
// the CPU kernel sees exactly what the GPU reads; outputs are poisoned before each launch.
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>

#include "kernels/cpu/paged_attention.h"
#include "kernels/cuda/paged_attention.h"
#include "tests/kernels/cuda_test_util.h"

namespace ribbon::testing {
namespace {

struct Shape {
  int32_t heads, kv_heads, head_dim, block_size, window;
};

struct Segment {
  int32_t start, rows;
};

struct Ribbon {
  std::vector<int32_t> cu_seqlens{0}, positions, block_tables;
  int32_t max_blocks = 0, num_blocks = 0, real_rows = 0, num_rows = 0;
};

// Random segments: a prefill from 0, a later chunk, decodes; each sequence gets shuffled blocks.
Ribbon MakeRibbon(std::mt19937& rng, int32_t block_size) {
  std::uniform_int_distribution<int32_t> seqs(1, 6), len(1, 90), kind(0, 2);
  std::vector<Segment> segments;
  for (int32_t s = seqs(rng); s > 0; --s) {
    const int32_t k = kind(rng);
    if (k == 0) segments.push_back({0, len(rng)});
    if (k == 1) segments.push_back({len(rng), len(rng) / 3 + 1});
    if (k == 2) segments.push_back({len(rng), 1});
  }
  Ribbon r;
  for (const auto& seg : segments)
    r.max_blocks = std::max(r.max_blocks, (seg.start + seg.rows + block_size - 1) / block_size);
  r.num_blocks = r.max_blocks * static_cast<int32_t>(segments.size()) + 3;
  std::vector<int32_t> pool(r.num_blocks);
  std::iota(pool.begin(), pool.end(), 0);
  std::shuffle(pool.begin(), pool.end(), rng);
  r.block_tables.assign(segments.size() * r.max_blocks, 0);
  for (size_t s = 0; s < segments.size(); ++s) {
    for (int32_t b = 0; b < r.max_blocks; ++b)
      r.block_tables[s * r.max_blocks + b] = pool[s * r.max_blocks + b];
    for (int32_t j = 0; j < segments[s].rows; ++j) r.positions.push_back(segments[s].start + j);
    r.cu_seqlens.push_back(static_cast<int32_t>(r.positions.size()));
  }
  r.real_rows = static_cast<int32_t>(r.positions.size());
  for (int32_t pad = 0; pad < 3; ++pad) r.positions.push_back(0);  // alignment rows
  r.num_rows = static_cast<int32_t>(r.positions.size());
  return r;
}

void CheckCase(const Shape& shape, ElementType type, std::mt19937& rng) {
  const Ribbon r = MakeRibbon(rng, shape.block_size);
  const int64_t hd = shape.head_dim, q_width = int64_t{shape.heads} * hd,
                kv_width = int64_t{shape.kv_heads} * hd;
  const int64_t row_stride = q_width + 2 * kv_width;  // queries inside a fused QKV row
  const int64_t slots = int64_t{r.num_blocks} * shape.block_size;
  const auto q = Rounded(RandomNormal(r.num_rows * row_stride, rng), type);
  const auto k = Rounded(RandomNormal(slots * kv_width, rng), type);
  const auto v = Rounded(RandomNormal(slots * kv_width, rng), type);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));

  std::vector<float> want(r.num_rows * q_width, 0.0f);
  kernels::PagedAttentionArgs cpu{q.data(),
                                  row_stride,
                                  k.data(),
                                  v.data(),
                                  want.data(),
                                  r.cu_seqlens.data(),
                                  r.positions.data(),
                                  r.block_tables.data(),
                                  static_cast<int32_t>(r.cu_seqlens.size() - 1),
                                  r.max_blocks,
                                  shape.heads,
                                  shape.kv_heads,
                                  shape.head_dim,
                                  shape.block_size,
                                  shape.window,
                                  scale};
  kernels::PagedAttentionCpu(cpu, 0, kernels::PagedAttentionWorkItems(cpu));

  auto q_dev = DeviceBuffer::From(Encode(q, type));
  auto k_dev = DeviceBuffer::From(Encode(k, type));
  auto v_dev = DeviceBuffer::From(Encode(v, type));
  auto cu_dev = DeviceBuffer::From(r.cu_seqlens);
  auto pos_dev = DeviceBuffer::From(r.positions);
  auto tables_dev = DeviceBuffer::From(r.block_tables);
  DeviceBuffer out_dev(want.size() * kernels::ElementBytes(type));
  out_dev.Poison();
  kernels::PagedAttentionCudaArgs gpu;
  gpu.q = q_dev.get();
  gpu.q_row_stride = row_stride;
  gpu.k_cache = k_dev.get();
  gpu.v_cache = v_dev.get();
  gpu.out = out_dev.get();
  gpu.cu_seqlens = cu_dev.as<int32_t>();
  gpu.positions = pos_dev.as<int32_t>();
  gpu.block_tables = tables_dev.as<int32_t>();
  gpu.num_rows = r.num_rows;
  gpu.num_seqs = static_cast<int32_t>(r.cu_seqlens.size() - 1);
  gpu.max_blocks_per_seq = r.max_blocks;
  gpu.num_heads = shape.heads;
  gpu.num_kv_heads = shape.kv_heads;
  gpu.head_dim = shape.head_dim;
  gpu.block_size = shape.block_size;
  gpu.sliding_window = shape.window;
  gpu.scale = scale;
  gpu.type = type;
  CUDA_REQUIRE(kernels::PagedAttentionCuda(gpu, nullptr));
  CUDA_REQUIRE(cudaDeviceSynchronize());
  const auto got = Decode(out_dev.To<std::byte>(), type);

  INFO("type " << kernels::ElementTypeName(type) << ", heads " << shape.heads << "/"
               << shape.kv_heads << ", head_dim " << shape.head_dim << ", block "
               << shape.block_size << ", window " << shape.window << ", " << gpu.num_seqs
               << " sequences, " << r.real_rows << " rows");
  const double error = RelativeError(got, want);
  INFO("relative error " << error);
  CHECK(error < Tolerance(type));
  for (int64_t i = int64_t{r.real_rows} * q_width; i < static_cast<int64_t>(got.size()); ++i) {
    REQUIRE(got[i] == 0.0f);  // alignment rows: zeros, not garbage
  }
}

}  // namespace

TEST_CASE("CUDA reference paged attention equals the CPU kernel", "[kernels][cuda][attention]") {
  const std::vector<Shape> shapes = {
      {8, 4, 8, 16, 0},     // stories260K
      {8, 2, 64, 16, 0},    // GQA 4
      {8, 8, 64, 1, 0},     // MHA, one-token blocks
      {10, 2, 80, 32, 0},   // head dim not a power of two
      {16, 1, 128, 16, 5},  // MQA with a sliding window
      {4, 4, 256, 64, 0},   // the largest head dim
      {32, 8, 128, 16, 0},  // Llama-3-8B-like
  };
  std::mt19937 rng(1234);
  for (ElementType type : {ElementType::kF32, ElementType::kF16, ElementType::kBF16}) {
    for (const Shape& shape : shapes) CheckCase(shape, type, rng);
  }
}

TEST_CASE("CUDA reference paged attention rejects impossible shapes",
          "[kernels][cuda][attention]") {
  kernels::PagedAttentionCudaArgs a;
  a.num_rows = 1;
  a.num_heads = 8;
  a.num_kv_heads = 3;  // does not divide the query heads
  a.head_dim = 64;
  CHECK(kernels::PagedAttentionCuda(a, nullptr) == cudaErrorInvalidValue);
  a.num_kv_heads = 8;
  a.head_dim = 512;  // above kCudaMaxHeadDim
  CHECK(kernels::PagedAttentionCuda(a, nullptr) == cudaErrorInvalidValue);
}

}  // namespace ribbon::testing
