// ParseModelConfig: which architecture a config.json names, through "architectures" or, as
// transformers reads it, through "model_type" alone.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "core/model/checkpoint.h"
#include "core/model/model_config.h"

namespace ribbon {
namespace {

// A small valid Llama-shaped config with `fields` spliced in at the front.
std::string Config(const std::string& fields) {
  return "{" + fields +
         R"("hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100})";
}

absl::StatusOr<ModelConfig> Parse(const std::string& fields) {
  return ParseModelConfig(Config(fields), "", "config.json");
}

TEST_CASE("model_type alone names the architecture, as in transformers", "[model][config]") {
  for (auto [type, architecture] : {std::pair{"llama", "LlamaForCausalLM"},
                                    {"mistral", "MistralForCausalLM"},
                                    {"qwen2", "Qwen2ForCausalLM"}}) {
    const auto config = Parse(std::string(R"("model_type": ")") + type + R"(", )");
    REQUIRE(config.ok());
    CHECK(config->architecture == architecture);
    CHECK(config->model_type == type);
  }
  // What follows from the architecture follows from model_type too.
  const auto qwen = Parse(R"("model_type": "qwen2", )");
  REQUIRE(qwen.ok());
  CHECK(qwen->qkv_bias);
  const auto mistral = Parse(R"("model_type": "mistral", "sliding_window": 32, )");
  REQUIRE(mistral.ok());
  CHECK(mistral->sliding_window == 32);
}

TEST_CASE("architectures, when present, decides", "[model][config]") {
  const auto config = Parse(R"("architectures": ["MistralForCausalLM"], "model_type": "llama", )");
  REQUIRE(config.ok());
  CHECK(config->architecture == "MistralForCausalLM");
  CHECK(Parse(R"("architectures": null, "model_type": "llama", )").ok());
}

TEST_CASE("an unknown or missing architecture is a clear error", "[model][config]") {
  const auto gpt2 = Parse(R"("model_type": "gpt2", )");
  REQUIRE(gpt2.status().code() == absl::StatusCode::kUnimplemented);
  CHECK_THAT(std::string(gpt2.status().message()),
             Catch::Contains("unsupported model_type \"gpt2\"") &&
                 Catch::Contains("llama, mistral, qwen2"));

  const auto neither = Parse("");
  REQUIRE(neither.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(neither.status().message()),
             Catch::Contains("config.json: missing \"architectures\""));

  const auto bert = Parse(R"("architectures": ["BertModel"], "model_type": "llama", )");
  REQUIRE(bert.status().code() == absl::StatusCode::kUnimplemented);
  CHECK_THAT(std::string(bert.status().message()), Catch::Contains("\"BertModel\""));

  const auto empty = Parse(R"("architectures": [], "model_type": "llama", )");
  REQUIRE(empty.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(empty.status().message()),
             Catch::Contains("\"architectures\" must be a non-empty list"));
}

TEST_CASE("parameter_count equals the elements a real checkpoint stores", "[model][config]") {
  const char* env = std::getenv("RIBBON_SHARED_DATA");
  const std::string path = std::string(env ? env : "../shared/data") + "/stories260k";
  auto checkpoint = Checkpoint::Open(path);
  REQUIRE(checkpoint.ok());
  // stories260K is stored as float32: 4 bytes per parameter, every tensor a weight.
  CHECK((*checkpoint)->config().parameter_count() * 4 == (*checkpoint)->total_bytes());
}

TEST_CASE("parameter_count adds q/k/v biases and an untied head", "[model][config]") {
  ModelConfig c;
  c.hidden_size = 8;
  c.intermediate_size = 16;
  c.num_layers = 2;
  c.num_heads = 2;
  c.num_kv_heads = 1;
  c.head_dim = 4;
  c.vocab_size = 10;
  c.tie_word_embeddings = true;
  // Per layer: q 8x8, k and v 8x4 each, o 8x8, MLP 3x8x16, two norms of 8.
  const int64_t per_layer = 64 + 2 * 32 + 64 + 384 + 16;
  CHECK(c.parameter_count() == 80 + 2 * per_layer + 8);
  c.qkv_bias = true;
  CHECK(c.parameter_count() == 80 + 2 * (per_layer + 16) + 8);
  c.tie_word_embeddings = false;
  CHECK(c.parameter_count() == 2 * 80 + 2 * (per_layer + 16) + 8);
}

// Found by tests/fuzz/checkpoint_fuzz.cpp: json::value() threw for a field of another type
// (ending ribbond), and sizes whose products overflow int64 were accepted.
TEST_CASE("a field of the wrong type or size is an error naming it, not an exception",
          "[model][config]") {
  const std::pair<std::string, std::string> cases[] = {
      {R"("model_type": 5, "architectures": ["LlamaForCausalLM"], )",
       "\"model_type\" must be a string"},
      {R"("model_type": "llama", "attention_bias": "yes", )",
       "\"attention_bias\" must be true or false"},
      {R"("model_type": "llama", "tie_word_embeddings": 1, )",
       "\"tie_word_embeddings\" must be true or false"},
      {R"("model_type": "llama", "hidden_act": 3, )", "\"hidden_act\" must be a string"},
      {R"("model_type": "llama", "rope_scaling": {"rope_type": 1}, )",
       "\"rope_type\" must be a string"},
      {R"("model_type": "llama", "rope_scaling": {"type": "llama3",
          "original_max_position_embeddings": 1e300}, )",
       "original_max_position_embeddings = 1e+300 is outside"},
      {R"("model_type": "llama", "max_position_embeddings": 4611686018427387904, )",
       "\"max_position_embeddings\" = 4611686018427387904 is outside [1, 1073741824]"},
  };
  for (const auto& [fields, message] : cases) {
    const auto config = Parse(fields);
    REQUIRE(config.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(config.status().message()), Catch::Contains(message));
  }
  const auto wide = ParseModelConfig(
      R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 4294967296,
          "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100})",
      "", "config.json");
  CHECK_THAT(std::string(wide.status().message()),
             Catch::Contains("\"intermediate_size\" = 4294967296 is outside [1, 1048576]"));
}

}  // namespace
}  // namespace ribbon
