#include "bench/serving/workload.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ribbon::bench {
namespace {

absl::Status Bad(const std::string& field, const std::string& text, const std::string& why) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": '", text, "' ", why,
                   " (expected fixed:N, uniform:LO:HI or lognormal:MEDIAN:SIGMA[:LO:HI])"));
}

int Draw(const LengthSpec& spec, std::mt19937_64& rng) {
  double value = spec.a;
  if (spec.kind == LengthSpec::Kind::kUniform) {
    value =
        std::uniform_int_distribution<int>(static_cast<int>(spec.a), static_cast<int>(spec.b))(rng);
  } else if (spec.kind == LengthSpec::Kind::kLognormal) {
    value = std::round(std::lognormal_distribution<double>(std::log(spec.a), spec.b)(rng));
  }
  return std::clamp(static_cast<int>(value), spec.lo, spec.hi);
}

}  // namespace

absl::StatusOr<LengthSpec> ParseLengthSpec(const std::string& text, const std::string& field) {
  std::vector<std::string> parts = absl::StrSplit(text, ':');
  std::vector<double> nums;
  for (size_t i = 1; i < parts.size(); ++i) {
    double v = 0;
    if (!absl::SimpleAtod(parts[i], &v) || v < 0) return Bad(field, text, "has a bad number");
    nums.push_back(v);
  }
  LengthSpec spec;
  if (parts[0] == "fixed" && nums.size() == 1 && nums[0] >= 1) {
    spec.kind = LengthSpec::Kind::kFixed;
    spec.a = nums[0];
  } else if (parts[0] == "uniform" && nums.size() == 2 && nums[0] >= 1 && nums[1] >= nums[0]) {
    spec.kind = LengthSpec::Kind::kUniform;
    spec.a = nums[0];
    spec.b = nums[1];
  } else if (parts[0] == "lognormal" && (nums.size() == 2 || nums.size() == 4) && nums[0] >= 1) {
    spec.kind = LengthSpec::Kind::kLognormal;
    spec.a = nums[0];
    spec.b = nums[1];
    if (nums.size() == 4) {
      if (nums[2] < 1 || nums[3] < nums[2]) return Bad(field, text, "has LO < 1 or HI < LO");
      spec.lo = static_cast<int>(nums[2]);
      spec.hi = static_cast<int>(nums[3]);
    }
  } else {
    return Bad(field, text, "is not a length distribution");
  }
  return spec;
}

std::string DescribeLengthSpec(const LengthSpec& spec) {
  switch (spec.kind) {
    case LengthSpec::Kind::kFixed:
      return absl::StrCat("fixed:", spec.a);
    case LengthSpec::Kind::kUniform:
      return absl::StrCat("uniform:", spec.a, ":", spec.b);
    case LengthSpec::Kind::kLognormal:
      return absl::StrCat("lognormal:", spec.a, ":", spec.b, ":", spec.lo, ":", spec.hi);
  }
  return "?";
}

absl::StatusOr<std::vector<BenchRequest>> MakeWorkload(const WorkloadOptions& options) {
  if (options.num_requests < 0) return absl::InvalidArgumentError("num_requests: must be >= 0");
  if (options.vocab <= options.token_lo) {
    return absl::InvalidArgumentError(
        absl::StrCat("vocab: ", options.vocab, " leaves no token ids above ", options.token_lo));
  }
  if (options.burstiness <= 0) return absl::InvalidArgumentError("burstiness: must be > 0");
  std::mt19937_64 rng(options.seed);
  std::uniform_int_distribution<int32_t> token(options.token_lo, options.vocab - 1);
  // Gamma(shape k, scale 1/(k*rate)) has mean 1/rate; k = 1 is the exponential (Poisson).
  const double rate = options.rate > 0 ? options.rate : 1.0;
  std::gamma_distribution<double> gap(options.burstiness, 1.0 / (options.burstiness * rate));
  std::vector<BenchRequest> out(options.num_requests);
  double clock = 0;
  for (BenchRequest& r : out) {
    r.prompt.resize(Draw(options.input, rng));
    for (int32_t& id : r.prompt) id = token(rng);
    r.max_new_tokens = Draw(options.output, rng);
    if (options.rate > 0) clock += gap(rng);
    r.arrival_s = clock;
  }
  return out;
}

}  // namespace ribbon::bench
