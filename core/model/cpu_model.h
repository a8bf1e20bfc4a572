// The CPU model runner's entry point. Torch-free header; libtorch stays inside ribbon_model.
//
// LlamaCpuRunner (core/model/llama_runner.cpp) runs Llama-family decoders (Llama, Mistral,
// Qwen2): float32 activations and KV, GEMM weights float32 or bfloat16 (dtype "bfloat16").
// Ownership: the caller owns the returned runner. Threads: any thread; the runner from one
// thread at a time (ModelRunner).
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "core/model/model_runner.h"

namespace ribbon {

// INVALID_ARGUMENT for a dtype other than auto/float32/bfloat16; checkpoint errors as
// Checkpoint::Open and LoadLlamaWeights report them.
absl::StatusOr<std::unique_ptr<ModelRunner>> LoadCpuModel(const ModelLoadOptions& options);

}  // namespace ribbon
