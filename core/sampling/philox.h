// Philox4x32-10, the counter-based generator of Salmon et al., "Parallel random numbers: as
// easy as 1, 2, 3" (SC'11), with the published constants. A counter-based generator has no
// state: the output is a pure function of (counter, key), which is what lets a seeded request
// reproduce its tokens in any batch, after preemption and after a retry.
//
// Header-only, constexpr, no state; any thread.
#pragma once

#include <array>
#include <cstdint>

namespace ribbon {

using PhiloxCounter = std::array<uint32_t, 4>;
using PhiloxKey = std::array<uint32_t, 2>;

namespace philox_detail {

inline constexpr uint32_t kMultiplier0 = 0xD2511F53u;
inline constexpr uint32_t kMultiplier1 = 0xCD9E8D57u;
inline constexpr uint32_t kWeyl0 = 0x9E3779B9u;  // golden ratio
inline constexpr uint32_t kWeyl1 = 0xBB67AE85u;  // sqrt(3) - 1

constexpr PhiloxCounter Round(const PhiloxCounter& ctr, const PhiloxKey& key) {
  const uint64_t product0 = static_cast<uint64_t>(kMultiplier0) * ctr[0];
  const uint64_t product1 = static_cast<uint64_t>(kMultiplier1) * ctr[2];
  const auto hi0 = static_cast<uint32_t>(product0 >> 32), lo0 = static_cast<uint32_t>(product0);
  const auto hi1 = static_cast<uint32_t>(product1 >> 32), lo1 = static_cast<uint32_t>(product1);
  return {hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0};
}

}  // namespace philox_detail

// The 10-round Philox4x32 block function: four 32-bit outputs for one (counter, key).
constexpr PhiloxCounter Philox4x32(PhiloxCounter ctr, PhiloxKey key) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key[0] += philox_detail::kWeyl0;
      key[1] += philox_detail::kWeyl1;
    }
    ctr = philox_detail::Round(ctr, key);
  }
  return ctr;
}

// The uniform draw in [0, 1) for output token `output_index` of a request seeded with `seed`:
// key = seed (low word first), counter = (output_index low, output_index high, 0, 0); the first
// two output words give 53 random bits, so every double in the result is a multiple of 2^-53.
constexpr double SamplingUniform(uint64_t seed, uint64_t output_index) {
  const PhiloxKey key = {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
  const PhiloxCounter ctr = {static_cast<uint32_t>(output_index),
                             static_cast<uint32_t>(output_index >> 32), 0u, 0u};
  const PhiloxCounter out = Philox4x32(ctr, key);
  const uint64_t bits = (static_cast<uint64_t>(out[1]) << 32 | out[0]) >> 11;
  return static_cast<double>(bits) * 0x1.0p-53;
}

}  // namespace ribbon
