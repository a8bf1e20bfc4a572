// The step budget: the knee policy on hand-made curves, and the sweep over a fake runner whose
// steps take a known time per size (a fixed cost plus a per-row cost that quadruples past 256
// rows), so the best size, the early stop and the error paths are all predictable.
#include "core/memory/step_budget.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>
#include <vector>

#include "tests/fakes/fake_runner.h"

namespace ribbon::memory {
namespace {

std::vector<StepTiming> Curve(const std::vector<std::pair<int32_t, double>>& tokens_per_second) {
  std::vector<StepTiming> curve;
  for (const auto& [tokens, rate] : tokens_per_second) curve.push_back({tokens, tokens / rate});
  return curve;
}

TEST_CASE("the knee is the smallest size within the tolerance of the best", "[memory][budget]") {
  const auto curve = Curve({{64, 1000}, {128, 1900}, {256, 2000}, {512, 2050}, {1024, 1980}});
  CHECK(ChooseStepBudget(curve, 0.05) == 256);
  CHECK(ChooseStepBudget(curve, 0.0) == 512);
  CHECK(ChooseStepBudget(curve, 0.5) == 128);  // 1000 is under half of 2050
  CHECK(ChooseStepBudget(curve, 0.6) == 64);
  const auto unordered = Curve({{1024, 1980}, {256, 2000}, {64, 1000}, {512, 2050}});
  CHECK(ChooseStepBudget(unordered, 0.05) == 256);
  CHECK(ChooseStepBudget({}, 0.05) == 0);
}

// Milliseconds a step of `rows` rows takes on the simulated device.
double StepMs(int32_t rows) {
  const double below = 4.0 + 0.02 * std::min(rows, 256);
  return below + (rows > 256 ? 0.08 * (rows - 256) : 0.0);
}

struct Device {
  explicit Device(std::function<bool(const StepPlan&)> also = {}) : memory(int64_t{1} << 34) {
    testing::FakeRunnerOptions o;
    o.max_position = 4096;
    o.fail_step = [also](const StepPlan& plan) {
      std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(StepMs(plan.num_rows)));
      return also && also(plan);
    };
    runner = std::make_unique<testing::FakeRunner>(o, memory);
  }
  testing::FakeDeviceMemory memory;
  std::unique_ptr<testing::FakeRunner> runner;
};

TEST_CASE("the sweep times doubling sizes, stops once flat, and picks the fastest per token",
          "[memory][budget]") {
  Device device;
  const int64_t weights = device.memory.allocated();
  StepBudgetOptions o;
  o.min_tokens = 64;
  o.max_tokens = 4096;
  o.prompt_tokens = 256;
  o.repeats = 2;
  auto report = MeasureStepBudget(*device.runner, o);
  REQUIRE(report.ok());
  std::vector<int32_t> sizes;
  for (const StepTiming& t : report->curve) sizes.push_back(t.tokens);
  // 512 and 1024 are both slower per token than 256: two flat doublings end the sweep.
  CHECK(sizes == std::vector<int32_t>{64, 128, 256, 512, 1024});
  CHECK(report->chosen_tokens == 256);
  CHECK(report->best_tokens_per_second == Approx(256 / (StepMs(256) / 1000)).epsilon(0.25));
  CHECK(device.memory.allocated() == weights);  // the KV cache is released
  CHECK_THAT(FormatStepBudget(*report, o.tolerance), Catch::Contains("chosen 256"));
}

TEST_CASE("the largest size is the memory limit, aligned, and is always timed",
          "[memory][budget]") {
  Device device;
  StepBudgetOptions o;
  o.min_tokens = 50;
  o.max_tokens = 200;
  o.align = 16;
  // The fastest of 3: a sleep only ever overshoots, and one 192-row step slept 20 % long under a
  // loaded make test, which made 128 look as fast per token (the knee then chose it).
  o.repeats = 3;
  auto report = MeasureStepBudget(*device.runner, o);
  REQUIRE(report.ok());
  std::vector<int32_t> sizes;
  for (const StepTiming& t : report->curve) sizes.push_back(t.tokens);
  CHECK(sizes == std::vector<int32_t>{64, 128, 192});
  CHECK(report->chosen_tokens == 192);  // still gaining per token up to the limit
}

TEST_CASE("runner errors and cancellation stop the sweep and leave no KV cache",
          "[memory][budget]") {
  Device failing([](const StepPlan& plan) { return plan.num_rows >= 256; });
  const int64_t weights = failing.memory.allocated();
  StepBudgetOptions o;
  o.repeats = 1;
  auto report = MeasureStepBudget(*failing.runner, o);
  REQUIRE_FALSE(report.ok());
  CHECK(report.status().code() == absl::StatusCode::kInternal);
  CHECK(failing.memory.allocated() == weights);

  Device device;
  o.cancelled = [] { return true; };
  CHECK(MeasureStepBudget(*device.runner, o).status().code() == absl::StatusCode::kCancelled);

  o.cancelled = {};
  o.max_tokens = 32;
  CHECK(MeasureStepBudget(*device.runner, o).status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ribbon::memory
