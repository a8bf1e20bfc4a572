// exp(x) for x <= 0 in float, written so that loops over it vectorise (std::exp does not
// without -ffast-math; this needs -fno-trapping-math, see core/sampling/CMakeLists.txt). The
// sampler evaluates it once per vocabulary entry per token (at a 150k vocabulary the scalar libm
// call dominated sampling) and the CPU attention kernel once per score. Cephes' expf polynomial
// after reduction by ln 2; relative error below 2e-7 (tests/core/sampling/fast_exp_test.cpp).
// Arguments below -87.3 (including -inf) give exactly 0 rather than a denormal, so masked
// tokens keep weight 0. NaN is not an accepted argument.
//
// Header-only, pure; any thread.
#pragma once

#include <bit>
#include <cstdint>

namespace ribbon::kernels {

inline float ExpNonPositive(float x) {
  constexpr float kLowest = -87.3f;  // exp(kLowest) is still a normal float
  constexpr float kLog2E = 1.44269504088896341f;
  constexpr float kLn2High = 0.693359375f;  // ln 2 = kLn2High + kLn2Low, high part exact
  constexpr float kLn2Low = -2.12194440e-4f;
  constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const bool underflows = x < kLowest;
  const float clamped = underflows ? kLowest : x;
  const float n = (clamped * kLog2E + kRoundMagic) - kRoundMagic;
  const float r = (clamped - n * kLn2High) - n * kLn2Low;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float exp_r = p * r * r + r + 1.0f;
  const float two_to_n = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  return underflows ? 0.0f : exp_r * two_to_n;
}

}  // namespace ribbon::kernels
