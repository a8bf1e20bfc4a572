#include "core/sampling/philox.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <set>

using ribbon::Philox4x32;
using ribbon::PhiloxCounter;
using ribbon::PhiloxKey;
using ribbon::SamplingUniform;

// Known-answer vectors of Random123 (examples/kat_vectors), "philox4x32 10" lines:
// counter[4], key[2] -> output[4].
TEST_CASE("Philox4x32-10 matches the Random123 known-answer vectors", "[sampling][philox]") {
  struct Kat {
    PhiloxCounter counter;
    PhiloxKey key;
    PhiloxCounter expected;
  };
  const Kat kats[] = {
      {{0x00000000, 0x00000000, 0x00000000, 0x00000000},
       {0x00000000, 0x00000000},
       {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& kat : kats) CHECK(Philox4x32(kat.counter, kat.key) == kat.expected);
  static_assert(Philox4x32({0, 0, 0, 0}, {0, 0})[0] == 0x6627e8d5u, "usable at compile time");
}

TEST_CASE("the sampling uniform is built from the first two output words", "[sampling][philox]") {
  const uint64_t seed = 0x0123456789abcdefULL, index = 0xfedcba9876543210ULL;
  const PhiloxCounter out =
      Philox4x32({0x76543210u, 0xfedcba98u, 0u, 0u}, {0x89abcdefu, 0x01234567u});
  const uint64_t bits = (static_cast<uint64_t>(out[1]) << 32 | out[0]) >> 11;
  CHECK(SamplingUniform(seed, index) == static_cast<double>(bits) / 9007199254740992.0);
}

TEST_CASE("sampling uniforms lie in [0, 1) and differ across seeds and indices",
          "[sampling][philox]") {
  std::set<double> seen;
  double sum = 0.0;
  for (uint64_t seed = 0; seed < 4; ++seed) {
    for (uint64_t index = 0; index < 1000; ++index) {
      const double u = SamplingUniform(seed, index);
      REQUIRE(u >= 0.0);
      REQUIRE(u < 1.0);
      REQUIRE(u == SamplingUniform(seed, index));
      seen.insert(u);
      sum += u;
    }
  }
  CHECK(seen.size() == 4000);
  CHECK(sum / 4000.0 == Approx(0.5).margin(0.02));  // 4.5 standard errors
}
