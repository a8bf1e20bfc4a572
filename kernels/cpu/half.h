// IEEE 754 binary16 ("half", float16) <-> float32, in portable C++ (no F16C needed), for the CPU
// KV cache in float16: keys and values are rounded once when written and widened exactly when
// read, so attention over a float16 cache computes exactly what it would over a float32 cache
// holding the rounded values.
//
// FloatToHalfBits rounds to nearest even, as F16C's vcvtps2ph (_MM_FROUND_TO_NEAREST_INT) and
// torch's conversion do: magnitudes from 65520 up become infinity, subnormal halves are kept,
// NaN stays NaN (quiet). HalfBitsToFloat is exact. Both are checked against F16C over every half
// and a spread of floats (tests/kernels/half_test.cpp). Header-only, pure; any thread.
#pragma once

#include <bit>
#include <cstdint>

namespace ribbon::kernels {

inline float HalfBitsToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float32
    const float magnitude = static_cast<float>(mantissa) * 0x1.0p-24f;
    return sign != 0 ? -magnitude : magnitude;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

// The method of Maratyszcza's FP16 library: scaling by 2^112 then 2^-110 leaves a float whose
// rounding (done by the hardware's float addition, to nearest even) lands on the half's grid.
inline uint16_t FloatToHalfBits(float f) {
  const uint32_t w = std::bit_cast<uint32_t>(f);
  const uint32_t twice = w + w;  // the sign shifted out
  const uint32_t sign = w & 0x80000000u;
  float base = (std::bit_cast<float>(w & 0x7fffffffu) * 0x1.0p+112f) * 0x1.0p-110f;
  uint32_t bias = twice & 0xff000000u;
  if (bias < 0x71000000u) bias = 0x71000000u;
  base = std::bit_cast<float>((bias >> 1) + 0x07800000u) + base;
  const uint32_t bits = std::bit_cast<uint32_t>(base);
  const uint32_t exponent_bits = (bits >> 13) & 0x00007c00u;
  const uint32_t mantissa_bits = bits & 0x00000fffu;
  const uint32_t magnitude = twice > 0xff000000u ? 0x7e00u : exponent_bits + mantissa_bits;
  return static_cast<uint16_t>((sign >> 16) | magnitude);
}

}  // namespace ribbon::kernels
