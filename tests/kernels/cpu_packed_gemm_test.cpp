// The packed GEMM kernel against its contract: every output bitwise equal to one float32 fused
// multiply-add chain over k in order, whatever the rows, the split of the call into panel and row
// ranges, the instruction set, accumulate, or the packed dtype (bfloat16 weights enter the chain
// widened from their rounded value); plus a double-precision reference (it is a GEMM), the
// packing's zero padding, the rounding to bfloat16, and the row read-back used for a tied
// embedding.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/packed_gemm.h"
#include "kernels/cpu/packed_gemm_tile.h"

namespace ribbon::kernels {
namespace {

struct Problem {
  int64_t m, n, k, lda, ldw, ldo;
  PackedDtype dtype;
  std::vector<float> a, w, out, packed;  // `packed` holds the packed bytes of either dtype
};

Problem Make(int64_t m, int64_t n, int64_t k, std::mt19937& rng,
             PackedDtype dtype = PackedDtype::kFloat32) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  Problem p{m, n, k, k + 3, k + 5, n + 2, dtype, {}, {}, {}, {}};
  p.a.resize(m * p.lda);
  p.w.resize(n * p.ldw);
  p.out.resize(m * p.ldo);
  for (float& x : p.a) x = dist(rng);
  for (float& x : p.w) x = dist(rng);
  for (float& x : p.out) x = dist(rng);
  // Padding must be overwritten with zeros: start from a pattern that is not zero in either dtype.
  p.packed.assign(PackedWeightElements(n, k), -7.0f);
  PackWeightCpu(p.w.data(), p.ldw, n, k, p.packed.data(), dtype, 0, PackedPanels(n));
  return p;
}

PackedGemmArgs Args(Problem& p, std::vector<float>& out, bool accumulate) {
  return {.a = p.a.data(),
          .lda = p.lda,
          .packed = p.packed.data(),
          .n = p.n,
          .k = p.k,
          .out = out.data(),
          .ldo = p.ldo,
          .m = p.m,
          .accumulate = accumulate,
          .dtype = p.dtype};
}

// The weight as the chain sees it: bfloat16 is the rounded value, widened.
float Weight(const Problem& p, int64_t j, int64_t i) {
  const float w = p.w[j * p.ldw + i];
  return p.dtype == PackedDtype::kBFloat16 ? Bf16BitsToFloat(FloatToBf16Bits(w)) : w;
}

// The contract, written out.
float Chain(const Problem& p, int64_t r, int64_t j, float start, bool accumulate) {
  float s = 0.0f;
  for (int64_t i = 0; i < p.k; ++i) s = std::fma(p.a[r * p.lda + i], Weight(p, j, i), s);
  return accumulate ? start + s : s;
}

void RequireContract(const Problem& p, const std::vector<float>& out, bool accumulate) {
  for (int64_t r = 0; r < p.m; ++r) {
    for (int64_t j = 0; j < p.ldo; ++j) {
      const int64_t at = r * p.ldo + j;
      if (j >= p.n) {
        REQUIRE(out[at] == p.out[at]);  // the row's padding is never written
        continue;
      }
      const float want = Chain(p, r, j, p.out[at], accumulate);
      if (out[at] != want)
        FAIL("m " << p.m << " n " << p.n << " k " << p.k << " r " << r << " j " << j);
      double ref = 0.0;
      for (int64_t i = 0; i < p.k; ++i)
        ref += static_cast<double>(p.a[r * p.lda + i]) * Weight(p, j, i);
      if (accumulate) ref += p.out[at];
      REQUIRE(std::abs(out[at] - ref) <= 1e-5 * (1.0 + static_cast<double>(p.k)));
    }
  }
}

using IsaGemm = void (*)(const PackedGemmArgs&, int64_t, int64_t, int64_t, int64_t);

std::vector<std::pair<const char*, IsaGemm>> Isas() {
  std::vector<std::pair<const char*, IsaGemm>> isas = {{"dispatch", &PackedGemmCpu},
                                                       {"avx2", &packed_gemm_detail::GemmAvx2}};
  if (__builtin_cpu_supports("avx512f"))
    isas.push_back({"avx512", &packed_gemm_detail::GemmAvx512});
  return isas;
}

void RequireAllIsas(Problem& p) {
  for (const auto& [name, gemm] : Isas()) {
    INFO("isa " << name);
    for (bool accumulate : {false, true}) {
      std::vector<float> out = p.out;
      gemm(Args(p, out, accumulate), 0, PackedPanels(p.n), 0, p.m);
      RequireContract(p, out, accumulate);
    }
  }
}

}  // namespace

TEST_CASE("packed GEMM equals the fused chain for every shape, instruction set and dtype",
          "[kernels][gemm]") {
  std::mt19937 rng(7);
  for (PackedDtype dtype : {PackedDtype::kFloat32, PackedDtype::kBFloat16}) {
    for (int64_t k : {1, 7, 64, 300}) {
      // 448 and 600: a one-row call walks whole panels 4 at a time (7 = 4 + 3; 9 = 4 + 4 + 1, then
      // a partial panel).
      for (int64_t n : {1, 17, 64, 65, 130, 200, 448, 600}) {
        for (int64_t m : {1, 2, 3, 4, 5, 6, 7, 11, 13, 33, 70}) {
          Problem p = Make(m, n, k, rng, dtype);
          INFO("dtype " << (dtype == PackedDtype::kBFloat16 ? "bf16" : "f32"));
          RequireAllIsas(p);
        }
      }
    }
  }
}

TEST_CASE("packed GEMM: any split into panel and row ranges gives the same bits",
          "[kernels][gemm]") {
  std::mt19937 rng(11);
  for (PackedDtype dtype : {PackedDtype::kFloat32, PackedDtype::kBFloat16}) {
    Problem p = Make(37, 200, 129, rng, dtype);
    std::vector<float> whole = p.out;
    PackedGemmCpu(Args(p, whole, true), 0, PackedPanels(p.n), 0, p.m);
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<float> parts = p.out;
      const int64_t panel_cut = std::uniform_int_distribution<int64_t>(0, PackedPanels(p.n))(rng);
      const int64_t row_cut = std::uniform_int_distribution<int64_t>(0, p.m)(rng);
      for (auto [pb, pe] : {std::pair<int64_t, int64_t>{0, panel_cut}, {panel_cut, 99}}) {
        PackedGemmCpu(Args(p, parts, true), pb, pe, 0, row_cut);
        PackedGemmCpu(Args(p, parts, true), pb, pe, row_cut, p.m + 5);  // past the end: clamped
      }
      REQUIRE(parts == whole);
    }
    // One row alone (a decode) equals the same row inside the 37-row call (a prefill).
    for (int64_t r : {0, 5, 36}) {
      Problem alone = p;
      alone.m = 1;
      alone.a.assign(p.a.begin() + r * p.lda, p.a.begin() + (r + 1) * p.lda);
      std::vector<float> out(p.ldo, 0.0f);
      PackedGemmCpu(Args(alone, out, false), 0, PackedPanels(p.n), 0, 1);
      std::vector<float> batched = p.out;
      PackedGemmCpu(Args(p, batched, false), 0, PackedPanels(p.n), 0, p.m);
      for (int64_t j = 0; j < p.n; ++j) REQUIRE(out[j] == batched[r * p.ldo + j]);
    }
  }
}

TEST_CASE("packing pads with zeros and reads rows back exactly", "[kernels][gemm]") {
  std::mt19937 rng(3);
  REQUIRE(PackedPanels(70) == 2);
  REQUIRE(PackedWeightElements(70, 33) == 2 * 33 * 64);
  for (PackedDtype dtype : {PackedDtype::kFloat32, PackedDtype::kBFloat16}) {
    Problem p = Make(1, 70, 33, rng, dtype);
    std::vector<float> row(p.k);
    UnpackRowCpu(p.packed.data(), dtype, p.k, 64 + 63, row.data());  // a padding column
    for (float x : row) REQUIRE(x == 0.0f);
    for (int64_t j : {0, 1, 63, 64, 69}) {
      UnpackRowCpu(p.packed.data(), dtype, p.k, j, row.data());
      for (int64_t i = 0; i < p.k; ++i) REQUIRE(row[i] == Weight(p, j, i));
    }
  }
  REQUIRE(std::string(PackedGemmIsa()) == (__builtin_cpu_supports("avx512f") ? "avx512" : "avx2"));
}

TEST_CASE("bfloat16 packing rounds to nearest even", "[kernels][gemm]") {
  REQUIRE(FloatToBf16Bits(1.0f) == 0x3F80);
  REQUIRE(FloatToBf16Bits(-2.0f) == 0xC000);
  REQUIRE(FloatToBf16Bits(std::ldexp(1.0f, 0) + std::ldexp(1.0f, -8)) == 0x3F80);  // tie: even
  REQUIRE(FloatToBf16Bits(1.0f + 3 * std::ldexp(1.0f, -8)) == 0x3F82);             // tie: even
  REQUIRE(FloatToBf16Bits(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -12)) == 0x3F81);
  REQUIRE(std::isnan(Bf16BitsToFloat(FloatToBf16Bits(std::nanf("")))));
  REQUIRE(std::isinf(Bf16BitsToFloat(FloatToBf16Bits(3.4e38f))));  // rounds past the largest
  for (uint32_t bits = 0; bits < 0x7F80; bits += 7) {  // every finite bf16 survives a round trip
    REQUIRE(FloatToBf16Bits(Bf16BitsToFloat(static_cast<uint16_t>(bits))) == bits);
  }
}

}  // namespace ribbon::kernels
