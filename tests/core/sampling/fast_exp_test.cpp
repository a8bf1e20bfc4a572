#include "kernels/cpu/fast_exp.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

using ribbon::kernels::ExpNonPositive;

TEST_CASE("ExpNonPositive is within 2e-7 relative of exp over its whole range", "[sampling]") {
  double worst = 0.0;
  float worst_at = 0.0f;
  const auto check = [&](float x) {
    const double exact = std::exp(static_cast<double>(x));
    const double error = std::abs(ExpNonPositive(x) - exact) / exact;
    if (error > worst) {
      worst = error;
      worst_at = x;
    }
  };
  constexpr int kGrid = 2'000'000;
  for (int i = 0; i <= kGrid; ++i) check(-87.3f * static_cast<float>(i) / kGrid);
  for (float x = -1.0f; x < -1e-30f; x *= 0.9f) check(x);  // tiny magnitudes
  INFO("worst relative error " << worst << " at " << worst_at);
  CHECK(worst < 2e-7);
}

TEST_CASE("ExpNonPositive at the ends of its range", "[sampling]") {
  CHECK(ExpNonPositive(0.0f) == 1.0f);
  CHECK(ExpNonPositive(-0.0f) == 1.0f);
  CHECK(ExpNonPositive(-87.3f) > 0.0f);
  CHECK(ExpNonPositive(-87.31f) == 0.0f);
  CHECK(ExpNonPositive(-1e30f) == 0.0f);
  CHECK(ExpNonPositive(-std::numeric_limits<float>::infinity()) == 0.0f);
}
