// The CUDA runner samples on its device (core/model/cuda/device_sampler.h): for a step whose rows
// the device sampler covers, the tokens Run returns equal what the host sampler draws from the
// runner's own float32 logits (ForwardLogits + SampleStep), for greedy and seeded temperature /
// top-k / top-p / min-p rows, some with banned tokens and logit_bias, on stories260K (float32,
// vocab 512) and a random bfloat16 model with a 49,152-token vocabulary. A step with a row the
// device does not cover (a penalty, logprobs) falls back to the host and gives the host's tokens
// and logprobs.
#include <catch2/catch.hpp>

#include <random>

#include "core/model/cuda/cuda_model.h"
#include "core/model/host_sampling_runner.h"
#include "core/plan/offline_plan.h"
#include "core/sampling/step_sampler.h"
#include "tests/core/engine/engine_test_util.h"

namespace ribbon::testing {
namespace {

// 12 sequences of different lengths, each sampling its last row with its own parameters.
StepPlan SampledPlan(BlockManager& blocks, int32_t vocab, std::mt19937_64& rng) {
  std::vector<PlanSegment> segments;
  for (uint64_t s = 0; s < 12; ++s) {
    std::vector<int32_t> tokens(3 + rng() % 40);
    for (int32_t& t : tokens) t = static_cast<int32_t>(rng() % vocab);
    segments.push_back({s, 0, tokens, 0, SampleRows::kLast});
  }
  auto plan = BuildOfflinePlan(blocks, segments, /*align=*/8);
  REQUIRE(plan.ok());
  const float temperatures[] = {0.0f, 0.7f, 1.0f, 1.3f};
  const int32_t top_ks[] = {0, 1, 20, 400};
  const float top_ps[] = {1.0f, 0.9f, 0.5f};
  for (size_t i = 0; i < plan->sampling.size(); ++i) {
    SamplingParams& p = plan->sampling[i].params;
    p.temperature = temperatures[i % 4];
    p.top_k = top_ks[(i / 2) % 4];
    p.top_p = top_ps[i % 3];
    p.min_p = i % 5 == 0 ? 0.05f : 0.0f;
    p.seed = rng();
    plan->sampling[i].output_index = rng() % 1000;
    // A token biased to dominate (twice: biases add up in order) and one pushed down; in every
    // other such row the dominant token is also banned, and the ban must win.
    if (i % 3 != 0) {
      const auto favoured = static_cast<int32_t>(rng() % vocab);
      p.logit_bias = {
          {favoured, 30.0f}, {static_cast<int32_t>(rng() % vocab), -100.0f}, {favoured, 1.25f}};
      if (i % 3 == 2) plan->sampling[i].banned = {favoured, static_cast<int32_t>(rng() % vocab)};
    }
  }
  return std::move(*plan);
}

// Run's tokens (and logprobs) vs the host sampler on ForwardLogits' logits for the same plan.
void CheckAgainstHost(ModelRunner& model, const StepPlan& plan) {
  StepOutput out;
  const absl::Status run = model.Run(plan, out);
  INFO(run.ToString());
  REQUIRE(run.ok());
  auto* runner = dynamic_cast<HostSamplingRunner*>(&model);
  REQUIRE(runner != nullptr);
  const int64_t vocab = model.config().vocab_size;
  std::vector<float> logits(plan.sample_rows.size() * vocab);
  REQUIRE(runner->ForwardLogits(plan, logits).ok());
  std::vector<SampledToken> host;
  SampleStep(plan, logits, vocab, plan.token_ids, host);
  REQUIRE(out.sampled.size() == host.size());
  for (size_t i = 0; i < host.size(); ++i) {
    INFO("row " << i << " T " << plan.sampling[i].params.temperature << " top_k "
                << plan.sampling[i].params.top_k << " top_p " << plan.sampling[i].params.top_p);
    CHECK(out.sampled[i].token == host[i].token);
    CHECK(out.sampled[i].logprob == host[i].logprob);
  }
}

void CheckModel(ModelRunner& model, uint64_t seed) {
  BlockManager blocks({.num_blocks = 256, .block_size = 16});
  REQUIRE(model.AllocateKvCache(blocks.total_blocks(), blocks.block_size()).ok());
  std::mt19937_64 rng(seed);
  const auto vocab = static_cast<int32_t>(model.config().vocab_size);
  for (int step = 0; step < 4; ++step) {
    BlockManager step_blocks({.num_blocks = 256, .block_size = 16});
    CheckAgainstHost(model, SampledPlan(step_blocks, vocab, rng));
  }
  // Rows the device does not cover: the whole step is sampled on the host.
  BlockManager fallback_blocks({.num_blocks = 256, .block_size = 16});
  StepPlan plan = SampledPlan(fallback_blocks, vocab, rng);
  plan.sampling[1].params.repetition_penalty = 1.3f;
  plan.sampling[2].params.logprobs = true;
  CheckAgainstHost(model, plan);
}

TEST_CASE("stories260K float32: device-sampled tokens equal the host sampler's") {
  auto model = LoadCudaModel({.path = Stories260k(),
                              .device = "cuda",
                              .dtype = "float32",
                              .attention_backend = "reference"});
  INFO(model.status().ToString());
  REQUIRE(model.ok());
  CheckModel(**model, 1);
}

TEST_CASE("random bfloat16 model, vocab 49,152: device-sampled tokens equal the host sampler's") {
  ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.model_type = "llama";
  c.hidden_size = 256;
  c.intermediate_size = 512;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 64;
  c.vocab_size = 49152;
  c.max_position_embeddings = 1024;
  c.rms_norm_eps = 1e-5;
  auto model =
      CreateRandomCudaModel(c, {.device = "cuda", .dtype = "bfloat16"}, {.seed = 3, .stddev = 0.1});
  INFO(model.status().ToString());
  REQUIRE(model.ok());
  CheckModel(**model, 2);
}

}  // namespace
}  // namespace ribbon::testing
