// The device half of the memory probe (the out-of-memory search MeasureCapacity runs on a CUDA
// device) over the fake runner on a fake device whose capacity is injected: the very code a CUDA
// out-of-memory goes through (GuardTorch -> RESOURCE_EXHAUSTED -> RunnerProbeDevice ->
// ProbeMaxRibbon), with a threshold known in advance.
#include <catch2/catch.hpp>

#include "core/memory/capacity.h"
#include "core/memory/probe_plan.h"
#include "tests/fakes/fake_runner.h"

namespace ribbon::testing {
namespace {

constexpr int64_t kMiB = 1 << 20;

}  // namespace

TEST_CASE("the device probe finds an injected out-of-memory threshold and backs off from it") {
  FakeDeviceMemory memory(512 * kMiB);
  FakeRunnerOptions options;
  options.max_position = 1024;
  options.weight_bytes = 64 * kMiB;
  options.kv_bytes_per_token = 16 << 10;  // a 1024-token context: 16 MiB
  options.bytes_per_row = 64 << 10;
  FakeRunner runner(options, memory);
  memory::MeasureOptions o;
  o.device = "fake";
  o.max_ribbon_tokens = 16384;
  o.start_rows = 256;
  o.tolerance_rows = 16;
  o.max_sample_rows = 8;
  const auto report = memory::MeasureCapacityOnDevice(runner, o, memory);
  REQUIRE(report.ok());
  // A pass of R rows needs its KV (ceil(R / 1024) contexts of 16 MiB) plus 64 KiB per row
  // beside the 64 MiB of weights: the largest that fits in 512 MiB is found by trying.
  auto fits = [&](int32_t rows) {
    const memory::ProbePlanOptions plan{.context_tokens = 1024, .block_size = 16};
    const int64_t kv = memory::ProbeKvBlocks(rows, plan) * runner.KvBytesPerBlock(16);
    return options.weight_bytes + kv + options.bytes_per_row * rows <= memory.capacity();
  };
  int32_t threshold = 16;
  while (fits(threshold + 16)) threshold += 16;
  INFO(memory::FormatCapacityTable(*report));
  CHECK(report->smallest_oom_tokens > threshold);
  CHECK(report->memory_limit_tokens <= threshold);
  CHECK(report->memory_limit_tokens >= threshold - o.tolerance_rows);
  CHECK(report->max_ribbon_tokens <= report->memory_limit_tokens * (1 - o.safety_margin) + 16);
  CHECK(report->max_ribbon_tokens >= report->memory_limit_tokens * (1 - o.safety_margin) - 16);
  CHECK(runner.out_of_memory_steps() >= 1);  // the search really ran out of memory
  // The KV cache it sizes fits beside the weights and a step at the answer, within the fraction.
  CHECK(options.weight_bytes + report->kv_bytes +
            options.bytes_per_row * report->max_ribbon_tokens <=
        static_cast<int64_t>(memory.capacity() * o.memory_fraction));
  CHECK(report->kv_blocks > 0);
  CHECK(memory.allocated() == options.weight_bytes);  // the probe's cache was released
  CHECK(memory::FormatCapacityTable(*report).find("out of memory at") != std::string::npos);
}

}  // namespace ribbon::testing
