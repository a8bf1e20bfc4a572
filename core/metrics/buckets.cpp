#include "core/metrics/buckets.h"

namespace ribbon::metrics {

std::vector<double> OneTwoFiveBuckets(int64_t max_value) {
  std::vector<double> bounds;
  for (int64_t decade = 1; decade <= max_value; decade *= 10) {
    for (int64_t mantissa : {1, 2, 5}) {
      if (mantissa * decade > max_value) return bounds;
      bounds.push_back(static_cast<double>(mantissa * decade));
    }
  }
  return bounds;
}

std::vector<double> ExponentialBuckets(double start, double factor, int32_t count) {
  std::vector<double> bounds;
  double bound = start;
  for (int32_t i = 0; i < count; ++i, bound *= factor) bounds.push_back(bound);
  return bounds;
}

}  // namespace ribbon::metrics
