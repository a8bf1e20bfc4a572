#include "core/model/model_config.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/common/files.h"
#include "core/common/status_macros.h"
#include "nlohmann/json.hpp"

namespace ribbon {
namespace {

using nlohmann::json;

// Upper bounds of the sizes in config.json: far above any real model (hidden 16384, 126 layers,
// 128 heads, a 256k vocabulary), and low enough that products such as parameter_count() stay
// within int64 (under 2^57).
constexpr int64_t kMaxWidth = int64_t{1} << 20;        // hidden and intermediate size
constexpr int64_t kMaxCount = int64_t{1} << 12;        // layers and heads
constexpr int64_t kMaxVocab = (int64_t{1} << 31) - 1;  // token ids are int32
constexpr int64_t kMaxPositions = int64_t{1} << 30;

const char* const kSupportedArchitectures[] = {"LlamaForCausalLM", "MistralForCausalLM",
                                               "Qwen2ForCausalLM"};

absl::StatusOr<json> ParseJson(const std::string& text, const std::string& source) {
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded())
    return absl::InvalidArgumentError(absl::StrCat(source, ": invalid JSON"));
  if (!parsed.is_object())
    return absl::InvalidArgumentError(absl::StrCat(source, ": not a JSON object"));
  return parsed;
}

// Reads an integer field; `fallback` < 0 means required.
absl::StatusOr<int64_t> IntField(const json& j, const char* key, int64_t fallback,
                                 const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (fallback >= 0) return fallback;
    return absl::InvalidArgumentError(absl::StrCat(source, ": missing \"", key, "\""));
  }
  if (!it->is_number_integer()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": \"", key, "\" must be an integer"));
  }
  return it->get<int64_t>();
}

// Optional string and bool fields: `fallback` when absent or null, INVALID_ARGUMENT naming the
// key for another type (json::value would throw, and a config.json must not end the process).
absl::StatusOr<std::string> StringField(const json& j, const char* key, std::string fallback,
                                        const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": \"", key, "\" must be a string"));
  }
  return it->get<std::string>();
}

absl::StatusOr<bool> BoolField(const json& j, const char* key, bool fallback,
                               const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": \"", key, "\" must be true or false"));
  }
  return it->get<bool>();
}

double NumberField(const json& j, const char* key, double fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : fallback;
}

std::vector<int32_t> IdList(const json& value) {
  std::vector<int32_t> ids;
  if (value.is_number_integer()) ids.push_back(value.get<int32_t>());
  if (value.is_array()) {
    for (const auto& v : value) {
      if (v.is_number_integer()) ids.push_back(v.get<int32_t>());
    }
  }
  return ids;
}

// transformers picks the model class from "model_type" (config.json files written by its own
// GGUF loader, for one, carry no "architectures"); each supported type has one causal-LM class.
const std::pair<const char*, const char*> kArchitectureOfModelType[] = {
    {"llama", "LlamaForCausalLM"},
    {"mistral", "MistralForCausalLM"},
    {"qwen2", "Qwen2ForCausalLM"}};

// "architectures"[0] when present, else the class that "model_type" names.
absl::Status ParseArchitecture(const json& j, const std::string& source, ModelConfig& c) {
  auto arch = j.find("architectures");
  const bool has_architectures = arch != j.end() && !arch->is_null();
  if (has_architectures && (!arch->is_array() || arch->empty() || !(*arch)[0].is_string())) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": \"architectures\" must be a non-empty list of strings"));
  }
  if (has_architectures) {
    c.architecture = (*arch)[0].get<std::string>();
  } else {
    auto type = j.find("model_type");
    if (type == j.end() || !type->is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": missing \"architectures\" (or a \"model_type\" naming one)"));
    }
    for (const auto& [model_type, architecture] : kArchitectureOfModelType) {
      if (*type == model_type) c.architecture = architecture;
    }
    if (c.architecture.empty()) {
      return absl::UnimplementedError(
          absl::StrCat(source, ": no \"architectures\", and unsupported model_type \"",
                       type->get<std::string>(), "\" (supported: llama, mistral, qwen2)"));
    }
  }
  for (const char* supported : kSupportedArchitectures) {
    if (c.architecture == supported) return absl::OkStatus();
  }
  return absl::UnimplementedError(
      absl::StrCat(source, ": unsupported architecture \"", c.architecture,
                   "\" (supported: ", absl::StrJoin(kSupportedArchitectures, ", "), ")"));
}

// RoPE settings live in "rope_scaling" (+ top-level "rope_theta") up to transformers 4.x and in
// "rope_parameters" (theta included) from transformers 5.
absl::Status ParseRopeScaling(const json& j, const std::string& source, ModelConfig& c) {
  c.rope_theta = NumberField(j, "rope_theta", 10000.0);
  auto it = j.find("rope_parameters");
  if (it != j.end() && it->is_object()) {
    c.rope_theta = NumberField(*it, "rope_theta", c.rope_theta);
  } else {
    it = j.find("rope_scaling");
  }
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_object())
    return absl::InvalidArgumentError(absl::StrCat(source, ": rope_scaling must be an object"));
  ASSIGN_OR_RETURN(std::string type, StringField(*it, "type", "", source));
  ASSIGN_OR_RETURN(type, StringField(*it, "rope_type", type, source));
  if (type.empty() || type == "default") return absl::OkStatus();
  if (type != "llama3" && type != "linear") {
    return absl::UnimplementedError(
        absl::StrCat(source, ": unsupported rope_scaling type \"", type, "\""));
  }
  c.rope_scaling.type = type;
  c.rope_scaling.factor = NumberField(*it, "factor", 1.0);
  c.rope_scaling.low_freq_factor = NumberField(*it, "low_freq_factor", 1.0);
  c.rope_scaling.high_freq_factor = NumberField(*it, "high_freq_factor", 4.0);
  const double original = NumberField(*it, "original_max_position_embeddings", 8192);
  if (!(original >= 1 && original <= kMaxPositions)) {  // the cast below must not overflow
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": rope_scaling.original_max_position_embeddings = ", original,
                     " is outside [1, ", kMaxPositions, "]"));
  }
  c.rope_scaling.original_max_position_embeddings = static_cast<int64_t>(original);
  return absl::OkStatus();
}

absl::Status ParseShape(const json& j, const std::string& source, ModelConfig& c) {
  ASSIGN_OR_RETURN(c.hidden_size, IntField(j, "hidden_size", -1, source));
  ASSIGN_OR_RETURN(c.intermediate_size, IntField(j, "intermediate_size", -1, source));
  ASSIGN_OR_RETURN(c.num_layers, IntField(j, "num_hidden_layers", -1, source));
  ASSIGN_OR_RETURN(c.num_heads, IntField(j, "num_attention_heads", -1, source));
  ASSIGN_OR_RETURN(c.num_kv_heads, IntField(j, "num_key_value_heads", c.num_heads, source));
  ASSIGN_OR_RETURN(c.vocab_size, IntField(j, "vocab_size", -1, source));
  ASSIGN_OR_RETURN(c.max_position_embeddings, IntField(j, "max_position_embeddings", 2048, source));
  struct Bounded {
    const char* name;
    int64_t value;
    int64_t max;
  };
  for (const Bounded& size :
       {Bounded{"hidden_size", c.hidden_size, kMaxWidth},
        {"intermediate_size", c.intermediate_size, kMaxWidth},
        {"num_hidden_layers", c.num_layers, kMaxCount},
        {"num_attention_heads", c.num_heads, kMaxCount},
        {"num_key_value_heads", c.num_kv_heads, kMaxCount},
        {"vocab_size", c.vocab_size, kMaxVocab},
        {"max_position_embeddings", c.max_position_embeddings, kMaxPositions}}) {
    if (size.value <= 0 || size.value > size.max) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": \"", size.name, "\" = ", size.value,
                                                     " is outside [1, ", size.max, "]"));
    }
  }
  if (c.num_heads % c.num_kv_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": num_attention_heads (", c.num_heads,
                                                   ") is not a multiple of num_key_value_heads (",
                                                   c.num_kv_heads, ")"));
  }
  const int64_t default_head_dim = c.hidden_size / c.num_heads;
  ASSIGN_OR_RETURN(c.head_dim, IntField(j, "head_dim", default_head_dim, source));
  if (c.head_dim <= 0 || c.head_dim % 2 != 0 || c.head_dim > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": head_dim ", c.head_dim, " must be even and in [2, 256]"));
  }
  return absl::OkStatus();
}

absl::Status ParseAttentionVariant(const json& j, const std::string& source, ModelConfig& c) {
  ASSIGN_OR_RETURN(const bool attention_bias, BoolField(j, "attention_bias", false, source));
  c.qkv_bias = c.architecture == "Qwen2ForCausalLM" || attention_bias;
  auto window = j.find("sliding_window");
  ASSIGN_OR_RETURN(const bool use_window, BoolField(j, "use_sliding_window", false, source));
  const bool window_used = c.architecture == "MistralForCausalLM" || use_window;
  if (window_used && window != j.end() && window->is_number_integer()) {
    c.sliding_window = window->get<int64_t>();
  }
  ASSIGN_OR_RETURN(const std::string activation, StringField(j, "hidden_act", "silu", source));
  if (activation != "silu") {
    return absl::UnimplementedError(
        absl::StrCat(source, ": unsupported hidden_act \"", activation, "\""));
  }
  ASSIGN_OR_RETURN(const bool mlp_bias, BoolField(j, "mlp_bias", false, source));
  if (mlp_bias)
    return absl::UnimplementedError(absl::StrCat(source, ": mlp_bias is not supported"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& config_json,
                                             const std::string& generation_config_json,
                                             const std::string& source) {
  ASSIGN_OR_RETURN(json j, ParseJson(config_json, source));
  ModelConfig c;
  RETURN_IF_ERROR(ParseArchitecture(j, source, c));
  ASSIGN_OR_RETURN(c.model_type, StringField(j, "model_type", "", source));
  RETURN_IF_ERROR(ParseShape(j, source, c));
  RETURN_IF_ERROR(ParseRopeScaling(j, source, c));
  RETURN_IF_ERROR(ParseAttentionVariant(j, source, c));
  c.rms_norm_eps = NumberField(j, "rms_norm_eps", 1e-6);
  ASSIGN_OR_RETURN(c.tie_word_embeddings, BoolField(j, "tie_word_embeddings", false, source));
  if (j.contains("torch_dtype") && j["torch_dtype"].is_string()) c.torch_dtype = j["torch_dtype"];
  if (j.contains("dtype") && j["dtype"].is_string()) c.torch_dtype = j["dtype"];
  if (j.contains("bos_token_id") && j["bos_token_id"].is_number_integer())
    c.bos_token_id = j["bos_token_id"];
  if (j.contains("eos_token_id")) c.eos_token_ids = IdList(j["eos_token_id"]);
  if (!generation_config_json.empty()) {
    ASSIGN_OR_RETURN(json g, ParseJson(generation_config_json, "generation_config.json"));
    if (g.contains("bos_token_id") && g["bos_token_id"].is_number_integer())
      c.bos_token_id = g["bos_token_id"];
    if (g.contains("eos_token_id") && !g["eos_token_id"].is_null())
      c.eos_token_ids = IdList(g["eos_token_id"]);
  }
  return c;
}

int64_t ModelConfig::parameter_count() const {
  const int64_t h = hidden_size;
  const int64_t attention =
      h * (q_size() + 2 * kv_size()) + q_size() * h + (qkv_bias ? q_size() + 2 * kv_size() : 0);
  const int64_t mlp = 3 * h * intermediate_size;
  const int64_t per_layer = attention + mlp + 2 * h;
  const int64_t embeddings = vocab_size * h;
  return embeddings + num_layers * per_layer + h + (tie_word_embeddings ? 0 : embeddings);
}

absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& dir) {
  const std::string path = dir + "/config.json";
  ASSIGN_OR_RETURN(std::string config, ReadTextFile(path));
  std::string generation;
  if (auto text = ReadTextFile(dir + "/generation_config.json"); text.ok()) generation = *text;
  return ParseModelConfig(config, generation, path);
}

}  // namespace ribbon
