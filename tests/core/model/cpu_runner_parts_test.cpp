// A part of the CPU runner checked on its own: SiluMul's vectorised exp against libm over the
// whole range an activation takes (it replaced a scalar std::exp call).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/model/cpu_ops.h"

namespace ribbon {
namespace {

TEST_CASE("SiluMul agrees with x / (1 + exp(-x)) * up to a few float32 roundings", "[model]") {
  constexpr int64_t kInter = 4001;  // odd: the vector loop's remainder runs too
  std::vector<float> gate_up(2 * kInter), out(kInter);
  for (int64_t i = 0; i < kInter; ++i) {
    gate_up[i] = -120.0f + 240.0f * static_cast<float>(i) / (kInter - 1);  // both tails, and 0
    gate_up[kInter + i] = 0.5f + static_cast<float>(i % 7);
  }
  cpu::SiluMul(gate_up.data(), out.data(), 1, kInter);
  int64_t checked = 0;
  for (int64_t i = 0; i < kInter; ++i) {
    const double x = gate_up[i], up = gate_up[kInter + i];
    const double want = x / (1.0 + std::exp(-x)) * up;
    INFO("x = " << x);
    CHECK(std::isfinite(out[i]));
    // Relative 2e-6 (a handful of float32 roundings and the exp's 2e-7), or absolute where the
    // result underflows towards 0 for very negative x.
    CHECK(std::abs(out[i] - want) <= 2e-6 * std::abs(want) + 1e-30);
    ++checked;
  }
  CHECK(checked == kInter);
  // Exactly 0 at 0, and silu(x) -> x for large x.
  CHECK(out[(kInter - 1) / 2] == 0.0f);
  CHECK(out[kInter - 1] == gate_up[kInter - 1] * gate_up[2 * kInter - 1]);
}

}  // namespace
}  // namespace ribbon
