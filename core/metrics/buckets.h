// Generators of histogram bucket upper bounds. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <vector>

namespace ribbon::metrics {

// 1, 2, 5, 10, 20, 50, ... up to and including `max_value` (vLLM's build_1_2_5_buckets, used
// for per-request token counts).
std::vector<double> OneTwoFiveBuckets(int64_t max_value);

// start, start*factor, start*factor^2, ... (`count` bounds). start > 0, factor > 1.
std::vector<double> ExponentialBuckets(double start, double factor, int32_t count);

}  // namespace ribbon::metrics
