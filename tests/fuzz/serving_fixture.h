// The serving side the request fuzz targets (generate_request, openai_request) validate
// against: stories260K's tokenizer and config from the shared data, and a ChatML chat template
// with tools (Qwen2.5's), as ribbond would load them. Built once per process.
// Also the checks every prepared request must pass. Header-only; one thread.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/model/model_config.h"
#include "core/tokenizer/tokenizer.h"
#include "server/chat_renderer.h"
#include "server/prepare_request.h"
#include "tests/fuzz/fuzz_util.h"

namespace ribbon::fuzz {

inline const server::ServingBackend& Backend() {
  static const server::ServingBackend* backend = [] {
    auto* out = new server::ServingBackend;
    const std::string model = SharedData() + "/stories260k";
    auto tokenizer = Tokenizer::Load(model);
    Require(tokenizer.ok(), "cannot load " + model + ": " + tokenizer.status().ToString());
    auto config = LoadModelConfig(model);
    Require(config.ok(), "cannot load " + model + ": " + config.status().ToString());
    auto renderer = server::LoadChatRenderer(
        model, SharedData() + "/chat_templates/Qwen-Qwen2.5-7B-Instruct.jinja");
    Require(renderer.ok(), "cannot load the chat template: " + renderer.status().ToString());
    out->tokenizer = *tokenizer;
    out->model_config = *config;
    out->served_model_name = "stories260k";
    out->render_chat = *renderer;
    return out;
  }();
  return *backend;
}

// A refused request: INVALID_ARGUMENT (or FAILED_PRECONDITION) with a message.
inline void CheckRefusal(const absl::Status& status) {
  Require(absl::IsInvalidArgument(status) || absl::IsFailedPrecondition(status),
          "unexpected code: " + status.ToString());
  Require(!status.message().empty(), "an error without a message");
}

// What every accepted request must satisfy before it reaches the engine.
inline void CheckPrepared(const server::PreparedRequest& prepared, uint32_t n,
                          const server::LimitsSection& limits) {
  const ModelConfig& model = Backend().model_config;
  Require(prepared.calls.size() == (n == 0 ? 1 : n), "not n calls");
  for (const server::PreparedCall& call : prepared.calls) {
    const GenerationRequest& request = call.request;
    Require(!request.prompt.empty(), "an empty prompt was accepted");
    for (const int32_t id : request.prompt) {
      Require(id >= 0 && id < model.vocab_size, absl::StrCat("prompt id ", id, " outside vocab"));
    }
    const StopConditions& stop = request.stop;
    Require(stop.max_new_tokens >= 1, "max_new_tokens < 1 accepted");
    Require(static_cast<int64_t>(request.prompt.size()) + stop.max_new_tokens <=
                model.max_position_embeddings,
            "prompt + max_new_tokens past the context");
    Require(stop.min_new_tokens >= 0 && stop.min_new_tokens <= stop.max_new_tokens,
            "min_new_tokens outside [0, max_new_tokens]");
    for (const int32_t id : stop.stop_token_ids) {
      Require(id >= 0 && id < model.vocab_size, "stop token id outside vocab");
    }
    Require(static_cast<int64_t>(call.processing.stop_strings.size()) <= limits.max_stop_strings,
            "too many stop strings");
    for (const std::string& stop_string : call.processing.stop_strings) {
      Require(!stop_string.empty(), "an empty stop string accepted");
    }
    for (const auto& [id, bias] : request.sampling.logit_bias) {
      Require(id >= 0 && id < model.vocab_size, "logit_bias id outside vocab");
    }
    Require(request.sampling.top_logprobs >= 0 &&
                request.sampling.top_logprobs <= limits.max_top_logprobs,
            "top_logprobs outside its limit");
  }
}

}  // namespace ribbon::fuzz
