// ProbeCpuCapacity against a fake host whose passes cost a known number of bytes: it recovers
// the per-row cost, never lets the process's resident memory pass the budget, verifies the
// prediction at the answer and gives the rest of the budget to the KV cache.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/memory/cpu_probe.h"

namespace ribbon::memory {
namespace {

constexpr int64_t kKiB = 1024;
constexpr int64_t kMiB = kKiB * 1024;
constexpr int64_t kGiB = kMiB * 1024;

// A process whose passes take fixed + per_row * rows + quadratic * rows^2 activation bytes (and
// jump by `jump_bytes` above `jump_above_rows`), on top of its baseline and the pass's KV cache.
class FakeHost final : public CpuProbeTarget {
 public:
  int64_t baseline = 2 * kGiB;
  int64_t fixed = 50 * kMiB;
  int64_t per_row = 300 * kKiB;
  double quadratic = 0;
  int32_t jump_above_rows = INT32_MAX;
  int64_t jump_bytes = 0;
  // Above this many rows a pass takes only `reuse_share` of the cost (an allocator reusing
  // buffers the smaller passes left behind): the fit then over-predicts.
  int32_t reuse_above_rows = INT32_MAX;
  double reuse_share = 1.0;
  ProbePlanOptions plan{.context_tokens = 4096, .block_size = 16, .max_sample_rows = 256};
  int64_t kv_bytes_per_block = 2 * kMiB;

  std::vector<int32_t> rows_run;
  int64_t highest_resident = 0;

  int64_t Activations(int32_t rows) const {
    const int64_t cost = fixed + per_row * rows + static_cast<int64_t>(quadratic * rows * rows) +
                         (rows > jump_above_rows ? jump_bytes : 0);
    return rows > reuse_above_rows ? static_cast<int64_t>(cost * reuse_share) : cost;
  }
  int64_t Kv(int32_t rows) const { return ProbeKvBlocks(rows, plan) * kv_bytes_per_block; }

  absl::StatusOr<int64_t> MeasurePass(int32_t rows) override {
    rows_run.push_back(rows);
    highest_resident = std::max(highest_resident, baseline + Kv(rows) + Activations(rows));
    return Activations(rows);
  }
};

CpuProbeOptions OptionsFor(const FakeHost& host, int64_t budget) {
  CpuProbeOptions o;
  o.budget_bytes = budget;
  o.baseline_bytes = host.baseline;
  o.max_rows = 65536;
  o.plan = host.plan;
  o.kv_bytes_per_block = host.kv_bytes_per_block;
  return o;
}

// The pass at the answer took no more than predicted plus the tolerance (less is safe: the
// reservation is the larger of the two).
bool Verified(const CpuProbeResult& r, const CpuProbeOptions& o) {
  const double miss =
      static_cast<double>(r.measured_activation_bytes - r.predicted_activation_bytes);
  return miss <= std::max(o.verify_tolerance * r.predicted_activation_bytes,
                          static_cast<double>(o.resolution_bytes));
}

// The pieces the plan adds up fit the usable share of the budget, and nothing ran past it.
void RequireWithinBudget(const FakeHost& host, const CpuProbeResult& r, const CpuProbeOptions& o) {
  CHECK(host.highest_resident <= r.usable_bytes);
  CHECK(r.usable_bytes <= o.budget_bytes);
  CHECK(o.baseline_bytes + r.reserved_activation_bytes + r.kv_bytes <= r.usable_bytes);
  CHECK(r.planned_peak_bytes == o.baseline_bytes + r.reserved_activation_bytes + r.kv_bytes);
  CHECK(r.kv_bytes == r.kv_blocks * o.kv_bytes_per_block);
  CHECK(r.kv_blocks >= ProbeKvBlocks(r.max_ribbon_rows, o.plan));
  CHECK(r.probe_peak_bytes == host.highest_resident);
}

TEST_CASE(
    "a linear cost is recovered from small passes and the answer fills the budget less the "
    "margin") {
  FakeHost host;
  const int64_t budget = GENERATE(6 * kGiB, 8 * kGiB, 12 * kGiB);
  const CpuProbeOptions o = OptionsFor(host, budget);
  const auto result = ProbeCpuCapacity(host, o);
  REQUIRE(result.ok());
  const CpuProbeResult& r = *result;
  INFO("budget " << budget << " answer " << r.max_ribbon_rows << " limit " << r.memory_limit_rows);
  CHECK(r.fit.bytes_per_row == Approx(host.per_row).epsilon(1e-6));
  CHECK(r.fit.fixed_bytes == Approx(host.fixed).epsilon(1e-6));
  CHECK(Verified(r, o));
  CHECK(r.measured_activation_bytes == host.Activations(r.max_ribbon_rows));
  RequireWithinBudget(host, r, o);
  // Memory bounds here, not the cap: the answer is the limit less the margin.
  REQUIRE(r.memory_limit_rows < o.max_rows);
  CHECK(r.max_ribbon_rows <= r.memory_limit_rows * 0.9);
  CHECK(r.max_ribbon_rows > r.memory_limit_rows * 0.9 - o.align);
  // The limit is tight: a ribbon one step past it, with the tolerance, would not fit.
  const int32_t past = r.memory_limit_rows + o.align;
  CHECK(host.Activations(past) * (1 + o.verify_tolerance) + host.Kv(past) >
        r.usable_bytes - o.baseline_bytes);
  // Small passes, then a climb doubling from them; the last pass is the answer.
  REQUIRE(host.rows_run.size() >= 4);
  CHECK(host.rows_run.back() == r.max_ribbon_rows);
  for (size_t i = 2; i + 1 < host.rows_run.size(); ++i)
    CHECK(host.rows_run[i] == 2 * host.rows_run[i - 1]);
  CHECK(host.rows_run[host.rows_run.size() - 2] * 2 >= r.max_ribbon_rows);
  CHECK(r.passes.size() == host.rows_run.size() - 2);  // less the warm-up and the verification
}

TEST_CASE("with room to spare the cap is the answer and the KV cache gets the rest") {
  FakeHost host;
  CpuProbeOptions o = OptionsFor(host, 64 * kGiB);
  o.max_rows = 8192;
  const auto result = ProbeCpuCapacity(host, o);
  REQUIRE(result.ok());
  CHECK(result->max_ribbon_rows == 8192);
  CHECK(result->memory_limit_rows > 8192);
  CHECK(Verified(*result, o));
  RequireWithinBudget(host, *result, o);
  // The KV cache takes all but one block's worth of what the ribbon leaves.
  const int64_t left = result->usable_bytes - o.baseline_bytes - result->reserved_activation_bytes;
  CHECK(left - result->kv_bytes < o.kv_bytes_per_block);
  CHECK(left - result->kv_bytes >= 0);
}

TEST_CASE("a budget that cannot hold the baseline and one context runs no pass") {
  FakeHost host;
  const auto result = ProbeCpuCapacity(host, OptionsFor(host, host.baseline + host.Kv(16)));
  CHECK(absl::IsResourceExhausted(result.status()));
  CHECK(host.rows_run.empty());
}

TEST_CASE(
    "a budget that holds only tiny ribbons gives a tiny answer or a clear error, never a kill") {
  FakeHost host;
  const int64_t spare = GENERATE(100 * kMiB, 150 * kMiB, 300 * kMiB);
  const CpuProbeOptions o =
      OptionsFor(host, static_cast<int64_t>((host.baseline + host.Kv(16) + spare) / 0.9));
  const auto result = ProbeCpuCapacity(host, o);
  INFO("spare " << spare << ": " << result.status());
  CHECK(host.highest_resident <= static_cast<int64_t>(o.budget_bytes * o.memory_fraction));
  if (result.ok()) {
    CHECK(Verified(*result, o));
    RequireWithinBudget(host, *result, o);
  } else {
    CHECK(absl::IsResourceExhausted(result.status()));
  }
}

TEST_CASE(
    "a cost that grows faster than linear is followed by the climb's refits and stays within "
    "budget") {
  FakeHost linear;
  const auto straight = ProbeCpuCapacity(linear, OptionsFor(linear, 16 * kGiB));
  REQUIRE(straight.ok());
  FakeHost host;
  host.quadratic = 8.0;  // bytes per row^2: 10% of the linear cost at about 3800 rows
  const CpuProbeOptions o = OptionsFor(host, 16 * kGiB);
  const auto result = ProbeCpuCapacity(host, o);
  REQUIRE(result.ok());
  CHECK(Verified(*result, o));
  RequireWithinBudget(host, *result, o);
  // The fit the answer rests on has learned the steeper cost at large sizes.
  CHECK(result->fit.bytes_per_row > 1.2 * host.per_row);
  CHECK(result->max_ribbon_rows < 0.8 * straight->max_ribbon_rows);
}

TEST_CASE(
    "a cost far from linear settles on the largest pass measured, says why, and never breaks "
    "the budget") {
  FakeHost host;
  host.quadratic = 50.0;
  const CpuProbeOptions o = OptionsFor(host, 16 * kGiB);
  const auto result = ProbeCpuCapacity(host, o);
  REQUIRE(result.ok());
  CHECK_FALSE(result->fallback.empty());
  CHECK(result->fallback.find("did not follow the fit") != std::string::npos);
  int32_t largest = 0;
  for (const CpuProbePass& pass : result->passes) largest = std::max(largest, pass.rows);
  CHECK(result->max_ribbon_rows == largest);
  CHECK(result->measured_activation_bytes == host.Activations(largest));
  CHECK(result->reserved_activation_bytes > host.Activations(largest));  // the tolerance on top
  RequireWithinBudget(host, *result, o);
}

TEST_CASE("a pass that takes less than predicted is safe and does not fail the probe") {
  // The llama-100m shape at 512 rows took 23.6% less than the fit predicted (the allocator
  // reused earlier passes' buffers); the probe used to refuse the model for it.
  FakeHost host;
  host.reuse_above_rows = 256;
  host.reuse_share = 0.7;
  const CpuProbeOptions o = OptionsFor(host, 16 * kGiB);
  const auto result = ProbeCpuCapacity(host, o);
  REQUIRE(result.ok());
  CHECK(result->fallback.empty());
  CHECK(result->max_ribbon_rows > 256);
  CHECK(result->reserved_activation_bytes >= result->measured_activation_bytes);
  RequireWithinBudget(host, *result, o);
}

TEST_CASE("a cost that jumps past the measured sizes is met on the climb, not at the answer") {
  FakeHost host;
  host.jump_above_rows = 4096;
  host.jump_bytes = 3 * kGiB;
  const CpuProbeOptions o = OptionsFor(host, 16 * kGiB);
  const auto result = ProbeCpuCapacity(host, o);
  REQUIRE(result.ok());
  CHECK(Verified(*result, o));
  RequireWithinBudget(host, *result, o);
  CHECK(result->measured_activation_bytes == host.Activations(result->max_ribbon_rows));
  CHECK(result->max_ribbon_rows > host.jump_above_rows);
}

TEST_CASE("errors from the target stop the probe") {
  class Failing final : public CpuProbeTarget {
   public:
    absl::StatusOr<int64_t> MeasurePass(int32_t rows) override {
      return absl::InternalError("forward failed");
    }
  } failing;
  FakeHost host;
  CHECK(absl::IsInternal(ProbeCpuCapacity(failing, OptionsFor(host, 8 * kGiB)).status()));
}

}  // namespace
}  // namespace ribbon::memory
