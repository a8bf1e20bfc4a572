// MeasureCapacity on the real stories260K CPU runner under a small configured budget: the report
// adds up within the budget, the prediction held within 10% at the answer, the process never
// went past the budget while probing, and a real step at the answer with the reported KV cache
// stays within it too.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>

#include "core/memory/capacity.h"
#include "core/memory/host_memory.h"
#include "core/memory/probe_plan.h"

namespace ribbon::memory {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;
#if defined(__SANITIZE_ADDRESS__)
constexpr int64_t kStepNoiseBytes = 8 * kMiB;
#else
constexpr int64_t kStepNoiseBytes = kMiB;
#endif

std::string Stories260k() {
  const char* env = std::getenv("RIBBON_SHARED_DATA");
  return std::string(env ? env : "../shared/data") + "/stories260k";
}

std::unique_ptr<ModelRunner> LoadStories() {
  // One thread: the probe measures memory, and a loaded CI machine makes thread handoffs slow.
  auto model = LoadModel({.path = Stories260k(), .num_threads = 1});
  REQUIRE(model.ok());
  return std::move(*model);
}

int64_t ResidentNow() {
  const auto memory = ReadProcessMemory();
  REQUIRE(memory.ok());
  return memory->resident_bytes;
}

int64_t PeakSinceReset() {
  const auto memory = ReadProcessMemory();
  REQUIRE(memory.ok());
  return memory->peak_resident_bytes;
}

void RequireConsistent(const CapacityReport& r, const ModelRunner& model, const MeasureOptions& o) {
  CHECK(r.max_ribbon_tokens > 0);
  CHECK(r.max_ribbon_tokens % o.align == 0);
  CHECK(r.max_ribbon_tokens <= o.max_ribbon_tokens);
  CHECK(r.weight_bytes == model.weight_bytes());
  CHECK(r.kv_bytes == r.kv_blocks * model.KvBytesPerBlock(o.block_size));
  CHECK(r.kv_bytes + r.activation_bytes + r.weight_bytes <= r.budget_bytes);
  CHECK(r.baseline_bytes + r.activation_bytes + r.kv_bytes <= r.usable_bytes);
  CHECK(r.usable_bytes <= r.budget_bytes);
  // The prediction held at the answer: within 10%, or within the 1 MiB noise floor.
  const double miss =
      std::abs(static_cast<double>(r.measured_activation_bytes - r.predicted_activation_bytes));
  CHECK(miss <= std::max(0.10 * r.predicted_activation_bytes, 1.0 * kMiB));
  CHECK(r.activation_bytes >= r.measured_activation_bytes);
  CHECK(r.activation_bytes_per_token > 0);
  // The cache holds at least the sequences of one full step.
  const ProbePlanOptions plan{
      .context_tokens = static_cast<int32_t>(model.config().max_position_embeddings),
      .block_size = o.block_size};
  CHECK(r.kv_blocks >= ProbeKvBlocks(r.max_ribbon_tokens, plan));
  CHECK(r.passes >= 4);
  CHECK(r.seconds > 0);
}

// Runs the worst-case step at the answer with the reported KV cache allocated.
void RunWorstStep(ModelRunner& model, const CapacityReport& r, const MeasureOptions& o) {
  REQUIRE(model.AllocateKvCache(r.kv_blocks, o.block_size).ok());
  BlockManager blocks({.num_blocks = r.kv_blocks, .block_size = o.block_size});
  const ProbePlanOptions plan_options{
      .context_tokens = static_cast<int32_t>(model.config().max_position_embeddings),
      .block_size = o.block_size,
      .max_sample_rows = o.max_sample_rows};
  StepPlan plan;
  REQUIRE(BuildProbePlan(r.max_ribbon_tokens, plan_options, blocks, plan).ok());
  StepOutput output;
  REQUIRE(model.Run(plan, output).ok());
  CHECK(output.sampled.size() == plan.sample_rows.size());
}

TEST_CASE("a budget 32 MiB above the resident process bounds the ribbon, and nothing passes it") {
  auto model = LoadStories();
  MeasureOptions o;
  o.max_ribbon_tokens = 32768;
  // 90% of the budget is usable: 32 MiB of it beside what is resident now.
  o.budget_bytes = static_cast<int64_t>((ResidentNow() + 32 * kMiB) / o.memory_fraction);
  REQUIRE(ResetPeakResident().ok());
  const auto report = MeasureCapacity(*model, o);
  REQUIRE(report.ok());
  const int64_t probe_peak = PeakSinceReset();
  INFO(FormatCapacityTable(*report));
  RequireConsistent(*report, *model, o);
  CHECK(report->budget_source == "configured");
  CHECK(report->memory_limit_tokens < o.max_ribbon_tokens);
  CHECK(report->max_ribbon_tokens <= report->memory_limit_tokens * 0.9);
  CHECK(probe_peak <= report->usable_bytes);

  REQUIRE(ResetPeakResident().ok());
  RunWorstStep(*model, *report, o);
  // The plan fills the usable share exactly; a real step may differ from it by the prediction's
  // noise floor (1 MiB; AddressSanitizer's redzones and quarantine add a few more), and must stay
  // under the hard budget.
  const int64_t step_peak = PeakSinceReset();
  CHECK(step_peak <= report->usable_bytes + kStepNoiseBytes);
  CHECK(step_peak <= report->budget_bytes);
}

TEST_CASE("a roomy budget leaves the cap as the answer and the rest to the KV cache") {
  auto model = LoadStories();
  MeasureOptions o;
  o.max_ribbon_tokens = 1024;
  o.budget_bytes = static_cast<int64_t>((ResidentNow() + 256 * kMiB) / o.memory_fraction);
  const auto report = MeasureCapacity(*model, o);
  REQUIRE(report.ok());
  INFO(FormatCapacityTable(*report));
  RequireConsistent(*report, *model, o);
  CHECK(report->max_ribbon_tokens == 1024);
  CHECK(report->memory_limit_tokens > 1024);
  // Almost all of the 256 MiB goes to the KV cache.
  CHECK(report->kv_bytes > 200 * kMiB);
}

TEST_CASE("a budget below the resident process is refused before any pass") {
  auto model = LoadStories();
  MeasureOptions o;
  o.budget_bytes = ResidentNow() / 2;
  const auto report = MeasureCapacity(*model, o);
  CHECK(absl::IsResourceExhausted(report.status()));
}

TEST_CASE("the capacity table names every figure") {
  CapacityReport r;
  r.device = "cpu float32, 2 threads, attention=cpu-paged";
  r.weight_bytes = 1100000;
  r.baseline_bytes = 300 * kMiB;
  r.activation_bytes_per_token = 3400;
  r.max_ribbon_tokens = 8896;
  r.memory_limit_tokens = 9904;
  r.kv_blocks = 1234;
  r.block_size = 16;
  r.kv_bytes = 1234 * 20480;
  r.budget_bytes = int64_t{1} << 30;
  r.budget_source = "configured";
  r.activation_bytes = r.measured_activation_bytes = 2 * kMiB;
  r.passes = 9;
  std::string table = FormatCapacityTable(r);
  CHECK_THAT(table, Catch::Contains("2.00 MiB reserved (measured 2.00 MiB)"));
  r.predicted_activation_bytes = kMiB + kMiB / 2;
  r.prediction_error = 0.25;
  table = FormatCapacityTable(r);
  CHECK_THAT(table, Catch::Contains("(predicted 1.50 MiB, measured 2.00 MiB, +25.0%)"));
  CHECK_THAT(table,
             Catch::Contains("max ribbon tokens") && Catch::Contains("8896 (memory allows 9904)"));
  CHECK_THAT(table, Catch::Contains("1234 blocks x 16 tokens = 19744 tokens, 24.10 MiB"));
  CHECK_THAT(table, Catch::Contains("weights") && Catch::Contains("1.05 MiB"));
  CHECK_THAT(table, Catch::Contains("activations per token") && Catch::Contains("3.32 KiB"));
  CHECK_THAT(table, Catch::Contains("1.00 GiB (configured)"));
  CHECK_THAT(table, Catch::Contains("9 passes"));
  CHECK_THAT(table, Catch::Contains("cpu float32"));
}

}  // namespace
}  // namespace ribbon::memory
