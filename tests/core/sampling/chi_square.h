// Pearson's chi-square goodness-of-fit test for the sampler's distribution tests. Test helper;
// header-only; any thread.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace ribbon::testing {

// Regularised upper incomplete gamma function Q(a, x) = Gamma(a, x) / Gamma(a), by its power
// series when x < a + 1 and by its continued fraction (modified Lentz) otherwise.
inline double UpperRegularisedGamma(double a, double x) {
  if (x <= 0.0) return 1.0;
  const double log_prefactor = a * std::log(x) - x - std::lgamma(a);
  if (x < a + 1.0) {
    double term = 1.0 / a, sum = term;
    for (int n = 1; n < 10000 && std::abs(term) > std::abs(sum) * 1e-16; ++n) {
      term *= x / (a + n);
      sum += term;
    }
    return 1.0 - sum * std::exp(log_prefactor);
  }
  constexpr double kTiny = 1e-300;
  double b = x + 1.0 - a, c = 1.0 / kTiny, d = 1.0 / b, fraction = d;
  for (int n = 1; n < 10000; ++n) {
    const double an = -n * (n - a);
    b += 2.0;
    d = an * d + b;
    if (std::abs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double step = d * c;
    fraction *= step;
    if (std::abs(step - 1.0) < 1e-16) break;
  }
  return std::exp(log_prefactor) * fraction;
}

// Probability that a chi-square variable with `degrees` degrees of freedom exceeds `statistic`.
inline double ChiSquarePValue(double statistic, int degrees) {
  return UpperRegularisedGamma(degrees / 2.0, statistic / 2.0);
}

struct ChiSquareResult {
  double statistic = 0.0;
  int degrees = 0;
  double p_value = 1.0;
  int64_t draws_outside_support = 0;  // draws of a token whose expected probability is 0
};

// Compares `counts` (draws per token) with `probabilities` (per token, summing to 1). Tokens
// expected fewer than 5 times are pooled into one bin, the usual validity condition.
inline ChiSquareResult ChiSquareTest(const std::vector<int64_t>& counts,
                                     const std::vector<double>& probabilities) {
  int64_t total = 0;
  for (int64_t count : counts) total += count;
  ChiSquareResult result;
  double pooled_expected = 0.0, pooled_observed = 0.0;
  int bins = 0;
  for (size_t token = 0; token < counts.size(); ++token) {
    const double expected = probabilities[token] * static_cast<double>(total);
    if (probabilities[token] == 0.0) {
      result.draws_outside_support += counts[token];
    } else if (expected < 5.0) {
      pooled_expected += expected;
      pooled_observed += static_cast<double>(counts[token]);
    } else {
      const double diff = static_cast<double>(counts[token]) - expected;
      result.statistic += diff * diff / expected;
      ++bins;
    }
  }
  if (pooled_expected > 0.0) {
    const double diff = pooled_observed - pooled_expected;
    result.statistic += diff * diff / pooled_expected;
    ++bins;
  }
  result.degrees = bins - 1;
  result.p_value = result.degrees > 0 ? ChiSquarePValue(result.statistic, result.degrees) : 1.0;
  return result;
}

}  // namespace ribbon::testing
