#include "bench/gpu/workloads.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "core/model/cuda/cuda_model.h"
#include "core/plan/offline_plan.h"

namespace ribbon::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

ModelConfig Llama32_1B(bool small) {
  ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.model_type = "llama";
  c.hidden_size = small ? 512 : 2048;
  c.intermediate_size = small ? 1024 : 8192;
  c.num_layers = small ? 2 : 16;
  c.num_heads = small ? 8 : 32;
  c.num_kv_heads = small ? 2 : 8;
  c.head_dim = 64;
  c.vocab_size = small ? 4096 : 128256;
  c.max_position_embeddings = 8192;  // the real model has 131072; the benchmark needs < 1024
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 500000.0;
  c.rope_scaling = {"llama3", 32.0, 1.0, 4.0, 8192};
  c.tie_word_embeddings = true;
  return c;
}

ModelConfig Qwen25_7B(bool small, int32_t layers) {
  ModelConfig c;
  c.architecture = "Qwen2ForCausalLM";
  c.model_type = "qwen2";
  c.hidden_size = small ? 512 : 3584;
  c.intermediate_size = small ? 1024 : 18944;
  c.num_layers = layers;
  c.num_heads = small ? 4 : 28;
  c.num_kv_heads = small ? 2 : 4;
  c.head_dim = 128;
  c.vocab_size = small ? 4096 : 152064;
  c.max_position_embeddings = 4096;  // the real model has 32768; prompts here stay <= 1024
  c.rms_norm_eps = 1e-6;
  c.rope_theta = 1000000.0;
  c.qkv_bias = true;
  return c;
}

std::unique_ptr<ModelRunner> Create(const ModelConfig& config, const std::string& backend,
                                    nlohmann::json& out) {
  auto model = CreateRandomCudaModel(
      config, {.path = "", .device = "cuda", .dtype = "bfloat16", .attention_backend = backend},
      {.seed = 1, .stddev = 0.02});
  if (!model.ok()) {
    out["error"] = model.status().ToString();
    std::printf("%s: %s\n", backend.c_str(), out["error"].get<std::string>().c_str());
    return nullptr;
  }
  return std::move(*model);
}

// Runs one plan (forward and sampling); returns its seconds (negative on error, recorded in
// `out`).
double TimedStep(ModelRunner& model, BlockManager& blocks, const std::vector<PlanSegment>& segments,
                 StepOutput& output, nlohmann::json& out) {
  auto plan = BuildOfflinePlan(blocks, segments);
  if (!plan.ok()) {
    out["error"] = plan.status().ToString();
    return -1;
  }
  const auto start = Clock::now();
  const absl::Status status = model.Run(*plan, output);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!status.ok()) {
    out["error"] = status.ToString();
    return -1;
  }
  return seconds;
}

}  // namespace

double MeasureCopyBandwidth(int64_t bytes, nlohmann::json& out) {
  void *a = nullptr, *b = nullptr;
  if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess) {
    cudaFree(a);
    out["error"] = "cannot allocate the copy buffers";
    return 0;
  }
  cudaMemset(a, 0x5A, bytes);
  cudaMemset(b, 0xA5, bytes);
  cudaEvent_t begin, end;
  cudaEventCreate(&begin);
  cudaEventCreate(&end);
  std::vector<double> seconds;
  for (int i = 0; i < 23; ++i) {
    cudaEventRecord(begin);
    cudaMemcpyAsync(i % 2 ? a : b, i % 2 ? b : a, bytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(end);
    cudaEventSynchronize(end);
    float ms = 0;
    cudaEventElapsedTime(&ms, begin, end);
    if (i >= 3) seconds.push_back(ms / 1e3);  // the first copies warm up
  }
  cudaEventDestroy(begin);
  cudaEventDestroy(end);
  cudaFree(a);
  cudaFree(b);
  const double median = Median(seconds);
  const double bandwidth = 2.0 * bytes / median;
  out = {{"buffer_bytes", bytes},
         {"median_ms", median * 1e3},
         {"GBps", bandwidth / 1e9},
         {"copies", seconds.size()}};
  std::printf("bandwidth: %.0f GB/s (device-to-device copy of %.2f GiB, read + write)\n",
              bandwidth / 1e9, bytes / 1073741824.0);
  return bandwidth;
}

nlohmann::json RunDecode(const DecodeOptions& o) {
  const ModelConfig config = Llama32_1B(o.small);
  nlohmann::json out = {
      {"backend", o.backend},
      {"model", o.small ? "toy Llama (smoke)" : "Llama-3.2-1B-shaped, random bf16"}};
  auto model = Create(config, o.backend, out);
  if (!model) return out;
  constexpr int32_t kPrompt = 128, kWarmup = 8;
  BlockManager blocks({.num_blocks = (kPrompt + kWarmup + o.steps) / 16 + 2, .block_size = 16});
  if (!model->AllocateKvCache(blocks.total_blocks(), blocks.block_size()).ok()) return out;
  std::mt19937 rng(5);
  std::vector<int32_t> prompt(kPrompt);
  for (auto& t : prompt) t = static_cast<int32_t>(rng() % config.vocab_size);
  StepOutput output;
  if (TimedStep(*model, blocks, {{0, 0, prompt}}, output, out) < 0) return out;
  int32_t token = output.sampled.at(0).token, position = kPrompt;
  std::vector<double> seconds;
  for (int32_t step = 0; step < kWarmup + o.steps; ++step, ++position) {
    const double s = TimedStep(*model, blocks, {{0, position, {token}}}, output, out);
    if (s < 0) return out;
    if (step >= kWarmup) seconds.push_back(s);
    token = output.sampled.at(0).token;
  }
  const double median = Median(seconds);
  const double mean_kv = kPrompt + kWarmup + o.steps / 2.0;
  const double kv_bytes =
      2.0 * config.num_layers * mean_kv * config.kv_size() * 2;  // K and V, bf16
  const double bytes_per_step = static_cast<double>(model->weight_bytes()) + kv_bytes;
  const double roofline =
      o.bandwidth_bytes_per_s > 0 ? o.bandwidth_bytes_per_s / bytes_per_step : 0;
  out.update({{"describe", model->Describe()},
              {"weight_bytes", model->weight_bytes()},
              {"prompt_tokens", kPrompt},
              {"steps", o.steps},
              {"median_step_ms", median * 1e3},
              {"p90_step_ms", Percentile(seconds, 0.9) * 1e3},
              {"tokens_per_s", 1.0 / median},
              {"bytes_per_step", bytes_per_step},
              {"roofline_tokens_per_s", roofline},
              {"roofline_fraction", roofline > 0 ? (1.0 / median) / roofline : 0.0}});
  std::printf(
      "decode %s: %.1f tokens/s (median step %.3f ms), %.1f%% of the %.0f tokens/s roofline\n",
      o.backend.c_str(), 1.0 / median, median * 1e3, 100 * out["roofline_fraction"].get<double>(),
      roofline);
  return out;
}

namespace {

struct PrefillRun {
  double seconds = 0;
  int64_t rows = 0;
};

// Runs every batch once, packed or padded; sums the Forward times.
PrefillRun RunBatches(ModelRunner& model, const std::vector<std::vector<int32_t>>& prompts,
                      int32_t batch, int32_t blocks_needed, bool padded, nlohmann::json& out) {
  PrefillRun run;
  StepOutput output;
  for (size_t first = 0; first < prompts.size(); first += batch) {
    const size_t last = std::min(prompts.size(), first + batch);
    size_t longest = 0;
    for (size_t s = first; s < last; ++s) longest = std::max(longest, prompts[s].size());
    std::vector<PlanSegment> segments;
    for (size_t s = first; s < last; ++s) {
      const int32_t pad = padded ? static_cast<int32_t>(longest - prompts[s].size()) : 0;
      segments.push_back({s, 0, prompts[s], pad, SampleRows::kLast});
      run.rows += static_cast<int64_t>(prompts[s].size()) + pad;
    }
    BlockManager blocks({.num_blocks = blocks_needed, .block_size = 16});
    const double s = TimedStep(model, blocks, segments, output, out);
    if (s < 0) return {-1, 0};
    run.seconds += s;
  }
  return run;
}

}  // namespace

nlohmann::json RunPrefill(const PrefillOptions& o) {
  const ModelConfig config = Qwen25_7B(o.small, o.layers);
  nlohmann::json out = {
      {"backend", o.backend},
      {"layers", o.layers},
      {"full_layers", 28},
      {"model", o.small ? "toy Qwen2 (smoke)" : "Qwen2.5-7B-shaped, random bf16"}};
  if (!o.small && o.layers < 28)
    out["note"] = "layers reduced from 28 to " + std::to_string(o.layers);
  auto model = Create(config, o.backend, out);
  if (!model) return out;
  const int32_t max_len = o.small ? 256 : 1024;
  const int32_t blocks_needed = o.batch * (max_len / 16 + 1) + 1;
  if (!model->AllocateKvCache(blocks_needed, 16).ok()) return out;
  std::mt19937 rng(2);
  std::uniform_int_distribution<int32_t> length(32, max_len);
  std::vector<std::vector<int32_t>> prompts(o.sequences);
  int64_t real = 0;
  for (auto& p : prompts) {
    p.resize(length(rng));
    for (auto& t : p) t = 1 + static_cast<int32_t>(rng() % (config.vocab_size - 1));
    real += static_cast<int64_t>(p.size());
  }
  const std::vector<std::vector<int32_t>> warm(
      prompts.begin(), prompts.begin() + std::min<size_t>(o.batch, prompts.size()));
  RunBatches(*model, warm, o.batch, blocks_needed, false, out);
  RunBatches(*model, warm, o.batch, blocks_needed, true, out);
  PrefillRun packed{1e30, 0}, padded{1e30, 0};
  for (int rep = 0; rep < 2; ++rep) {  // alternate, keep the faster of each
    const PrefillRun a = RunBatches(*model, prompts, o.batch, blocks_needed, false, out);
    const PrefillRun b = RunBatches(*model, prompts, o.batch, blocks_needed, true, out);
    if (a.seconds < 0 || b.seconds < 0) return out;
    if (a.seconds < packed.seconds) packed = a;
    if (b.seconds < padded.seconds) padded = b;
  }
  out.update({{"describe", model->Describe()},
              {"sequences", o.sequences},
              {"batch", o.batch},
              {"real_tokens", real},
              {"padded_rows", padded.rows},
              {"packed_s", packed.seconds},
              {"padded_s", padded.seconds},
              {"measured_ratio", padded.seconds / packed.seconds},
              {"ideal_ratio", static_cast<double>(padded.rows) / static_cast<double>(packed.rows)},
              {"packed_tokens_per_s", real / packed.seconds},
              {"padded_real_tokens_per_s", real / padded.seconds}});
  std::printf(
      "prefill %s (%d layers): packed %.0f tokens/s; padded/packed time %.3f (ideal %.3f)\n",
      o.backend.c_str(), o.layers, real / packed.seconds, padded.seconds / packed.seconds,
      out["ideal_ratio"].get<double>());
  return out;
}

}  // namespace ribbon::bench
