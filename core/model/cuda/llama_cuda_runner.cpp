#include "core/model/cuda/llama_cuda_runner.h"

#include <ATen/cuda/CUDAContext.h>
#include <ATen/ops/addmm.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/zeros.h>
#include <c10/core/InferenceMode.h>
#include <c10/cuda/CUDAGuard.h>

#include "absl/strings/str_format.h"
#include "core/common/status_macros.h"
#include "core/model/cuda/torch_status.h"
#include "core/model/rope.h"
#include "kernels/cuda/layer_ops.h"

namespace ribbon::gpu {
namespace {

kernels::ElementType ElementOf(at::ScalarType dtype) {
  switch (dtype) {
    case at::kHalf:
      return kernels::ElementType::kF16;
    case at::kBFloat16:
      return kernels::ElementType::kBF16;
    default:
      return kernels::ElementType::kF32;
  }
}

AttentionShape ShapeOf(const ModelConfig& c, at::ScalarType dtype) {
  return {static_cast<int32_t>(c.num_heads), static_cast<int32_t>(c.num_kv_heads),
          static_cast<int32_t>(c.head_dim), static_cast<int32_t>(c.sliding_window), dtype};
}

cudaStream_t CurrentStream(const at::Device& device) {
  return c10::cuda::getCurrentCUDAStream(device.index()).stream();
}

}  // namespace

LlamaCudaRunner::LlamaCudaRunner(ModelConfig config, LlamaWeights weights,
                                 const CudaRunnerOptions& options)
    : c_(std::move(config)),
      w_(std::move(weights)),
      options_(options),
      attention_(options.attention, ShapeOf(c_, options.dtype)) {
  device_name_ = at::cuda::getDeviceProperties(options_.device.index())->name;
  const RopeTables tables = BuildRopeTables(c_, c_.max_position_embeddings);
  const int64_t half = c_.head_dim / 2;
  const auto on_device = at::TensorOptions().dtype(at::kFloat).device(options_.device);
  rope_cos_ = at::from_blob(const_cast<float*>(tables.cos.data()),
                            {c_.max_position_embeddings, half}, at::kFloat)
                  .to(on_device, /*non_blocking=*/false, /*copy=*/true);
  rope_sin_ = at::from_blob(const_cast<float*>(tables.sin.data()),
                            {c_.max_position_embeddings, half}, at::kFloat)
                  .to(on_device, /*non_blocking=*/false, /*copy=*/true);
}

std::string LlamaCudaRunner::Describe() const {
  return absl::StrFormat("cuda:%d (%s) %s, attention=%s", options_.device.index(), device_name_,
                         kernels::ElementTypeName(ElementOf(options_.dtype)),
                         attention_.Describe());
}

int64_t LlamaCudaRunner::KvBytesPerBlock(int32_t block_size) const {
  return 2 * c_.num_layers * block_size * c_.kv_size() *
         static_cast<int64_t>(c10::elementSize(options_.dtype));
}

absl::Status LlamaCudaRunner::AllocateKvCache(int32_t num_blocks, int32_t block_size) {
  if (block_size <= 0 || num_blocks < 0)
    return absl::InvalidArgumentError("num_blocks must be >= 0 and block_size positive");
  ForgetPreviousStep();
  // The old cache goes first, so the two never coexist; 0 blocks leaves none (the probe's
  // release). After a failure no cache is held and the runner stays usable.
  k_cache_ = at::Tensor();
  v_cache_ = at::Tensor();
  num_blocks_ = 0;
  block_size_ = block_size;
  if (num_blocks == 0) return absl::OkStatus();
  absl::Status status = GuardTorch("allocating the KV cache", [&] {
    c10::InferenceMode inference;
    c10::cuda::CUDAGuard guard(options_.device);
    const int64_t slots = static_cast<int64_t>(num_blocks) * block_size;
    const auto options = at::TensorOptions().dtype(options_.dtype).device(options_.device);
    k_cache_ = at::zeros({c_.num_layers, slots, c_.kv_size()}, options);
    v_cache_ = at::zeros({c_.num_layers, slots, c_.kv_size()}, options);
    return absl::OkStatus();
  });
  if (!status.ok()) {
    k_cache_ = at::Tensor();
    v_cache_ = at::Tensor();
    return status;
  }
  num_blocks_ = num_blocks;
  return absl::OkStatus();
}

PlanLimits LlamaCudaRunner::Limits() const {
  return {c_.vocab_size, c_.max_position_embeddings, num_blocks_, block_size_};
}

void LlamaCudaRunner::EnsureWorkspace(int64_t rows) {
  if (rows <= capacity_) return;
  capacity_ = std::max<int64_t>(rows, 2 * capacity_);
  const auto options = at::TensorOptions().dtype(options_.dtype).device(options_.device);
  const int64_t d = c_.hidden_size, f = c_.intermediate_size;
  x_ = at::empty({capacity_, d}, options);
  h_ = at::empty({capacity_, d}, options);
  proj_ = at::empty({capacity_, d}, options);
  qkv_ = at::empty({capacity_, c_.q_size() + 2 * c_.kv_size()}, options);
  attn_ = at::empty({capacity_, c_.q_size()}, options);
  gate_up_ = at::empty({capacity_, 2 * f}, options);
  act_ = at::empty({capacity_, f}, options);
}

absl::Status LlamaCudaRunner::ComputeLogits(const StepPlan& plan,
                                            std::span<const int32_t> row_tokens,
                                            std::span<float> logits) {
  return GuardTorch("CUDA forward step", [&]() -> absl::Status {
    c10::InferenceMode inference;
    c10::cuda::CUDAGuard guard(options_.device);
    const auto stream = c10::cuda::getCurrentCUDAStream(options_.device.index());
    ASSIGN_OR_RETURN(const DevicePlan d, Forward(plan, row_tokens));
    ASSIGN_OR_RETURN(const at::Tensor device_logits, DeviceLogits(d));
    if (device_logits.defined()) {
      at::from_blob(logits.data(), device_logits.sizes(), at::kFloat).copy_(device_logits);
    }
    return CudaStatus(cudaStreamSynchronize(stream.stream()), "finishing the step");
  });
}

absl::StatusOr<bool> LlamaCudaRunner::ForwardAndSample(const StepPlan& plan,
                                                       std::span<const int32_t> row_tokens,
                                                       StepOutput& out) {
  if (!options_.device_sampling || !DeviceSamplesStep(plan)) return false;
  RETURN_IF_ERROR(GuardTorch("CUDA forward step with device sampling", [&]() -> absl::Status {
    c10::InferenceMode inference;
    c10::cuda::CUDAGuard guard(options_.device);
    const auto stream = c10::cuda::getCurrentCUDAStream(options_.device.index());
    ASSIGN_OR_RETURN(const DevicePlan d, Forward(plan, row_tokens));
    ASSIGN_OR_RETURN(at::Tensor device_logits, DeviceLogits(d));
    if (!device_logits.defined()) {
      out.sampled.clear();
      out.sample_seconds = 0;
      return CudaStatus(cudaStreamSynchronize(stream.stream()), "finishing the step");
    }
    return sampler_.Sample(plan, device_logits, stream, out);  // waits for the ids
  }));
  return true;
}

absl::StatusOr<DevicePlan> LlamaCudaRunner::Forward(const StepPlan& plan,
                                                    std::span<const int32_t> row_tokens) {
  const auto stream = c10::cuda::getCurrentCUDAStream(options_.device.index());
  ASSIGN_OR_RETURN(DevicePlan d, uploader_.Upload(plan, row_tokens, stream));
  rows_ = plan.num_rows;
  EnsureWorkspace(rows_);
  const int64_t row_bytes = c_.hidden_size * x_.element_size();
  kernels::GatherRowsArgs embed{w_.embed.data_ptr(), row_bytes, d.token_ids,
                                x_.data_ptr(),       rows_,     row_bytes};
  RETURN_IF_ERROR(CudaStatus(kernels::GatherRows(embed, stream.stream()), "embedding lookup"));
  attention_.BeginStep(d);
  for (int64_t layer = 0; layer < c_.num_layers; ++layer) RETURN_IF_ERROR(Layer(d, layer));
  return d;
}

absl::Status LlamaCudaRunner::Layer(const DevicePlan& plan, int64_t layer) {
  const LlamaLayerWeights& w = w_.layers[layer];
  const cudaStream_t stream = CurrentStream(options_.device);
  const kernels::ElementType type = ElementOf(options_.dtype);
  const int64_t d = c_.hidden_size, q = c_.q_size(), kv = c_.kv_size(), f = c_.intermediate_size;
  const int64_t qkv_width = q + 2 * kv;
  const float eps = static_cast<float>(c_.rms_norm_eps);
  at::Tensor x = Rows(x_), h = Rows(h_), qkv = Rows(qkv_), attn = Rows(attn_), proj = Rows(proj_);

  RETURN_IF_ERROR(CudaStatus(
      kernels::RmsNorm(
          {x.data_ptr(), d, w.attn_norm.data_ptr(), h.data_ptr(), d, rows_, d, eps, type}, stream),
      "attention RMSNorm"));
  if (w.qkv_bias.defined()) {
    at::addmm_out(qkv, w.qkv_bias, h, w.qkv.t());
  } else {
    at::mm_out(qkv, h, w.qkv.t());
  }
  kernels::RopeArgs rope{qkv.data_ptr(),
                         qkv_width,
                         rows_,
                         static_cast<int32_t>(c_.num_heads),
                         static_cast<int32_t>(c_.num_kv_heads),
                         static_cast<int32_t>(c_.head_dim),
                         plan.positions,
                         rope_cos_.data_ptr<float>(),
                         rope_sin_.data_ptr<float>(),
                         type};
  RETURN_IF_ERROR(CudaStatus(kernels::ApplyRope(rope, stream), "RoPE"));
  const at::Tensor k_cache = k_cache_[layer], v_cache = v_cache_[layer];
  const int64_t elem = qkv.element_size();
  kernels::WriteKvArgs write{static_cast<const char*>(qkv.data_ptr()) + q * elem,
                             static_cast<const char*>(qkv.data_ptr()) + (q + kv) * elem,
                             qkv_width,
                             plan.slot_mapping,
                             rows_,
                             kv,
                             k_cache.data_ptr(),
                             v_cache.data_ptr(),
                             type};
  RETURN_IF_ERROR(CudaStatus(kernels::WriteKv(write, stream), "KV write"));
  RETURN_IF_ERROR(attention_.Run(plan, {qkv, k_cache, v_cache, attn},
                                 c10::cuda::getCurrentCUDAStream(options_.device.index())));
  at::mm_out(proj, attn, w.o.t());
  x.add_(proj);

  RETURN_IF_ERROR(CudaStatus(
      kernels::RmsNorm(
          {x.data_ptr(), d, w.mlp_norm.data_ptr(), h.data_ptr(), d, rows_, d, eps, type}, stream),
      "MLP RMSNorm"));
  at::Tensor gate_up = Rows(gate_up_), act = Rows(act_);
  at::mm_out(gate_up, h, w.gate_up.t());
  RETURN_IF_ERROR(CudaStatus(
      kernels::SiluMul({gate_up.data_ptr(), act.data_ptr(), rows_, f, type}, stream), "SiLU-mul"));
  at::mm_out(proj, act, w.down.t());
  x.add_(proj);
  return absl::OkStatus();
}

absl::StatusOr<at::Tensor> LlamaCudaRunner::DeviceLogits(const DevicePlan& plan) {
  const int64_t s = plan.num_samples;
  if (s == 0) return at::Tensor();
  const cudaStream_t stream = CurrentStream(options_.device);
  const int64_t d = c_.hidden_size;
  const int64_t row_bytes = d * x_.element_size();
  at::Tensor h = h_.narrow(0, 0, s);
  kernels::GatherRowsArgs gather{x_.data_ptr(), row_bytes, plan.sample_rows,
                                 h.data_ptr(),  s,         row_bytes};
  RETURN_IF_ERROR(CudaStatus(kernels::GatherRows(gather, stream), "sample-row gather"));
  kernels::RmsNormArgs norm{h.data_ptr(),
                            d,
                            w_.final_norm.data_ptr(),
                            h.data_ptr(),
                            d,
                            s,
                            d,
                            static_cast<float>(c_.rms_norm_eps),
                            ElementOf(options_.dtype)};
  RETURN_IF_ERROR(CudaStatus(kernels::RmsNorm(norm, stream), "final RMSNorm"));
  // Logits in the compute dtype, then float32, as transformers computes them (lm_head, .float()).
  // contiguous(): the device sampler reads rows of a plain [s, vocab] matrix.
  return at::mm(h, w_.lm_head.t()).to(at::kFloat).contiguous();
}

}  // namespace ribbon::gpu
