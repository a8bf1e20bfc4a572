// ParseModelConfig: which architecture a config.json names, through "architectures" or, as
// transformers reads it, through "model_type" alone.
#include <catch2/catch.hpp>
#include <string>

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

}  // namespace
}  // namespace ribbon
