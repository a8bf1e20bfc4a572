// ModelConfig: the architecture of a Hugging Face checkpoint, parsed from config.json and
// generation_config.json. Torch-free. Plain value; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ribbon {

struct RopeScaling {
  std::string type;  // "" (none), "llama3", "linear"
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string architecture;  // e.g. "LlamaForCausalLM"
  std::string model_type;    // e.g. "llama"
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;       // Qwen2 (and attention_bias: true)
  int64_t sliding_window = 0;  // 0 = none
  std::string torch_dtype = "float32";
  int32_t bos_token_id = -1;
  std::vector<int32_t> eos_token_ids;

  int64_t q_size() const { return num_heads * head_dim; }
  int64_t kv_size() const { return num_kv_heads * head_dim; }
  // Weights of the decoder-only transformer this describes: embeddings, attention (with q/k/v
  // biases when qkv_bias), MLP, norms, and the LM head unless tied. The one count GetServerInfo,
  // the probe and the docs use.
  int64_t parameter_count() const;
};

// Parses and validates the JSON texts. `source` names the file in error messages.
absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& config_json,
                                             const std::string& generation_config_json,
                                             const std::string& source);

// Reads `dir`/config.json (required) and `dir`/generation_config.json (optional).
absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& dir);

}  // namespace ribbon
