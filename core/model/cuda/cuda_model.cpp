#include "core/model/cuda/cuda_model.h"

#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randn.h>
#include <c10/core/InferenceMode.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime.h>

#include <charconv>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/model/checkpoint.h"
#include "core/model/cuda/llama_cuda_runner.h"
#include "core/model/cuda/torch_status.h"

namespace ribbon {
namespace {

using gpu::AttentionShape;
using gpu::CudaRunnerOptions;

absl::StatusOr<at::Device> ParseDevice(const std::string& device) {
  int32_t count = CudaDeviceCount();
  if (count == 0) {
    int runtime = 0, driver = 0;
    cudaRuntimeGetVersion(&runtime);
    cudaDriverGetVersion(&driver);
    return absl::FailedPreconditionError(
        absl::StrCat("device \"", device, "\": no CUDA device is present (CUDA runtime ", runtime,
                     ", driver ", driver, ")"));
  }
  int32_t index = 0;
  if (device != "cuda") {
    const std::string_view digits =
        absl::StartsWith(device, "cuda:") ? std::string_view(device).substr(5) : "";
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("device \"", device, "\" is not \"cuda\" or \"cuda:N\""));
    }
  }
  if (index < 0 || index >= count) {
    return absl::InvalidArgumentError(
        absl::StrCat("device \"", device, "\": only ", count, " CUDA device(s) present"));
  }
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
}

// "auto" is bfloat16 on a GPU: the weights' own width on current checkpoints, full tensor-core
// rate.
absl::StatusOr<at::ScalarType> ParseDtype(const std::string& dtype) {
  const std::optional<ComputeDtype> parsed = ParseComputeDtype(dtype);
  if (!parsed) {
    return absl::InvalidArgumentError(
        absl::StrCat("dtype \"", dtype, "\" (auto, bfloat16, float16, float32)"));
  }
  if (*parsed == ComputeDtype::kFloat16) return at::kHalf;
  if (*parsed == ComputeDtype::kFloat32) return at::kFloat;
  return at::kBFloat16;
}

// Device, dtype and attention backend from the options, with the backend's self-check.
absl::StatusOr<CudaRunnerOptions> ResolveOptions(const ModelLoadOptions& options,
                                                 const ModelConfig& config) {
  CudaRunnerOptions resolved;
  ASSIGN_OR_RETURN(resolved.device, ParseDevice(options.device));
  ASSIGN_OR_RETURN(resolved.dtype, ParseDtype(options.dtype));
  if (options.sampling != "auto" && options.sampling != "host") {
    return absl::InvalidArgumentError(
        absl::StrCat("model.sampling: \"", options.sampling, "\" is not auto or host"));
  }
  resolved.device_sampling = options.sampling == "auto";
  // The GPU cache holds the compute dtype; a separate KV dtype is CPU-only for now.
  if (options.kv_cache_dtype != "auto") {
    return absl::InvalidArgumentError(
        absl::StrCat("model.kv_cache_dtype: \"", options.kv_cache_dtype,
                     "\" is not supported on a GPU (auto: the compute dtype)"));
  }
  const AttentionShape shape{static_cast<int32_t>(config.num_heads),
                             static_cast<int32_t>(config.num_kv_heads),
                             static_cast<int32_t>(config.head_dim),
                             static_cast<int32_t>(config.sliding_window), resolved.dtype};
  ASSIGN_OR_RETURN(resolved.attention,
                   gpu::ResolveAttentionBackend(options.attention_backend, shape));
  RETURN_IF_ERROR(gpu::ProbeAttention(resolved.attention, shape, resolved.device));
  return resolved;
}

at::Tensor RandomMatrix(std::vector<int64_t> shape, double stddev, at::Generator& gen,
                        const at::TensorOptions& options) {
  return at::randn(shape, gen, options).mul_(stddev);
}

LlamaWeights RandomWeights(const ModelConfig& c, const RandomWeightsOptions& random,
                           const at::TensorOptions& options) {
  at::Generator gen = at::cuda::detail::createCUDAGenerator(options.device().index());
  gen.set_current_seed(random.seed);
  const double sd = random.stddev;
  const int64_t d = c.hidden_size, q = c.q_size(), kv = c.kv_size(), f = c.intermediate_size;
  LlamaWeights w;
  w.embed = RandomMatrix({c.vocab_size, d}, sd, gen, options);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    LlamaLayerWeights layer;
    layer.attn_norm = at::ones({d}, options);
    layer.qkv = RandomMatrix({q + 2 * kv, d}, sd, gen, options);
    if (c.qkv_bias) layer.qkv_bias = RandomMatrix({q + 2 * kv}, sd, gen, options);
    layer.o = RandomMatrix({d, q}, sd, gen, options);
    layer.mlp_norm = at::ones({d}, options);
    layer.gate_up = RandomMatrix({2 * f, d}, sd, gen, options);
    layer.down = RandomMatrix({d, f}, sd, gen, options);
    w.layers.push_back(std::move(layer));
  }
  w.final_norm = at::ones({d}, options);
  w.lm_head = c.tie_word_embeddings ? w.embed : RandomMatrix({c.vocab_size, d}, sd, gen, options);
  auto bytes = [](const at::Tensor& t) {
    return t.defined() ? static_cast<int64_t>(t.nbytes()) : int64_t{0};
  };
  w.bytes = bytes(w.embed) + bytes(w.final_norm) + (c.tie_word_embeddings ? 0 : bytes(w.lm_head));
  for (const auto& l : w.layers) {
    w.bytes += bytes(l.attn_norm) + bytes(l.qkv) + bytes(l.qkv_bias) + bytes(l.o) +
               bytes(l.mlp_norm) + bytes(l.gate_up) + bytes(l.down);
  }
  return w;
}

}  // namespace

int32_t CudaDeviceCount() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the error so later CUDA calls are not poisoned by it
    return 0;
  }
  return count;
}

absl::StatusOr<std::unique_ptr<ModelRunner>> LoadCudaModel(const ModelLoadOptions& options) {
  RETURN_IF_ERROR(ParseDevice(options.device).status());  // before reading a checkpoint for nothing
  ASSIGN_OR_RETURN(auto checkpoint, Checkpoint::Open(options.path));
  ASSIGN_OR_RETURN(const CudaRunnerOptions resolved, ResolveOptions(options, checkpoint->config()));
  std::unique_ptr<ModelRunner> runner;
  RETURN_IF_ERROR(gpu::GuardTorch("loading the model onto the GPU", [&]() -> absl::Status {
    c10::InferenceMode inference;
    c10::cuda::CUDAGuard guard(resolved.device);
    ASSIGN_OR_RETURN(LlamaWeights weights,
                     LoadLlamaWeights(*checkpoint, {resolved.dtype, resolved.device}));
    runner =
        std::make_unique<gpu::LlamaCudaRunner>(checkpoint->config(), std::move(weights), resolved);
    return absl::OkStatus();
  }));
  return runner;
}

absl::StatusOr<std::unique_ptr<ModelRunner>> CreateRandomCudaModel(
    const ModelConfig& config, const ModelLoadOptions& options,
    const RandomWeightsOptions& random) {
  ASSIGN_OR_RETURN(const CudaRunnerOptions resolved, ResolveOptions(options, config));
  std::unique_ptr<ModelRunner> runner;
  RETURN_IF_ERROR(gpu::GuardTorch("creating random weights on the GPU", [&]() -> absl::Status {
    c10::InferenceMode inference;
    c10::cuda::CUDAGuard guard(resolved.device);
    const auto tensor_options = at::TensorOptions().dtype(resolved.dtype).device(resolved.device);
    runner = std::make_unique<gpu::LlamaCudaRunner>(
        config, RandomWeights(config, random, tensor_options), resolved);
    return absl::OkStatus();
  }));
  return runner;
}

}  // namespace ribbon
