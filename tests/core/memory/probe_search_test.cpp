// ProbeMaxRibbon against a fake device with an injected out-of-memory threshold: it finds the
// threshold within the tolerance, backs off by the margin, handles thresholds below the start
// size and above the cap, runs every trial on a clean allocator and sizes the KV cache from what
// remains under the memory fraction.
#include <catch2/catch.hpp>

#include <optional>
#include <vector>

#include "core/memory/probe_search.h"

namespace ribbon::memory {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;
constexpr int64_t kGiB = int64_t{1} << 30;

// A device that runs out of memory above `oom_above_rows`. Activations cost `bytes_per_row`
// and stay cached by the allocator until released, as a caching allocator's blocks do.
class FakeDevice final : public ProbeDevice {
 public:
  int32_t oom_above_rows = 0;
  int64_t total = 80 * kGiB;
  int64_t in_use = 16 * kGiB;  // weights and runtime
  int64_t bytes_per_row = kMiB;
  std::optional<int32_t> fail_internally_at;  // rows at which TryRibbon answers INTERNAL
  std::optional<int32_t> fragmented_once_at;  // rows that run out of memory the first time only

  std::vector<int32_t> tried;
  int dirty_trials = 0;  // trials not preceded by both a release and a peak reset

  absl::Status TryRibbon(int32_t rows) override {
    tried.push_back(rows);
    if (!released_ || !reset_) ++dirty_trials;
    released_ = reset_ = false;
    if (fail_internally_at == rows) return absl::InternalError("driver failure");
    if (fragmented_once_at == rows) {
      fragmented_once_at.reset();
      return absl::ResourceExhaustedError("fragmented");
    }
    if (rows > oom_above_rows) return absl::ResourceExhaustedError("CUDA out of memory");
    cached_ = peak_ = rows * bytes_per_row;
    return absl::OkStatus();
  }
  void ReleaseCachedMemory() override {
    cached_ = 0;
    released_ = true;
  }
  void ResetPeakStats() override {
    peak_ = 0;
    reset_ = true;
  }
  int64_t PeakActivationBytes() override { return peak_; }
  int64_t FreeBytes() override { return total - in_use - cached_; }
  int64_t TotalBytes() override { return total; }

 private:
  int64_t cached_ = 0;
  int64_t peak_ = 0;
  bool released_ = false;
  bool reset_ = false;
};

ProbeOptions Options() {
  ProbeOptions o;
  o.start_rows = 256;
  o.max_rows = 16384;
  o.align = 16;
  o.tolerance_rows = 64;
  o.safety_margin = 0.10;
  o.memory_fraction = 0.90;
  o.kv_bytes_per_block = 2 * kMiB;
  o.min_kv_blocks = 1;
  return o;
}

void RequireWellFormedTrials(const FakeDevice& device, const ProbeOptions& o) {
  CHECK(device.dirty_trials == 0);
  for (const int32_t rows : device.tried) {
    CHECK(rows % o.align == 0);
    CHECK(rows >= o.align);
    CHECK(rows <= o.max_rows);
  }
}

TEST_CASE("the search brackets the threshold within the tolerance and backs off by the margin") {
  const int32_t threshold = GENERATE(300, 1000, 3000, 4096, 5555, 12345);
  const int32_t tolerance = GENERATE(16, 64, 256);
  FakeDevice device;
  device.oom_above_rows = threshold;
  ProbeOptions o = Options();
  o.tolerance_rows = tolerance;
  const auto result = ProbeMaxRibbon(device, o);
  REQUIRE(result.ok());
  INFO("threshold " << threshold << " tolerance " << tolerance);
  CHECK(result->largest_fit_rows <= threshold);
  CHECK(result->smallest_oom_rows > threshold);
  CHECK(result->smallest_oom_rows - result->largest_fit_rows <= tolerance);
  CHECK(threshold - result->largest_fit_rows < tolerance);
  const double backed_off = result->largest_fit_rows * 0.9;
  CHECK(result->max_ribbon_rows <= backed_off);
  CHECK(result->max_ribbon_rows > backed_off - o.align);
  CHECK(result->max_ribbon_rows % o.align == 0);
  RequireWellFormedTrials(device, o);
  // Doubling first: 256, 512, ... up to the first size that ran out.
  int32_t expected = 256;
  for (size_t i = 0; i < device.tried.size() && expected <= threshold; ++i, expected *= 2) {
    CHECK(device.tried[i] == expected);
  }
}

TEST_CASE("a threshold below the start size is found by searching downwards") {
  FakeDevice device;
  ProbeOptions o = Options();

  SECTION("40 rows fit") {
    device.oom_above_rows = 40;
    const auto result = ProbeMaxRibbon(device, o);
    REQUIRE(result.ok());
    CHECK(result->largest_fit_rows == 32);
    CHECK(result->smallest_oom_rows == 64);
    // 32 * 0.9 rounds down to 16: never below one alignment unit, which is known to run.
    CHECK(result->max_ribbon_rows == 16);
  }
  SECTION("exactly one alignment unit fits") {
    device.oom_above_rows = 16;
    const auto result = ProbeMaxRibbon(device, o);
    REQUIRE(result.ok());
    CHECK(result->largest_fit_rows == 16);
    CHECK(result->max_ribbon_rows == 16);
  }
  SECTION("nothing fits") {
    device.oom_above_rows = 10;
    const auto result = ProbeMaxRibbon(device, o);
    CHECK(absl::IsResourceExhausted(result.status()));
    CHECK(device.tried.back() == 16);
  }
  RequireWellFormedTrials(device, o);
}

TEST_CASE("a threshold above the cap gives the cap, without backing off") {
  FakeDevice device;
  device.oom_above_rows = 1 << 20;
  ProbeOptions o = Options();
  o.max_rows = 4010;  // not a multiple of the alignment: the cap is 4000
  const auto result = ProbeMaxRibbon(device, o);
  REQUIRE(result.ok());
  CHECK(result->max_ribbon_rows == 4000);
  CHECK(result->smallest_oom_rows == 0);
  CHECK(device.tried == std::vector<int32_t>{256, 512, 1024, 2048, 4000});
  for (const ProbeTrial& t : result->trials) CHECK(t.fit);
  RequireWellFormedTrials(device, o);
}

TEST_CASE("the KV cache gets what remains under the memory fraction") {
  FakeDevice device;
  device.oom_above_rows = 1 << 20;
  ProbeOptions o = Options();  // cap 16384 rows at 1 MiB each: 16 GiB of activations
  const auto result = ProbeMaxRibbon(device, o);
  REQUIRE(result.ok());
  CHECK(result->activation_bytes == 16 * kGiB);
  CHECK(result->used_bytes == 16 * kGiB);
  CHECK(result->usable_bytes == 72 * kGiB);
  // 72 GiB usable - 16 GiB weights - 16 GiB activations = 40 GiB = 20480 blocks of 2 MiB.
  CHECK(result->kv_blocks == 20480);
  CHECK(result->kv_bytes == 40 * kGiB);

  SECTION("a smaller fraction leaves a smaller cache") {
    FakeDevice again;
    again.oom_above_rows = 1 << 20;
    o.memory_fraction = 0.5;  // 40 GiB usable: 8 GiB for KV
    const auto half = ProbeMaxRibbon(again, o);
    REQUIRE(half.ok());
    CHECK(half->kv_blocks == 4096);
  }
}

TEST_CASE("too little memory left for the KV cache is an error naming the figures") {
  FakeDevice device;
  device.oom_above_rows = 1 << 20;
  device.total = 20 * kGiB;  // 18 GiB usable, 16 GiB weights, 16 GiB activations
  const auto result = ProbeMaxRibbon(device, Options());
  REQUIRE(absl::IsResourceExhausted(result.status()));
  CHECK_THAT(std::string(result.status().message()), Catch::Contains("KV cache"));
}

TEST_CASE("a chosen size that runs out after all (fragmentation) is shrunk by the margin again") {
  FakeDevice device;
  device.oom_above_rows = 3000;
  ProbeOptions o = Options();
  const auto first = ProbeMaxRibbon(device, o);
  REQUIRE(first.ok());
  FakeDevice fragmented;
  fragmented.oom_above_rows = 3000;
  fragmented.fragmented_once_at = first->max_ribbon_rows;
  const auto result = ProbeMaxRibbon(fragmented, o);
  REQUIRE(result.ok());
  CHECK(result->max_ribbon_rows < first->max_ribbon_rows);
  CHECK(result->max_ribbon_rows <= first->max_ribbon_rows * 0.9);
  CHECK(result->trials.back().fit);
}

TEST_CASE("device errors other than out-of-memory abort the probe") {
  FakeDevice device;
  device.oom_above_rows = 5000;
  device.fail_internally_at = 1024;
  const auto result = ProbeMaxRibbon(device, Options());
  CHECK(absl::IsInternal(result.status()));
  CHECK(device.tried.back() == 1024);
}

TEST_CASE("inconsistent options are rejected before any pass") {
  FakeDevice device;
  device.oom_above_rows = 5000;
  ProbeOptions o = Options();
  SECTION("start not a multiple of the alignment") { o.start_rows = 100; }
  SECTION("margin of 100%") { o.safety_margin = 1.0; }
  SECTION("tolerance below the alignment") { o.tolerance_rows = 8; }
  SECTION("no KV block size") { o.kv_bytes_per_block = 0; }
  CHECK(absl::IsInvalidArgument(ProbeMaxRibbon(device, o).status()));
  CHECK(device.tried.empty());
}

}  // namespace
}  // namespace ribbon::memory
