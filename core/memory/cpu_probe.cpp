#include "core/memory/cpu_probe.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "absl/strings/str_format.h"
#include "core/common/status_macros.h"
#include "core/memory/probe_search.h"

namespace ribbon::memory {
namespace {

// The fit uses the most recent passes: the largest, where noise weighs least.
constexpr size_t kFitPoints = 3;
// The answer is searched up to here so the report can say how far past the cap memory reaches.
constexpr int32_t kLimitSearchRows = 1 << 22;

absl::Status Validate(const CpuProbeOptions& o) {
  if (o.align <= 0 || o.start_rows <= 0 || o.start_rows % o.align != 0 || o.max_rows < o.align) {
    return absl::InvalidArgumentError(
        absl::StrFormat("cpu probe: start_rows %d must be a positive multiple of align %d, "
                        "max_rows %d at least align",
                        o.start_rows, o.align, o.max_rows));
  }
  if (o.budget_bytes <= 0 || o.baseline_bytes < 0)
    return absl::InvalidArgumentError("cpu probe: budget must be positive");
  if (o.memory_fraction <= 0 || o.memory_fraction > 1)
    return absl::InvalidArgumentError("cpu probe: memory_fraction must be in (0, 1]");
  if (o.safety_margin < 0 || o.safety_margin >= 1)
    return absl::InvalidArgumentError("cpu probe: safety_margin must be in [0, 1)");
  if (o.verify_tolerance <= 0)
    return absl::InvalidArgumentError("cpu probe: verify_tolerance must be positive");
  if (o.kv_bytes_per_block <= 0 || o.plan.context_tokens <= 0 || o.plan.block_size <= 0) {
    return absl::InvalidArgumentError(
        "cpu probe: KV block bytes, block size and context must be positive");
  }
  return absl::OkStatus();
}

// Least squares over the last kFitPoints passes. One pass: a line through the origin, which
// overestimates larger sizes when the true intercept is positive.
ActivationFit FitPasses(const std::vector<CpuProbePass>& passes) {
  const size_t first = passes.size() > kFitPoints ? passes.size() - kFitPoints : 0;
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0, max_y = 0;
  for (size_t i = first; i < passes.size(); ++i) {
    const double x = passes[i].rows, y = static_cast<double>(passes[i].activation_bytes);
    n += 1, sx += x, sy += y, sxx += x * x, sxy += x * y, max_y = std::max(max_y, y);
  }
  const double denominator = n * sxx - sx * sx;
  if (n < 2 || denominator <= 0) return {0, sy / std::max(sx, 1.0)};
  ActivationFit fit;
  fit.bytes_per_row = (n * sxy - sx * sy) / denominator;
  fit.fixed_bytes = (sy - fit.bytes_per_row * sx) / n;
  // Noise can tilt a nearly flat fit downwards; a flat one at the largest figure is safer.
  if (fit.bytes_per_row < 0) fit = {max_y, 0};
  return fit;
}

class CpuProbe {
 public:
  CpuProbe(CpuProbeTarget& target, const CpuProbeOptions& options, CpuProbeResult& result)
      : target_(target),
        o_(options),
        r_(result),
        cap_(AlignRowsDown(options.max_rows, options.align)) {
    r_.usable_bytes =
        static_cast<int64_t>(static_cast<double>(o_.budget_bytes) * o_.memory_fraction);
    available_ = r_.usable_bytes - o_.baseline_bytes;
  }

  int64_t KvBytes(int32_t rows) const {
    return ProbeKvBlocks(rows, o_.plan) * o_.kv_bytes_per_block;
  }
  // Activations a pass predicted at `predicted` bytes may really take: the tolerance the
  // verification allows, or the noise floor when that is larger.
  int64_t WithTolerance(int64_t predicted) const {
    return predicted + std::max(static_cast<int64_t>(std::abs(static_cast<double>(predicted)) *
                                                     o_.verify_tolerance),
                                o_.resolution_bytes);
  }
  bool Affordable(int32_t rows, int64_t predicted, double share = 1.0) const {
    return WithTolerance(predicted) + KvBytes(rows) <=
           static_cast<int64_t>(static_cast<double>(available_) * share);
  }

  absl::StatusOr<int64_t> Pass(int32_t rows) {
    ASSIGN_OR_RETURN(const int64_t bytes, target_.MeasurePass(rows));
    r_.probe_peak_bytes = std::max(r_.probe_peak_bytes, o_.baseline_bytes + KvBytes(rows) + bytes);
    return bytes;
  }

  absl::Status MeasureSmallPasses();
  absl::Status ChooseAndVerify();
  absl::Status SizeKvCache();

 private:
  int32_t LargestAffordable(const ActivationFit& fit) const;
  void Choose();
  void SettleConservatively(std::string reason);

  CpuProbeTarget& target_;
  const CpuProbeOptions& o_;
  CpuProbeResult& r_;
  const int32_t cap_;
  int64_t available_ = 0;  // usable bytes not held by the baseline
};

// A warm-up pass (one-time allocations: thread pools, BLAS buffers) and then passes at doubling
// sizes while they stay small.
absl::Status CpuProbe::MeasureSmallPasses() {
  int32_t rows = std::min(o_.start_rows, cap_);
  if (!Affordable(rows, 0, o_.small_pass_fraction)) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "cpu probe: budget %d bytes (%d usable) leaves %d beside the %d resident; a KV cache for "
        "one "
        "context alone needs %d",
        o_.budget_bytes, r_.usable_bytes, available_, o_.baseline_bytes, KvBytes(rows)));
  }
  RETURN_IF_ERROR(Pass(rows).status());
  for (;;) {
    ASSIGN_OR_RETURN(const int64_t bytes, Pass(rows));
    r_.passes.push_back({rows, bytes});
    if (r_.passes.size() >= 2 && bytes >= o_.min_signal_bytes) break;
    const int32_t next = 2 * rows;
    // An affine cost with a non-negative intercept at most doubles when the rows double.
    if (next > cap_ || !Affordable(next, 2 * bytes, o_.small_pass_fraction)) break;
    rows = next;
  }
  r_.fit = FitPasses(r_.passes);
  return absl::OkStatus();
}

// Prediction and KV cache grow with the rows, so affordability is monotone: bisect.
int32_t CpuProbe::LargestAffordable(const ActivationFit& fit) const {
  int32_t lo = 0, hi = kLimitSearchRows + o_.align;  // lo affordable (or 0), hi not
  while (hi - lo > o_.align) {
    const int32_t mid = std::max(lo + o_.align, AlignRowsDown(lo + (hi - lo) / 2, o_.align));
    (Affordable(mid, fit.Predict(mid)) ? lo : hi) = mid;
  }
  return lo;
}

void CpuProbe::Choose() {
  r_.memory_limit_rows = LargestAffordable(r_.fit);
  if (r_.memory_limit_rows >= cap_) {
    r_.max_ribbon_rows = cap_;
  } else {
    const int32_t shrunk = AlignRowsDown(
        static_cast<int64_t>(r_.memory_limit_rows * (1.0 - o_.safety_margin) + 1e-9), o_.align);
    r_.max_ribbon_rows = std::min(r_.memory_limit_rows, std::max(o_.align, shrunk));
  }
}

// Climbs from the small passes to the answer by doubling, checking the prediction at every rung
// and refitting with each: no pass extrapolates the fit more than twofold, so a cost that bends
// upwards shows before a pass large enough to break the budget. The last rung is the answer.
absl::Status CpuProbe::ChooseAndVerify() {
  int32_t misses = 0;
  for (;;) {
    Choose();
    if (r_.memory_limit_rows < o_.align) {
      return absl::ResourceExhaustedError(absl::StrFormat(
          "cpu probe: %d bytes available beside the %d resident cannot hold a ribbon of %d rows "
          "(predicted %d activation bytes) and its KV cache (%d bytes)",
          available_, o_.baseline_bytes, o_.align, r_.fit.Predict(o_.align), KvBytes(o_.align)));
    }
    int32_t largest = 0;
    for (const CpuProbePass& pass : r_.passes) largest = std::max(largest, pass.rows);
    const bool final_rung = r_.max_ribbon_rows <= 2 * largest;
    const int32_t rows =
        final_rung ? r_.max_ribbon_rows : AlignRowsDown(int64_t{2} * largest, o_.align);
    const int64_t predicted = r_.fit.Predict(rows);
    ASSIGN_OR_RETURN(const int64_t measured, Pass(rows));
    const int64_t miss = measured - predicted;
    const bool held = miss <= WithTolerance(predicted) - predicted;  // over-predicting is safe
    if (final_rung) {
      r_.predicted_activation_bytes = predicted;
      r_.measured_activation_bytes = measured;
      r_.prediction_error = static_cast<double>(miss) / std::max<double>(1.0, predicted);
      if (held) return absl::OkStatus();
    }
    if (!held && ++misses > o_.max_verify_attempts) {
      SettleConservatively(absl::StrFormat(
          "activation memory did not follow the fit: at %d rows a pass took %d bytes, predicted "
          "%d (%+.1f%%), after %d refits",
          rows, measured, predicted, 100.0 * miss / std::max<double>(1.0, predicted),
          o_.max_verify_attempts));
      return absl::OkStatus();
    }
    r_.passes.push_back({rows, measured});
    r_.fit = FitPasses(r_.passes);
  }
}

// The largest pass that ran is known to fit: it becomes the answer, with its measured
// activations plus the tolerance reserved.
void CpuProbe::SettleConservatively(std::string reason) {
  CpuProbePass largest;
  for (const CpuProbePass& pass : r_.passes) {
    if (pass.rows > largest.rows && pass.rows <= cap_) largest = pass;
  }
  r_.max_ribbon_rows = std::max(o_.align, AlignRowsDown(largest.rows, o_.align));
  r_.measured_activation_bytes = largest.activation_bytes;
  r_.predicted_activation_bytes = WithTolerance(largest.activation_bytes);
  r_.prediction_error = 0;
  r_.fallback = std::move(reason);
}

absl::Status CpuProbe::SizeKvCache() {
  r_.reserved_activation_bytes =
      std::max(r_.predicted_activation_bytes, r_.measured_activation_bytes);
  const int64_t kv_room = available_ - r_.reserved_activation_bytes;
  r_.kv_blocks =
      static_cast<int32_t>(std::clamp<int64_t>(kv_room / o_.kv_bytes_per_block, 0, INT32_MAX));
  r_.kv_bytes = r_.kv_blocks * o_.kv_bytes_per_block;
  r_.planned_peak_bytes = o_.baseline_bytes + r_.reserved_activation_bytes + r_.kv_bytes;
  const int32_t needed = ProbeKvBlocks(r_.max_ribbon_rows, o_.plan);
  if (r_.kv_blocks < needed) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("cpu probe: %d KV blocks fit beside a ribbon of %d rows; it needs %d",
                        r_.kv_blocks, r_.max_ribbon_rows, needed));
  }
  return absl::OkStatus();
}

}  // namespace

int64_t ActivationFit::Predict(int32_t rows) const {
  return static_cast<int64_t>(std::ceil(fixed_bytes + bytes_per_row * rows));
}

absl::StatusOr<CpuProbeResult> ProbeCpuCapacity(CpuProbeTarget& target,
                                                const CpuProbeOptions& options) {
  RETURN_IF_ERROR(Validate(options));
  CpuProbeResult result;
  CpuProbe probe(target, options, result);
  RETURN_IF_ERROR(probe.MeasureSmallPasses());
  RETURN_IF_ERROR(probe.ChooseAndVerify());
  RETURN_IF_ERROR(probe.SizeKvCache());
  return result;
}

}  // namespace ribbon::memory
