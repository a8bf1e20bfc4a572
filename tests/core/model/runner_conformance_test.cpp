// The runner contract (core/model/model_runner.h), checked the same way on every runner: the CPU
// runner (stories260K), the fake runner (tests/fakes) and the CUDA runner when a device is
// present (skipped otherwise). Each case builds plans with the engine's PlanBuilder.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/kv/block_manager.h"
#include "core/model/cuda/cuda_model.h"
#include "core/model/model_runner.h"
#include "core/plan/plan_builder.h"
#include "tests/fakes/fake_runner.h"

namespace ribbon::testing {
namespace {

std::string Stories260k() {
  const char* env = std::getenv("RIBBON_SHARED_DATA");
  return std::string(env ? env : "../shared/data") + "/stories260k";
}

struct Subject {
  std::string name;
  std::unique_ptr<FakeDeviceMemory> memory;  // the fake's device
  std::unique_ptr<ModelRunner> runner;
};

std::vector<Subject> Subjects() {
  std::vector<Subject> out;
  auto cpu = LoadModel({.path = Stories260k(), .num_threads = 2});
  REQUIRE(cpu.ok());
  out.push_back({"cpu", nullptr, std::move(*cpu)});
  auto cpu_half_kv =
      LoadModel({.path = Stories260k(), .kv_cache_dtype = "float16", .num_threads = 2});
  REQUIRE(cpu_half_kv.ok());
  out.push_back({"cpu, float16 KV cache", nullptr, std::move(*cpu_half_kv)});
  Subject fake{"fake", std::make_unique<FakeDeviceMemory>(int64_t{64} << 20), nullptr};
  fake.runner = std::make_unique<FakeRunner>(FakeRunnerOptions{}, *fake.memory);
  out.push_back(std::move(fake));
  if (CudaDeviceCount() > 0) {
    auto cuda = LoadModel({.path = Stories260k(), .device = "cuda", .dtype = "float32"});
    REQUIRE(cuda.ok());
    out.push_back({"cuda", nullptr, std::move(*cuda)});
  } else {
    WARN("no CUDA device: the CUDA runner is not checked");
  }
  return out;
}

constexpr int32_t kBlockSize = 16;

// One step's sequence: its tokens of this step (empty = its row is linked to the previous
// step's output `link`), where it starts, and how it samples.
struct Row {
  uint64_t seq = 0;
  std::vector<int32_t> tokens;
  int32_t start = 0;
  int32_t link = -1;
  RowSampling sampling;
};

absl::Status RunStep(ModelRunner& runner, BlockManager& blocks, const std::vector<Row>& rows,
                     StepOutput& out, StepPlan* plan_out = nullptr) {
  StepPlan plan;
  PlanBuilder builder(kBlockSize, static_cast<int32_t>(runner.config().max_position_embeddings));
  builder.Reset(plan);
  for (const Row& row : rows) {
    const int32_t n = row.link >= 0 ? 1 : static_cast<int32_t>(row.tokens.size());
    REQUIRE(blocks.EnsureCapacity(row.seq, row.start + n).ok());
    SegmentSpec spec{.tokens = row.tokens,
                     .start = row.start,
                     .num_tokens = n,
                     .block_table = blocks.BlockTable(row.seq),
                     .link_source = row.link,
                     .sample = row.sampling};
    REQUIRE(builder.Add(spec).ok());
  }
  builder.Finish({.align = 8});
  if (plan_out) *plan_out = plan;
  return runner.Run(plan, out);
}

// Greedy continuations of `prompts` by `n` tokens, all sequences packed in every step. With
// `linked`, decode rows take their token from the previous step's output through the plan's
// links instead of being handed it.
std::vector<std::vector<int32_t>> Decode(ModelRunner& runner,
                                         const std::vector<std::vector<int32_t>>& prompts,
                                         int32_t n, bool linked) {
  REQUIRE(runner.AllocateKvCache(64, kBlockSize).ok());
  BlockManager blocks({.num_blocks = 64, .block_size = kBlockSize});
  std::vector<std::vector<int32_t>> out(prompts.size());
  std::vector<Row> rows;
  for (size_t s = 0; s < prompts.size(); ++s) rows.push_back({s, prompts[s], 0});
  for (int32_t step = 0; step < n; ++step) {
    StepOutput output;
    REQUIRE(RunStep(runner, blocks, rows, output).ok());
    REQUIRE(output.sampled.size() == prompts.size());
    for (size_t s = 0; s < prompts.size(); ++s) {
      out[s].push_back(output.sampled[s].token);
      rows[s].start += rows[s].link >= 0 ? 1 : static_cast<int32_t>(rows[s].tokens.size());
      rows[s].tokens = linked ? std::vector<int32_t>{} : std::vector<int32_t>{out[s].back()};
      rows[s].link = linked ? static_cast<int32_t>(s) : -1;
    }
  }
  return out;
}

const std::vector<std::vector<int32_t>> kPrompts = {{1, 40, 41, 42, 43, 7}, {1, 90, 2, 17}};

}  // namespace

TEST_CASE("a sequence decodes the same alone, packed, and through linked rows") {
  for (Subject& subject : Subjects()) {
    DYNAMIC_SECTION(subject.name) {
      ModelRunner& runner = *subject.runner;
      const auto packed = Decode(runner, kPrompts, 6, /*linked=*/false);
      const auto linked = Decode(runner, kPrompts, 6, /*linked=*/true);
      CHECK(linked == packed);
      for (size_t s = 0; s < kPrompts.size(); ++s) {
        CHECK(Decode(runner, {kPrompts[s]}, 6, false)[0] == packed[s]);
      }
      if (subject.name == "fake") {
        const int32_t vocab = static_cast<int32_t>(runner.config().vocab_size);
        for (size_t s = 0; s < kPrompts.size(); ++s)
          CHECK(packed[s] == FakeRunner::ExpectedGreedy(kPrompts[s], 6, vocab));
      }
    }
  }
}

TEST_CASE("the plan's sampling inputs are honoured: bans, logit bias, seeds, logprobs") {
  for (Subject& subject : Subjects()) {
    DYNAMIC_SECTION(subject.name) {
      ModelRunner& runner = *subject.runner;
      REQUIRE(runner.AllocateKvCache(16, kBlockSize).ok());
      auto first = [&](RowSampling sampling) {
        BlockManager blocks({.num_blocks = 16, .block_size = kBlockSize});
        StepOutput out;
        REQUIRE(RunStep(runner, blocks, {{0, kPrompts[0], 0, -1, sampling}}, out).ok());
        return out.sampled.at(0);
      };
      const int32_t greedy = first({}).token;
      CHECK(first({.banned = {greedy}}).token != greedy);
      RowSampling biased;
      biased.params.logit_bias = {{5, 100.0f}};
      CHECK(first(biased).token == 5);
      RowSampling seeded;
      seeded.params.temperature = 1.5f;
      seeded.params.seed = 1234;
      seeded.params.top_logprobs = 3;
      seeded.output_index = 7;
      const SampledToken a = first(seeded), b = first(seeded);
      CHECK(a.token == b.token);
      CHECK(a.top.size() == 3);
      CHECK(a.logprob <= 0.0f);
    }
  }
}

TEST_CASE("the KV cache is released by 0 blocks, and misuse is refused with a status") {
  for (Subject& subject : Subjects()) {
    DYNAMIC_SECTION(subject.name) {
      ModelRunner& runner = *subject.runner;
      BlockManager blocks({.num_blocks = 16, .block_size = kBlockSize});
      StepOutput out;
      REQUIRE(runner.AllocateKvCache(0, kBlockSize).ok());
      CHECK(RunStep(runner, blocks, {{0, kPrompts[0], 0}}, out).code() ==
            absl::StatusCode::kFailedPrecondition);
      REQUIRE(runner.AllocateKvCache(16, kBlockSize).ok());
      CHECK(runner.Collect(out).code() == absl::StatusCode::kFailedPrecondition);
      StepPlan plan;
      REQUIRE(RunStep(runner, blocks, {{0, kPrompts[0], 0}}, out, &plan).ok());
      StepPlan bad = plan;
      bad.token_ids[0] = static_cast<int32_t>(runner.config().vocab_size);
      CHECK(runner.Run(bad, out).code() == absl::StatusCode::kInvalidArgument);
      REQUIRE(runner.Launch(plan).ok());
      CHECK(runner.Launch(plan).code() == absl::StatusCode::kFailedPrecondition);
      CHECK(runner.Collect(out).ok());
      CHECK(out.sampled.size() == 1);
      StepPlan orphan = plan;  // links to an output the previous step did not have
      orphan.linked_rows.push_back({0, 5});
      CHECK(runner.Run(orphan, out).code() == absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST_CASE("out of memory is RESOURCE_EXHAUSTED and leaves the runner usable") {
  for (Subject& subject : Subjects()) {
    DYNAMIC_SECTION(subject.name) {
      ModelRunner& runner = *subject.runner;
      // Far more than any machine has: the allocation is refused at once (not overcommitted).
      const absl::Status huge = runner.AllocateKvCache(1 << 30, 64);
      INFO(huge.ToString());
      CHECK(huge.code() == absl::StatusCode::kResourceExhausted);
      const auto packed = Decode(runner, kPrompts, 3, false);
      CHECK(packed.size() == kPrompts.size());
    }
  }
}

TEST_CASE("the fake runner's injected faults: a step too large for memory, an error mid-step") {
  FakeDeviceMemory memory(4 << 20);
  FakeRunnerOptions options;
  options.weight_bytes = 1 << 20;
  options.kv_bytes_per_token = 256;
  options.bytes_per_row = 32 << 10;  // 2 MiB left after the weights and a 64-block cache
  options.fail_step = [](const StepPlan& plan) { return plan.num_seqs == 3; };
  FakeRunner runner(options, memory);
  REQUIRE(runner.AllocateKvCache(64, kBlockSize).ok());
  BlockManager blocks({.num_blocks = 64, .block_size = kBlockSize});
  StepOutput out;
  std::vector<int32_t> long_prompt(200, 9);
  CHECK(RunStep(runner, blocks, {{0, long_prompt, 0}}, out).code() ==
        absl::StatusCode::kResourceExhausted);
  CHECK(runner.out_of_memory_steps() == 1);
  CHECK(memory.allocated() == (1 << 20) + 64 * kBlockSize * 256);  // nothing leaked
  CHECK(RunStep(runner, blocks, {{1, kPrompts[0], 0}}, out).ok());
  CHECK(RunStep(runner, blocks, {{2, {5}, 0}, {3, {6}, 0}, {4, {7}, 0}}, out).code() ==
        absl::StatusCode::kInternal);
  CHECK(RunStep(runner, blocks, {{5, kPrompts[1], 0}}, out).ok());
}

TEST_CASE("a float16 KV cache: the same greedy tokens as float32 here, and bad values refused") {
  // One rounding of each key and value (relative 2^-11) must not change what stories260K says
  // on these prompts; the runner's exact invariances are checked above as a subject of its own.
  auto f32 = LoadModel({.path = Stories260k(), .num_threads = 2});
  auto f16 = LoadModel({.path = Stories260k(), .kv_cache_dtype = "float16", .num_threads = 2});
  REQUIRE(f32.ok());
  REQUIRE(f16.ok());
  CHECK((*f16)->Describe().find("float16 KV") != std::string::npos);
  CHECK((*f16)->KvBytesPerBlock(16) * 2 == (*f32)->KvBytesPerBlock(16));
  CHECK(Decode(**f16, kPrompts, 12, false) == Decode(**f32, kPrompts, 12, false));
  for (const char* bad : {"bfloat16", "half", ""}) {
    const auto refused = LoadModel({.path = Stories260k(), .kv_cache_dtype = bad});
    INFO(refused.status().ToString());
    CHECK(refused.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(refused.status().message().find("model.kv_cache_dtype") != std::string::npos);
  }
}

}  // namespace ribbon::testing
