// The per-element arithmetic of the device sampler (kernels/cuda/sampling.h), written so that the
// device computes exactly what the host sampler (core/sampling) computes, bit for bit:
// - every float and double operation is one IEEE round-to-nearest operation (__fmul_rn, ...):
//   nvcc would otherwise fuse a * b + c into one FMA, which the host sampler, built for the
//   x86-64 baseline without FMA, never does;
// - ExpNonPositive is kernels/cpu/fast_exp.h's formula, operation by operation;
// - SamplingUniform is core/sampling/philox.h's Philox4x32-10 draw keyed by (seed, output index)
//   (kernels cannot include core; tests/kernels/sampling_row_test.cpp checks both against the
//   host's on millions of inputs).
// Compiles as CUDA (host and device) and as plain C++ (the CPU tests run the same code).
//
// Header-only, pure; any thread.
#pragma once

#include <bit>
#include <cstdint>
#include <limits>

#if defined(__CUDACC__)
#define RIBBON_HD __host__ __device__
#else
#define RIBBON_HD
#endif

namespace ribbon::kernels::sampling {

inline constexpr float kNegInf = -std::numeric_limits<float>::infinity();
inline constexpr float kMaxFloat = std::numeric_limits<float>::max();

RIBBON_HD inline float Mul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
RIBBON_HD inline float Add(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
RIBBON_HD inline float Sub(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
RIBBON_HD inline float Div(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
RIBBON_HD inline double MulD(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
RIBBON_HD inline double AddD(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}
RIBBON_HD inline uint32_t BitsOf(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  return std::bit_cast<uint32_t>(x);
#endif
}
RIBBON_HD inline float FloatOf(uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  return std::bit_cast<float>(bits);
#endif
}

// The host's SanitizeLogits: NaN -> -inf, +inf -> the largest float.
RIBBON_HD inline float Sanitized(float x) {
  return x != x ? kNegInf : (x == -kNegInf ? kMaxFloat : x);
}

// kernels/cpu/fast_exp.h's ExpNonPositive (see there for the method), each operation rounded
// as the host rounds it.
RIBBON_HD inline float ExpNonPositive(float x) {
  constexpr float kLowest = -87.3f;
  constexpr float kLog2E = 1.44269504088896341f;
  constexpr float kLn2High = 0.693359375f;
  constexpr float kLn2Low = -2.12194440e-4f;
  constexpr float kRoundMagic = 12582912.0f;
  const bool underflows = x < kLowest;
  const float clamped = underflows ? kLowest : x;
  const float n = Sub(Add(Mul(clamped, kLog2E), kRoundMagic), kRoundMagic);
  const float r = Sub(Sub(clamped, Mul(n, kLn2High)), Mul(n, kLn2Low));
  float p = 1.9875691500e-4f;
  p = Add(Mul(p, r), 1.3981999507e-3f);
  p = Add(Mul(p, r), 8.3334519073e-3f);
  p = Add(Mul(p, r), 4.1665795894e-2f);
  p = Add(Mul(p, r), 1.6666665459e-1f);
  p = Add(Mul(p, r), 5.0000001201e-1f);
  const float exp_r = Add(Add(Mul(Mul(p, r), r), r), 1.0f);
  const float two_to_n = FloatOf(static_cast<uint32_t>((static_cast<int32_t>(n) + 127) << 23));
  return underflows ? 0.0f : Mul(exp_r, two_to_n);
}

// A candidate's unnormalised weight, as the host's Weight(): exp((score - max) / temperature).
RIBBON_HD inline float Weight(float score, float max_score, float temperature) {
  return ExpNonPositive(Div(Sub(score, max_score), temperature));
}

// The uniform draw in [0, 1) for output token `output_index` of a request seeded with `seed`:
// Philox4x32-10 with key = seed (low word first), counter = (index low, index high, 0, 0); the
// first two output words give 53 bits (core/sampling/philox.h's SamplingUniform).
RIBBON_HD inline double SamplingUniform(uint64_t seed, uint64_t output_index) {
  uint32_t key0 = static_cast<uint32_t>(seed), key1 = static_cast<uint32_t>(seed >> 32);
  uint32_t c0 = static_cast<uint32_t>(output_index), c1 = static_cast<uint32_t>(output_index >> 32);
  uint32_t c2 = 0, c3 = 0;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key0 += 0x9E3779B9u;
      key1 += 0xBB67AE85u;
    }
    const uint64_t product0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    const uint64_t product1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    const auto hi0 = static_cast<uint32_t>(product0 >> 32), lo0 = static_cast<uint32_t>(product0);
    const auto hi1 = static_cast<uint32_t>(product1 >> 32), lo1 = static_cast<uint32_t>(product1);
    const uint32_t n0 = hi1 ^ c1 ^ key0, n2 = hi0 ^ c3 ^ key1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  const uint64_t bits = (static_cast<uint64_t>(c1) << 32 | c0) >> 11;
  return static_cast<double>(bits) * 0x1.0p-53;
}

// A float's key in an unsigned order equal to the float order (-0 folded onto +0), for the
// radix select of the top-k threshold.
RIBBON_HD inline uint32_t OrderKey(float x) {
  const uint32_t bits = BitsOf(x == 0.0f ? 0.0f : x);
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}
RIBBON_HD inline float FromOrderKey(uint32_t key) {
  return FloatOf((key & 0x80000000u) ? (key & 0x7FFFFFFFu) : ~key);
}

}  // namespace ribbon::kernels::sampling
