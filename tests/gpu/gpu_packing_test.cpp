// Packing invariance on the GPU.
//  1. stories260K, float32, reference attention, through the engine: a sequence's greedy output
//     is identical alone, packed with 15 others, and with its prompt split into 7-token chunks.
//  2. A Llama-shaped bfloat16 model (head dim 64, GQA 4) with random weights, flash and
//     reference attention: a sequence's logits alone, packed, chunked, padded (padded-mode pad
//     rows) and after a decode step agree within bfloat16 noise, while different sequences'
//     logits do not (so the comparison can fail); flash agrees with reference.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "core/engine/engine.h"
#include "core/model/cuda/cuda_model.h"
#include "core/model/host_sampling_runner.h"
#include "core/plan/offline_plan.h"
#include "tests/core/engine/engine_test_util.h"

namespace ribbon::testing {
namespace {

std::unique_ptr<Engine> StoriesEngine(int32_t max_ribbon_tokens, int32_t align) {
  auto model = LoadCudaModel({.path = Stories260k(),
                              .device = "cuda",
                              .dtype = "float32",
                              .attention_backend = "reference"});
  INFO(model.status().ToString());
  REQUIRE(model.ok());
  EngineOptions options;
  options.scheduler.max_ribbon_tokens = max_ribbon_tokens;
  options.scheduler.align = align;
  auto engine = Engine::Create(options, std::move(*model));
  REQUIRE(engine.ok());
  return std::move(*engine);
}

std::vector<std::vector<int32_t>> Generate(Engine& engine,
                                           const std::vector<std::vector<int32_t>>& prompts,
                                           int32_t n) {
  std::vector<std::shared_ptr<CollectingSink>> sinks;
  for (const auto& p : prompts) {
    GenerationRequest r;
    r.prompt = p;
    r.stop.max_new_tokens = n;
    r.stop.ignore_eos = true;
    sinks.push_back(std::make_shared<CollectingSink>());
    REQUIRE(engine.Submit(r, sinks.back()).ok());
  }
  RunToCompletion(engine);
  std::vector<std::vector<int32_t>> outputs;
  for (const auto& s : sinks) outputs.push_back(s->ids);
  return outputs;
}

ModelConfig LlamaShaped() {
  ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.model_type = "llama";
  c.hidden_size = 512;
  c.intermediate_size = 1024;
  c.num_layers = 4;
  c.num_heads = 8;
  c.num_kv_heads = 2;
  c.head_dim = 64;
  c.vocab_size = 1000;
  c.max_position_embeddings = 1024;
  c.rms_norm_eps = 1e-5;
  return c;
}

using Logits = std::vector<std::vector<float>>;  // one row per sequence

// Runs one plan per entry of `steps` on a fresh KV cache; returns the logits of every sample
// row, in order.
std::vector<std::vector<float>> RunSteps(ModelRunner& model,
                                         const std::vector<std::vector<PlanSegment>>& steps) {
  BlockManager blocks({.num_blocks = 512, .block_size = 16});
  REQUIRE(model.AllocateKvCache(blocks.total_blocks(), blocks.block_size()).ok());
  std::vector<std::vector<float>> rows;
  const int64_t vocab = model.config().vocab_size;
  for (const auto& segments : steps) {
    auto plan = BuildOfflinePlan(blocks, segments, /*align=*/8);
    REQUIRE(plan.ok());
    std::vector<float> logits(plan->sample_rows.size() * vocab);
    auto* runner = dynamic_cast<HostSamplingRunner*>(&model);
    REQUIRE(runner != nullptr);
    const auto status = runner->ForwardLogits(*plan, logits);
    INFO(status.ToString());
    REQUIRE(status.ok());
    for (size_t i = 0; i < plan->sample_rows.size(); ++i)
      rows.emplace_back(logits.begin() + i * vocab, logits.begin() + (i + 1) * vocab);
  }
  return rows;
}

PlanSegment Segment(uint64_t id, int32_t start, const std::vector<int32_t>& tokens, int32_t pad = 0,
                    SampleRows sample = SampleRows::kLast) {
  return {id, start, tokens, pad, sample};
}

double MaxAbs(const std::vector<float>& a) {
  double m = 0;
  for (float v : a) m = std::max(m, double(std::abs(v)));
  return m;
}

double MaxDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::abs(a[i] - b[i])));
  return m;
}

struct Packings {
  Logits alone, packed, chunked, padded, decoded;
};

Packings RunPackings(ModelRunner& model, const std::vector<std::vector<int32_t>>& prompts) {
  Packings p;
  for (const auto& prompt : prompts)
    p.alone.push_back(RunSteps(model, {{Segment(0, 0, prompt)}})[0]);
  std::vector<PlanSegment> packed, padded, prefill_but_last, last;
  size_t longest = 0;
  for (const auto& prompt : prompts) longest = std::max(longest, prompt.size());
  for (size_t s = 0; s < prompts.size(); ++s) {
    const auto& prompt = prompts[s];
    packed.push_back(Segment(s, 0, prompt));
    padded.push_back(Segment(s, 0, prompt, static_cast<int32_t>(longest - prompt.size())));
    if (prompt.size() > 1) {
      prefill_but_last.push_back(
          Segment(s, 0, {prompt.begin(), prompt.end() - 1}, 0, SampleRows::kNone));
    }
    last.push_back(Segment(s, static_cast<int32_t>(prompt.size()) - 1, {prompt.back()}));
  }
  p.packed = RunSteps(model, {packed});
  p.padded = RunSteps(model, {padded});
  p.decoded = RunSteps(model, {prefill_but_last, last});
  // Every prompt in 7-token chunks, all sequences' chunks packed into each step.
  std::vector<std::vector<PlanSegment>> chunk_steps;
  for (size_t done = 0; done < longest; done += 7) {
    std::vector<PlanSegment> step;
    for (size_t s = 0; s < prompts.size(); ++s) {
      if (done >= prompts[s].size()) continue;
      const size_t end = std::min(prompts[s].size(), done + 7);
      const SampleRows sample = end == prompts[s].size() ? SampleRows::kLast : SampleRows::kNone;
      step.push_back(Segment(s, static_cast<int32_t>(done),
                             {prompts[s].begin() + done, prompts[s].begin() + end}, 0, sample));
    }
    chunk_steps.push_back(step);
  }
  const Logits finished = RunSteps(model, chunk_steps);  // in order of finishing
  p.chunked.assign(prompts.size(), {});
  size_t next = 0;
  for (size_t done = 0; done < longest; done += 7) {
    for (size_t s = 0; s < prompts.size(); ++s) {
      if (done < prompts[s].size() && std::min(prompts[s].size(), done + 7) == prompts[s].size())
        p.chunked[s] = finished[next++];
    }
  }
  return p;
}

}  // namespace

TEST_CASE("GPU: stories260K greedy outputs are identical alone, packed and in 7-token chunks",
          "[gpu][packing]") {
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& g : LoadGolden()) {
    if (g.max_new_tokens == 64) prompts.push_back(g.prompt);
  }
  const std::vector<int32_t> longest = prompts.back();
  for (size_t len : {5, 17, 33, 64, 100, 150})
    prompts.emplace_back(longest.begin(), longest.begin() + len);
  REQUIRE(prompts.size() == 16);
  constexpr int32_t kNew = 48;
  std::vector<std::vector<int32_t>> alone;
  for (const auto& p : prompts) alone.push_back(Generate(*StoriesEngine(512, 16), {p}, kNew)[0]);
  const auto packed = Generate(*StoriesEngine(2048, 16), prompts, kNew);
  const auto chunked = Generate(*StoriesEngine(7, 1), prompts, kNew);
  for (size_t i = 0; i < prompts.size(); ++i) {
    INFO("prompt " << i << " (" << prompts[i].size() << " tokens)");
    REQUIRE(alone[i].size() == kNew);
    CHECK(packed[i] == alone[i]);
    CHECK(chunked[i] == alone[i]);
  }
}

TEST_CASE(
    "GPU: bfloat16 logits do not depend on packing, chunking, padding or decode (flash and "
    "reference)",
    "[gpu][packing]") {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> token(1, 999);
  std::vector<std::vector<int32_t>> prompts;
  for (int32_t len : {1, 5, 17, 64, 100, 150}) {
    std::vector<int32_t> p(len);
    for (auto& t : p) t = token(rng);
    prompts.push_back(p);
  }
  Logits flash_alone;
  for (const std::string backend : {"flash", "reference"}) {
    auto model = CreateRandomCudaModel(
        LlamaShaped(),
        {.path = "", .device = "cuda", .dtype = "bfloat16", .attention_backend = backend},
        {.seed = 11, .stddev = 0.05});
    INFO(backend << ": " << model.status().ToString());
    REQUIRE(model.ok());
    const Packings p = RunPackings(**model, prompts);
    const std::string describe = (*model)->Describe();
    WARN("runner: " << describe);
    CHECK(describe.find("attention=" + backend) != std::string::npos);
    CHECK(describe.find("steps on another kernel") == std::string::npos);
    const double tolerance = 0.03 * MaxAbs(p.alone[3]);
    INFO(backend << ", tolerance " << tolerance);
    CHECK(MaxDiff(p.alone[3], p.alone[4]) > 10 * tolerance);  // different sequences differ
    for (size_t s = 0; s < prompts.size(); ++s) {
      INFO("sequence " << s << " (" << prompts[s].size() << " tokens)");
      CHECK(MaxDiff(p.packed[s], p.alone[s]) <= tolerance);
      CHECK(MaxDiff(p.chunked[s], p.alone[s]) <= tolerance);
      CHECK(MaxDiff(p.padded[s], p.alone[s]) <= tolerance);
      CHECK(MaxDiff(p.decoded[s], p.alone[s]) <= tolerance);
      if (!flash_alone.empty()) CHECK(MaxDiff(p.alone[s], flash_alone[s]) <= tolerance);
    }
    if (flash_alone.empty()) flash_alone = p.alone;
  }
}

}  // namespace ribbon::testing
