// The CUDA model runner's entry points. Torch-free: the engine, the server and tools include
// this; libtorch stays inside ribbon_model_cuda.
//
// LlamaCudaRunner runs the same StepPlan as the CPU runner on one GPU: GEMMs through ATen
// (cuBLAS), RMSNorm / RoPE / SiLU-mul / KV write / gathers as ribbon CUDA kernels
// (kernels/cuda), attention by ModelLoadOptions::attention_backend (see
// core/model/cuda/cuda_attention.h). Compute dtype: "auto" = bfloat16; "float32" and "float16"
// selectable. Describe() names the device, dtype and the attention kernel that runs.
//
// Ownership: the caller owns the returned runner (see ModelRunner). Threads: these functions
// may be called from any thread; the runner from one thread at a time.
#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "core/model/model_config.h"
#include "core/model/model_runner.h"

namespace ribbon {

// Number of CUDA devices the runtime sees; 0 when there is none or no usable driver.
int32_t CudaDeviceCount();

// Loads a Hugging Face Llama-family checkpoint onto options.device ("cuda" or "cuda:N").
// FAILED_PRECONDITION when no CUDA device is present; INVALID_ARGUMENT for a bad device, dtype or
// attention_backend; UNIMPLEMENTED / FAILED_PRECONDITION when a fused attention backend fails its
// load-time self-check against the reference kernel (the message says why).
absl::StatusOr<std::unique_ptr<ModelRunner>> LoadCudaModel(const ModelLoadOptions& options);

struct RandomWeightsOptions {
  uint64_t seed = 0;
  double stddev = 0.02;  // of every matrix; norms are 1, biases N(0, stddev)
};

// A runner with random weights of `config`'s shapes generated on the GPU (no checkpoint):
// for benchmarks of production-sized shapes. options.path is ignored. Errors as LoadCudaModel.
absl::StatusOr<std::unique_ptr<ModelRunner>> CreateRandomCudaModel(
    const ModelConfig& config, const ModelLoadOptions& options, const RandomWeightsOptions& random);

}  // namespace ribbon
