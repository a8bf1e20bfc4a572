// The small CUDA layer ops and the K/V gather against double-precision (or exact) host
// references, in every storage type; copies are checked byte for byte, including rows that
// must stay untouched.
#include <catch2/catch.hpp>

#include <numeric>

#include "kernels/cuda/kv_gather.h"
#include "kernels/cuda/layer_ops.h"
#include "tests/kernels/cuda_test_util.h"

namespace ribbon::testing {
namespace {

constexpr ElementType kTypes[] = {ElementType::kF32, ElementType::kF16, ElementType::kBF16};

std::vector<float> Run(DeviceBuffer& buffer, ElementType type) {
  CUDA_REQUIRE(cudaDeviceSynchronize());
  return Decode(buffer.To<std::byte>(), type);
}

}  // namespace

TEST_CASE("RmsNorm matches x / rms(x) * weight, strided and in place", "[kernels][cuda]") {
  std::mt19937 rng(1);
  const int64_t rows = 37, dim = 1000, stride = 1024;
  for (ElementType type : kTypes) {
    INFO(kernels::ElementTypeName(type));
    const auto x = Rounded(RandomNormal(rows * stride, rng, 3.0f), type);
    const auto w = Rounded(RandomNormal(dim, rng), type);
    std::vector<float> want(rows * dim);
    for (int64_t r = 0; r < rows; ++r) {
      double sum = 0;
      for (int64_t i = 0; i < dim; ++i) sum += double(x[r * stride + i]) * x[r * stride + i];
      const double inv = 1.0 / std::sqrt(sum / dim + 1e-5);
      for (int64_t i = 0; i < dim; ++i)
        want[r * dim + i] = static_cast<float>(x[r * stride + i] * inv * w[i]);
    }
    auto x_dev = DeviceBuffer::From(Encode(x, type));
    auto w_dev = DeviceBuffer::From(Encode(w, type));
    DeviceBuffer out(rows * dim * kernels::ElementBytes(type));
    out.Poison();
    CUDA_REQUIRE(kernels::RmsNorm(
        {x_dev.get(), stride, w_dev.get(), out.get(), dim, rows, dim, 1e-5f, type}, nullptr));
    CHECK(RelativeError(Run(out, type), want) < Tolerance(type));

    CUDA_REQUIRE(kernels::RmsNorm(
        {x_dev.get(), stride, w_dev.get(), x_dev.get(), stride, rows, dim, 1e-5f, type}, nullptr));
    const auto in_place = Run(x_dev, type);
    std::vector<float> compact(rows * dim);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t i = 0; i < dim; ++i) compact[r * dim + i] = in_place[r * stride + i];
      for (int64_t i = dim; i < stride; ++i) REQUIRE(in_place[r * stride + i] == x[r * stride + i]);
    }
    CHECK(RelativeError(compact, want) < Tolerance(type));
  }
}

TEST_CASE("ApplyRope rotates query and key heads by position and leaves values alone",
          "[kernels][cuda]") {
  std::mt19937 rng(2);
  const int32_t rows = 29, nq = 8, nk = 2, hd = 64, half = hd / 2, max_pos = 300;
  const int64_t width = int64_t{nq + 2 * nk} * hd;
  std::vector<float> cos(max_pos * half), sin(max_pos * half);
  for (int32_t p = 0; p < max_pos; ++p) {
    for (int32_t i = 0; i < half; ++i) {
      const double angle = p * std::pow(10000.0, -2.0 * i / hd);
      cos[p * half + i] = static_cast<float>(std::cos(angle));
      sin[p * half + i] = static_cast<float>(std::sin(angle));
    }
  }
  std::vector<int32_t> positions(rows);
  std::uniform_int_distribution<int32_t> pos(0, max_pos - 1);
  for (int32_t& p : positions) p = pos(rng);
  for (ElementType type : kTypes) {
    INFO(kernels::ElementTypeName(type));
    const auto x = Rounded(RandomNormal(rows * width, rng), type);
    std::vector<float> want = x;
    for (int32_t r = 0; r < rows; ++r) {
      for (int32_t h = 0; h < nq + nk; ++h) {
        for (int32_t i = 0; i < half; ++i) {
          const int64_t at = r * width + h * hd + i;
          const double c = cos[positions[r] * half + i], s = sin[positions[r] * half + i];
          want[at] = static_cast<float>(x[at] * c - x[at + half] * s);
          want[at + half] = static_cast<float>(x[at + half] * c + x[at] * s);
        }
      }
    }
    auto x_dev = DeviceBuffer::From(Encode(x, type));
    auto pos_dev = DeviceBuffer::From(positions);
    auto cos_dev = DeviceBuffer::From(cos);
    auto sin_dev = DeviceBuffer::From(sin);
    kernels::RopeArgs args{
        x_dev.get(),         width, rows, nq, nk, hd, pos_dev.as<int32_t>(), cos_dev.as<float>(),
        sin_dev.as<float>(), type};
    CUDA_REQUIRE(kernels::ApplyRope(args, nullptr));
    const auto got = Run(x_dev, type);
    CHECK(RelativeError(got, want) < Tolerance(type));
    for (int32_t r = 0; r < rows; ++r) {
      for (int64_t i = int64_t{nq + nk} * hd; i < width; ++i)
        REQUIRE(got[r * width + i] == x[r * width + i]);
    }
  }
}

TEST_CASE("SiluMul computes silu(gate) * up", "[kernels][cuda]") {
  std::mt19937 rng(3);
  const int64_t rows = 19, inter = 1376;
  for (ElementType type : kTypes) {
    INFO(kernels::ElementTypeName(type));
    const auto gate_up = Rounded(RandomNormal(rows * 2 * inter, rng, 2.0f), type);
    std::vector<float> want(rows * inter);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t i = 0; i < inter; ++i) {
        const double g = gate_up[r * 2 * inter + i], u = gate_up[r * 2 * inter + inter + i];
        want[r * inter + i] = static_cast<float>(g / (1.0 + std::exp(-g)) * u);
      }
    }
    auto in = DeviceBuffer::From(Encode(gate_up, type));
    DeviceBuffer out(rows * inter * kernels::ElementBytes(type));
    out.Poison();
    CUDA_REQUIRE(kernels::SiluMul({in.get(), out.get(), rows, inter, type}, nullptr));
    CHECK(RelativeError(Run(out, type), want) < Tolerance(type));
  }
}

TEST_CASE("GatherRows copies the selected rows exactly, at any row size", "[kernels][cuda]") {
  std::mt19937 rng(4);
  for (int64_t row_bytes : {int64_t{6}, int64_t{4096}, int64_t{258}}) {
    INFO("row bytes " << row_bytes);
    const int64_t table_rows = 50, rows = 33;
    std::vector<uint8_t> table(table_rows * row_bytes);
    for (auto& b : table) b = static_cast<uint8_t>(rng());
    std::vector<int32_t> ids(rows);
    for (auto& id : ids) id = static_cast<int32_t>(rng() % table_rows);
    auto table_dev = DeviceBuffer::From(table);
    auto ids_dev = DeviceBuffer::From(ids);
    DeviceBuffer out(rows * row_bytes);
    out.Poison();
    CUDA_REQUIRE(kernels::GatherRows(
        {table_dev.get(), row_bytes, ids_dev.as<int32_t>(), out.get(), rows, row_bytes}, nullptr));
    CUDA_REQUIRE(cudaDeviceSynchronize());
    const auto got = out.To<uint8_t>();
    for (int64_t r = 0; r < rows; ++r) {
      REQUIRE(std::equal(got.begin() + r * row_bytes, got.begin() + (r + 1) * row_bytes,
                         table.begin() + ids[r] * row_bytes));
    }
  }
}

TEST_CASE("WriteKv stores each row's key and value at its slot and skips slot -1",
          "[kernels][cuda]") {
  std::mt19937 rng(5);
  const int64_t rows = 21, kv_width = 3 * 64, src_stride = 7 * 64, slots = 64;
  for (ElementType type : kTypes) {
    INFO(kernels::ElementTypeName(type));
    const int64_t elem = kernels::ElementBytes(type);
    const auto src = Encode(RandomNormal(rows * src_stride, rng), type);
    std::vector<int32_t> slot(rows);
    std::vector<int32_t> free_slots(slots);
    std::iota(free_slots.begin(), free_slots.end(), 0);
    std::shuffle(free_slots.begin(), free_slots.end(), rng);
    for (int64_t r = 0; r < rows; ++r) slot[r] = r % 4 == 3 ? -1 : free_slots[r];
    auto src_dev = DeviceBuffer::From(src);
    auto slot_dev = DeviceBuffer::From(slot);
    DeviceBuffer k_cache(slots * kv_width * elem), v_cache(slots * kv_width * elem);
    k_cache.Poison();
    v_cache.Poison();
    const char* base = static_cast<const char*>(src_dev.get());
    kernels::WriteKvArgs args{base + 64 * elem,
                              base + (64 + kv_width) * elem,
                              src_stride,
                              slot_dev.as<int32_t>(),
                              rows,
                              kv_width,
                              k_cache.get(),
                              v_cache.get(),
                              type};
    CUDA_REQUIRE(kernels::WriteKv(args, nullptr));
    CUDA_REQUIRE(cudaDeviceSynchronize());
    const auto k = k_cache.To<std::byte>(), v = v_cache.To<std::byte>();
    std::vector<bool> written(slots, false);
    for (int64_t r = 0; r < rows; ++r) {
      if (slot[r] < 0) continue;
      written[slot[r]] = true;
      const size_t row = kv_width * elem;
      REQUIRE(std::memcmp(k.data() + slot[r] * row, src.data() + (r * src_stride + 64) * elem,
                          row) == 0);
      REQUIRE(std::memcmp(v.data() + slot[r] * row,
                          src.data() + (r * src_stride + 64 + kv_width) * elem, row) == 0);
    }
    for (int64_t s = 0; s < slots; ++s) {
      if (!written[s]) REQUIRE(k[s * kv_width * elem] == std::byte{0xFF});
    }
  }
}

TEST_CASE("GatherKv lays each sequence's keys and values out contiguously", "[kernels][cuda]") {
  std::mt19937 rng(6);
  const int32_t block_size = 16, max_blocks = 5, num_blocks = 40;
  const int64_t row_bytes = 2 * 128 * 2;  // two bfloat16 KV heads of 128
  const std::vector<int32_t> kv_lens = {70, 1, 33, 16};
  std::vector<int32_t> pool(num_blocks);
  std::iota(pool.begin(), pool.end(), 0);
  std::shuffle(pool.begin(), pool.end(), rng);
  std::vector<int32_t> tables(kv_lens.size() * max_blocks);
  std::copy(pool.begin(), pool.begin() + tables.size(), tables.begin());
  std::vector<int32_t> cu{0};
  for (int32_t len : kv_lens) cu.push_back(cu.back() + len);
  std::vector<uint8_t> k(int64_t{num_blocks} * block_size * row_bytes), v(k.size());
  for (auto& b : k) b = static_cast<uint8_t>(rng());
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  auto k_dev = DeviceBuffer::From(k), v_dev = DeviceBuffer::From(v);
  auto cu_dev = DeviceBuffer::From(cu), tables_dev = DeviceBuffer::From(tables);
  DeviceBuffer k_out(cu.back() * row_bytes), v_out(cu.back() * row_bytes);
  k_out.Poison();
  v_out.Poison();
  kernels::KvGatherArgs args{k_dev.get(),
                             v_dev.get(),
                             k_out.get(),
                             v_out.get(),
                             cu_dev.as<int32_t>(),
                             tables_dev.as<int32_t>(),
                             static_cast<int32_t>(kv_lens.size()),
                             max_blocks,
                             block_size,
                             cu.back(),
                             row_bytes};
  CUDA_REQUIRE(kernels::GatherKv(args, nullptr));
  CUDA_REQUIRE(cudaDeviceSynchronize());
  const auto k_got = k_out.To<uint8_t>(), v_got = v_out.To<uint8_t>();
  for (size_t s = 0; s < kv_lens.size(); ++s) {
    for (int32_t t = 0; t < kv_lens[s]; ++t) {
      const int64_t slot =
          int64_t{tables[s * max_blocks + t / block_size]} * block_size + t % block_size;
      const int64_t dst = (cu[s] + t) * row_bytes;
      REQUIRE(std::memcmp(k_got.data() + dst, k.data() + slot * row_bytes, row_bytes) == 0);
      REQUIRE(std::memcmp(v_got.data() + dst, v.data() + slot * row_bytes, row_bytes) == 0);
    }
  }
}

}  // namespace ribbon::testing
