// ServingBackend: what the front ends (gRPC, OpenAI HTTP) serve once the model is loaded.
// Plain data filled by the daemon at load; read-only afterwards, from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/engine/engine.h"
#include "core/memory/step_budget.h"
#include "core/tokenizer/tokenizer.h"
#include "nlohmann/json.hpp"

namespace ribbon::server {

// Renders a conversation with the model's chat template: `messages` and `tools` are JSON arrays
// (tools may be null), `kwargs` an object of extra template variables. INVALID_ARGUMENT with the
// template's message when the template raises.
// Objects keep the request's key order (templates see it through tojson and items()).
using ChatRenderer = std::function<absl::StatusOr<std::string>(
    const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
    bool add_generation_prompt, const nlohmann::ordered_json& kwargs)>;

struct ServingBackend {
  Engine* engine = nullptr;
  std::shared_ptr<const Tokenizer> tokenizer;
  std::shared_ptr<const std::vector<bool>> special_tokens;  // FindSpecialTokens(*tokenizer)
  ModelConfig model_config;
  std::string model_path;
  std::string served_model_name;  // the name OpenAI clients use (/v1/models)
  std::string device_description;
  int64_t weight_bytes = 0;
  int64_t parameters = 0;
  // From the memory probe (zero when it did not run).
  double activation_bytes_per_token = 0;
  double probe_seconds = 0;
  // engine.max_ribbon_tokens = auto: the step sizes timed at start-up (empty otherwise).
  std::vector<memory::StepTiming> step_curve;
  // Empty when the model has no chat template (chat prompts then answer FAILED_PRECONDITION).
  ChatRenderer render_chat;
  // Counts a Generate/Complete the engine never took (refused, invalid, queue full); may be
  // empty. Requests the engine finished are counted by the engine's observer.
  std::function<void(absl::StatusCode)> count_refused;
};

}  // namespace ribbon::server
