// The small-M GEMM kernel against a double-precision reference: every tile shape (1..37 rows,
// column counts that leave remainders of the 8-, 4- and 3-column tiles, k with and without a
// tail of k % 8), accumulate, strided operands, and column ranges split at arbitrary points.
// An output must be bit-identical whatever else is in the call (the engine's packing invariance
// rests on it).
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/small_gemm.h"

namespace ribbon::kernels {
namespace {

struct Problem {
  int64_t m, n, k, lda, ldw, ldo;
  std::vector<float> a, w, out;
};

Problem Make(int64_t m, int64_t n, int64_t k, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  Problem p{m, n, k, k + 3, k + 5, n + 2, {}, {}, {}};
  p.a.resize(m * p.lda);
  p.w.resize(n * p.ldw);
  p.out.resize(m * p.ldo);
  for (float& x : p.a) x = dist(rng);
  for (float& x : p.w) x = dist(rng);
  for (float& x : p.out) x = dist(rng);
  return p;
}

SmallGemmArgs Args(Problem& p, bool accumulate) {
  return {p.a.data(), p.lda, p.w.data(), p.ldw, p.out.data(), p.ldo, p.m, p.n, p.k, accumulate};
}

}  // namespace

TEST_CASE("small GEMM matches a double reference for every tile shape", "[kernels][gemm]") {
  std::mt19937 rng(7);
  for (int64_t m : {1, 2, 3, 4, 5, 7, 8, 13, 32, 37}) {
    for (int64_t n : {1, 3, 4, 8, 11, 24, 50}) {
      for (int64_t k : {1, 8, 13, 64, 77}) {
        for (bool accumulate : {false, true}) {
          Problem p = Make(m, n, k, rng);
          const std::vector<float> before = p.out;
          const SmallGemmArgs args = Args(p, accumulate);
          // Three column ranges that cut through tiles.
          const int64_t cut1 = n / 3, cut2 = (2 * n) / 3 + 1;
          SmallGemmCpu(args, 0, cut1);
          SmallGemmCpu(args, cut1, cut2);
          SmallGemmCpu(args, cut2, n + 10);  // past n: clamped
          for (int64_t r = 0; r < m; ++r) {
            for (int64_t j = 0; j < n; ++j) {
              double ref = accumulate ? before[r * p.ldo + j] : 0.0;
              for (int64_t i = 0; i < k; ++i)
                ref += static_cast<double>(p.a[r * p.lda + i]) * p.w[j * p.ldw + i];
              INFO("m " << m << " n " << n << " k " << k << " r " << r << " j " << j);
              REQUIRE(std::abs(p.out[r * p.ldo + j] - ref) <= 1e-5 * (1.0 + std::sqrt(k)));
            }
            // Padding between rows untouched.
            for (int64_t j = n; j < p.ldo; ++j)
              REQUIRE(p.out[r * p.ldo + j] == before[r * p.ldo + j]);
          }
        }
      }
    }
  }
}

TEST_CASE("a small GEMM output does not depend on the other rows or columns of the call",
          "[kernels][gemm]") {
  std::mt19937 rng(11);
  for (int64_t k : {64, 77, 768}) {
    Problem full = Make(32, 50, k, rng);
    SmallGemmCpu(Args(full, false), 0, full.n);
    for (int64_t m : {1, 2, 3, 4, 9}) {
      for (int64_t row0 : {int64_t{0}, 32 - m}) {
        // The same rows alone, and one column at a time.
        Problem part = full;
        part.m = m;
        part.a.assign(full.a.begin() + row0 * full.lda, full.a.end());
        SmallGemmCpu(Args(part, false), 0, part.n);
        Problem single = part;
        for (int64_t j = 0; j < part.n; ++j) SmallGemmCpu(Args(single, false), j, j + 1);
        for (int64_t r = 0; r < m; ++r) {
          for (int64_t j = 0; j < full.n; ++j) {
            INFO("k " << k << " m " << m << " row " << row0 + r << " col " << j);
            REQUIRE(part.out[r * full.ldo + j] == full.out[(row0 + r) * full.ldo + j]);
            REQUIRE(single.out[r * full.ldo + j] == full.out[(row0 + r) * full.ldo + j]);
          }
        }
      }
    }
  }
}

}  // namespace ribbon::kernels
