#include "core/memory/probe_search.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "core/common/status_macros.h"

namespace ribbon::memory {
namespace {

absl::Status Validate(const ProbeOptions& o) {
  if (o.align <= 0 || o.start_rows <= 0 || o.start_rows % o.align != 0 || o.max_rows < o.align) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "probe: start_rows %d must be a positive multiple of align %d, max_rows %d at least align",
        o.start_rows, o.align, o.max_rows));
  }
  if (o.tolerance_rows < o.align)
    return absl::InvalidArgumentError("probe: tolerance_rows must be >= align");
  if (o.safety_margin < 0 || o.safety_margin >= 1)
    return absl::InvalidArgumentError("probe: safety_margin must be in [0, 1)");
  if (o.memory_fraction <= 0 || o.memory_fraction > 1)
    return absl::InvalidArgumentError("probe: memory_fraction must be in (0, 1]");
  if (o.kv_bytes_per_block <= 0)
    return absl::InvalidArgumentError("probe: kv_bytes_per_block must be positive");
  return absl::OkStatus();
}

// rows * (1 - margin), rounded down to the alignment; the epsilon keeps 4000 * 0.9 at 3600.
int32_t ShrinkRows(int32_t rows, double margin, int32_t align) {
  return AlignRowsDown(static_cast<int64_t>(rows * (1.0 - margin) + 1e-9), align);
}

// Largest size known to run (lo) and smallest known to run out (hi; 0 = none yet).
struct Bracket {
  int32_t lo = 0;
  int32_t hi = 0;
};

class Search {
 public:
  Search(ProbeDevice& device, const ProbeOptions& options, ProbeResult& result)
      : device_(device),
        o_(options),
        result_(result),
        cap_(AlignRowsDown(options.max_rows, options.align)) {}

  // One pass on a clean allocator; true when it ran, false when it ran out of memory.
  absl::StatusOr<bool> Trial(int32_t rows) {
    device_.ReleaseCachedMemory();
    device_.ResetPeakStats();
    const absl::Status status = device_.TryRibbon(rows);
    if (!status.ok() && !absl::IsResourceExhausted(status)) return status;
    result_.trials.push_back({rows, status.ok()});
    return status.ok();
  }

  // Doubles from the start size until a trial runs out of memory or the cap has run.
  absl::StatusOr<Bracket> Grow() {
    Bracket b;
    for (int32_t rows = std::min(o_.start_rows, cap_);;
         rows = std::min<int64_t>(int64_t{2} * rows, cap_)) {
      ASSIGN_OR_RETURN(const bool fit, Trial(rows));
      if (!fit) {
        b.hi = rows;
        return b;
      }
      b.lo = rows;
      if (rows == cap_) return b;
    }
  }

  // Bisects [lo, hi) down to the tolerance; below the start size it keeps going until a size
  // runs or `align` rows have run out.
  absl::StatusOr<Bracket> Narrow(Bracket b) {
    while (b.hi > 0 && b.hi - b.lo > o_.align && (b.hi - b.lo > o_.tolerance_rows || b.lo == 0)) {
      const int32_t mid =
          std::max(b.lo + o_.align, AlignRowsDown(b.lo + (b.hi - b.lo) / 2, o_.align));
      ASSIGN_OR_RETURN(const bool fit, Trial(mid));
      (fit ? b.lo : b.hi) = mid;
    }
    return b;
  }

  // Runs the chosen size once more on a clean allocator (its peak is the activation figure),
  // shrinking by the margin if fragmentation makes it run out after all.
  absl::StatusOr<int32_t> Confirm(int32_t rows) {
    const bool last_trial_was_it =
        !result_.trials.empty() && result_.trials.back().rows == rows && result_.trials.back().fit;
    if (last_trial_was_it) return rows;
    for (int32_t attempt = 0; attempt <= o_.max_shrinks && rows >= o_.align; ++attempt) {
      ASSIGN_OR_RETURN(const bool fit, Trial(rows));
      if (fit) return rows;
      rows = ShrinkRows(rows, o_.safety_margin, o_.align);
    }
    return absl::ResourceExhaustedError(
        "probe: the chosen ribbon kept running out of memory after shrinking");
  }

  int32_t cap() const { return cap_; }

 private:
  ProbeDevice& device_;
  const ProbeOptions& o_;
  ProbeResult& result_;
  const int32_t cap_;
};

absl::Status SizeKvCache(ProbeDevice& device, const ProbeOptions& o, ProbeResult& r) {
  r.activation_bytes = device.PeakActivationBytes();
  device.ReleaseCachedMemory();
  r.total_bytes = device.TotalBytes();
  r.used_bytes = r.total_bytes - device.FreeBytes();
  r.usable_bytes = static_cast<int64_t>(static_cast<double>(r.total_bytes) * o.memory_fraction);
  const int64_t remaining = r.usable_bytes - r.used_bytes - r.activation_bytes;
  r.kv_blocks =
      static_cast<int32_t>(std::clamp<int64_t>(remaining / o.kv_bytes_per_block, 0, INT32_MAX));
  r.kv_bytes = r.kv_blocks * o.kv_bytes_per_block;
  if (r.kv_blocks < o.min_kv_blocks) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("probe: %d of %d usable bytes are in use and a ribbon of %d rows needs %d "
                        "more; %d bytes are "
                        "left for the KV cache, which needs at least %d blocks of %d bytes. Lower "
                        "the ribbon cap or "
                        "raise the memory fraction",
                        r.used_bytes, r.usable_bytes, r.max_ribbon_rows, r.activation_bytes,
                        std::max<int64_t>(remaining, 0), o.min_kv_blocks, o.kv_bytes_per_block));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ProbeResult> ProbeMaxRibbon(ProbeDevice& device, const ProbeOptions& options) {
  RETURN_IF_ERROR(Validate(options));
  ProbeResult result;
  Search search(device, options, result);
  ASSIGN_OR_RETURN(Bracket bracket, search.Grow());
  ASSIGN_OR_RETURN(bracket, search.Narrow(bracket));
  if (bracket.lo == 0) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("probe: even a ribbon of %d rows runs out of memory", bracket.hi));
  }
  result.largest_fit_rows = bracket.lo;
  result.smallest_oom_rows = bracket.hi;
  int32_t chosen = bracket.lo;
  if (bracket.hi > 0) {
    chosen = std::max(options.align, ShrinkRows(bracket.lo, options.safety_margin, options.align));
  }
  ASSIGN_OR_RETURN(result.max_ribbon_rows, search.Confirm(chosen));
  RETURN_IF_ERROR(SizeKvCache(device, options, result));
  return result;
}

}  // namespace ribbon::memory
