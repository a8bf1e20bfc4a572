// kernels/cpu/half.h against the hardware's own conversions (F16C): every one of the 65,536
// halves widened, and ten million floats (every exponent, random mantissas, the boundaries of
// the half's range and its subnormals) rounded.
#include <immintrin.h>

#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <random>

#include "kernels/cpu/half.h"

namespace ribbon::kernels {
namespace {

TEST_CASE("HalfBitsToFloat widens every half exactly", "[kernels][half]") {
  int64_t wrong = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    const float got = HalfBitsToFloat(static_cast<uint16_t>(h));
    const float want = _cvtsh_ss(static_cast<unsigned short>(h));
    if (std::isnan(want) ? !std::isnan(got)
                         : std::bit_cast<uint32_t>(got) != std::bit_cast<uint32_t>(want)) {
      ++wrong;
    }
  }
  CHECK(wrong == 0);
}

TEST_CASE("FloatToHalfBits rounds to nearest even as F16C does", "[kernels][half]") {
  std::mt19937 rng(3);
  int64_t wrong = 0;
  auto check = [&](float f) {
    const uint16_t got = FloatToHalfBits(f);
    const uint16_t want = _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
    if (std::isnan(f) ? (got & 0x7c00) != 0x7c00 || (got & 0x3ff) == 0 : got != want) ++wrong;
  };
  for (int i = 0; i < 10'000'000; ++i) {
    uint32_t w = rng();
    // Two in three near the half's range (exponents 2^-27 .. 2^22), the rest anywhere.
    if (i % 3 != 0) w = (w & 0x807fffffu) | ((100u + (w >> 24) % 50u) << 23);
    check(std::bit_cast<float>(w));
  }
  for (float f : {0.0f, -0.0f, 65504.0f, 65519.99f, 65520.0f, -65520.0f, 0x1.0p-24f, 0x1.0p-25f,
                  0x1.8p-25f, 0x1.0p-14f, INFINITY, -INFINITY, NAN}) {
    check(f);
  }
  CHECK(wrong == 0);
}

}  // namespace
}  // namespace ribbon::kernels
