// LlamaWeights: the decoder weights of a Llama-family checkpoint (Llama, Mistral, Qwen2) as
// libtorch tensors in the compute dtype, with Q/K/V and gate/up fused at load time.
// Private to core/model (includes ATen); never included by server/.
//
// Ownership: owns its tensors. Threads: immutable after loading.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "absl/status/statusor.h"
#include "core/model/checkpoint.h"

namespace ribbon {

struct LlamaLayerWeights {
  at::Tensor attn_norm;  // [hidden]
  at::Tensor qkv;        // [q + 2 kv, hidden]
  at::Tensor qkv_bias;   // [q + 2 kv] or undefined
  at::Tensor o;          // [hidden, q]
  at::Tensor mlp_norm;   // [hidden]
  at::Tensor gate_up;    // [2 intermediate, hidden]
  at::Tensor down;       // [hidden, intermediate]
};

struct LlamaWeights {
  at::Tensor embed;  // [vocab, hidden]
  std::vector<LlamaLayerWeights> layers;
  at::Tensor final_norm;  // [hidden]
  at::Tensor lm_head;     // [vocab, hidden] (the embedding when tied)
  int64_t bytes = 0;
};

struct WeightLoadOptions {
  at::ScalarType dtype = at::kFloat;
  at::Device device = at::kCPU;
};

// Copies (and fuses) every tensor out of the memory-mapped checkpoint, releasing the mapped
// pages as it goes so peak memory stays near one copy of the weights.
absl::StatusOr<LlamaWeights> LoadLlamaWeights(const Checkpoint& checkpoint,
                                              const WeightLoadOptions& options);

}  // namespace ribbon
