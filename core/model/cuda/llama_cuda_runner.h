// LlamaCudaRunner: the ModelRunner for Llama-family decoders (Llama, Mistral, Qwen2) on one CUDA
// device. Per layer: RMSNorm (kernel), fused QKV GEMM (ATen/cuBLAS), RoPE (kernel), KV write by
// slot mapping (kernel), attention (CudaAttention), O GEMM + residual add, RMSNorm, fused
// gate/up GEMM, SiLU-mul (kernel), down GEMM + residual add. The residual adds are separate from
// the GEMMs so that 16-bit rounding happens where transformers' eager code rounds.
// Private to core/model/cuda (includes ATen); created through core/model/cuda/cuda_model.h.
//
// Sampling: a step whose rows the device sampler covers (core/model/cuda/device_sampler.h) is
// sampled on the GPU and only the token ids come back; any other step's logits are copied to the
// host and sampled there (HostSamplingRunner).
//
// Ownership: owns its weights, KV cache and workspaces on the device. Threads: one at a time
// (the engine thread); every call runs on the device's current CUDA stream and a step's tokens
// are on the host when Launch returns.
#pragma once

#include <ATen/core/Tensor.h>

#include <span>
#include <string>

#include "core/model/cuda/cuda_attention.h"
#include "core/model/cuda/device_plan.h"
#include "core/model/cuda/device_sampler.h"
#include "core/model/host_sampling_runner.h"
#include "core/model/llama_weights.h"

namespace ribbon::gpu {

struct CudaRunnerOptions {
  at::Device device = at::Device(at::kCUDA, 0);
  at::ScalarType dtype = at::kBFloat16;
  AttentionBackend attention = AttentionBackend::kFlash;
  // Sample on the device the steps it covers; false: every step on the host.
  bool device_sampling = true;
};

class LlamaCudaRunner final : public HostSamplingRunner {
 public:
  LlamaCudaRunner(ModelConfig config, LlamaWeights weights, const CudaRunnerOptions& options);

  const ModelConfig& config() const override { return c_; }
  std::string Describe() const override;
  int64_t weight_bytes() const override { return w_.bytes; }
  int64_t KvBytesPerBlock(int32_t block_size) const override;
  absl::Status AllocateKvCache(int32_t num_blocks, int32_t block_size) override;

 protected:
  PlanLimits Limits() const override;
  bool HasKvCache() const override { return k_cache_.defined(); }
  absl::Status ComputeLogits(const StepPlan& plan, std::span<const int32_t> row_tokens,
                             std::span<float> logits) override;
  absl::StatusOr<bool> ForwardAndSample(const StepPlan& plan, std::span<const int32_t> row_tokens,
                                        StepOutput& out) override;

 private:
  // Embedding and every layer; the hidden rows are in x_ afterwards.
  absl::StatusOr<DevicePlan> Forward(const StepPlan& plan, std::span<const int32_t> row_tokens);
  absl::Status Layer(const DevicePlan& plan, int64_t layer);
  // float32 logits [num_samples, vocab] on the device (undefined when nothing is sampled).
  absl::StatusOr<at::Tensor> DeviceLogits(const DevicePlan& plan);
  void EnsureWorkspace(int64_t rows);
  at::Tensor Rows(const at::Tensor& workspace) const { return workspace.narrow(0, 0, rows_); }

  ModelConfig c_;
  LlamaWeights w_;
  CudaRunnerOptions options_;
  std::string device_name_;
  at::Tensor rope_cos_, rope_sin_;  // [max_position, head_dim / 2] float32 on the device
  at::Tensor k_cache_, v_cache_;    // [layers, slots, kv_heads * head_dim]
  int32_t num_blocks_ = 0;
  int32_t block_size_ = 16;
  PlanUploader uploader_;
  CudaAttention attention_;
  DeviceSampler sampler_;
  // Workspaces sized for capacity_ rows, reused every step.
  int64_t capacity_ = 0;
  at::Tensor x_, h_, qkv_, attn_, gate_up_, act_, proj_;
  int64_t rows_ = 0;  // rows of the step in flight
};

}  // namespace ribbon::gpu
