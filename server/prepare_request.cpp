#include "server/prepare_request.h"

#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "server/request_validation.h"

namespace ribbon::server {
namespace {

using json = nlohmann::ordered_json;
using ribbon::v1::ChatPrompt;
using ribbon::v1::GenerateRequest;

absl::StatusOr<json> ParseJsonField(const std::string& text, const std::string& field,
                                    bool want_object) {
  RETURN_IF_ERROR(ValidateUtf8Field(text, field));
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return absl::InvalidArgumentError(field + ": not valid JSON");
  if (want_object ? !value.is_object() : !value.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be a JSON ", want_object ? "object" : "array"));
  }
  return value;
}

absl::StatusOr<json> MessagesJson(const ChatPrompt& chat) {
  if (chat.messages().empty()) return absl::InvalidArgumentError("messages: the list is empty");
  json messages = json::array();
  for (int i = 0; i < chat.messages_size(); ++i) {
    const auto& message = chat.messages(i);
    const std::string field = absl::StrCat("messages[", i, "]");
    if (message.role().empty()) return absl::InvalidArgumentError(field + ".role: missing");
    RETURN_IF_ERROR(ValidateUtf8Field(message.role(), field + ".role"));
    RETURN_IF_ERROR(ValidateUtf8Field(message.content(), field + ".content"));
    json entry = json::object();
    if (!message.extra_json().empty()) {
      ASSIGN_OR_RETURN(entry, ParseJsonField(message.extra_json(), field + ".extra_json", true));
    }
    entry["role"] = message.role();
    entry["content"] = message.content();
    messages.push_back(std::move(entry));
  }
  return messages;
}

}  // namespace

uint64_t DeriveSeed(uint64_t seed, uint32_t index) {
  if (index == 0) return seed;
  // SplitMix64 of (seed, index): neighbouring indices get unrelated seeds.
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (static_cast<uint64_t>(index) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

absl::StatusOr<std::vector<int32_t>> RenderChatPrompt(const ChatPrompt& chat,
                                                      const ServingBackend& backend) {
  ASSIGN_OR_RETURN(json messages, MessagesJson(chat));
  json tools = nullptr;
  if (!chat.tools_json().empty()) {
    ASSIGN_OR_RETURN(tools, ParseJsonField(chat.tools_json(), "tools", false));
  }
  json kwargs = json::object();
  if (!chat.template_kwargs_json().empty()) {
    ASSIGN_OR_RETURN(kwargs,
                     ParseJsonField(chat.template_kwargs_json(), "chat_template_kwargs", true));
  }
  if (!backend.render_chat) {
    return absl::FailedPreconditionError(
        "messages: this model has no chat template (start ribbond with --chat-template FILE)");
  }
  const bool add_generation_prompt =
      !chat.has_add_generation_prompt() || chat.add_generation_prompt();
  ASSIGN_OR_RETURN(std::string text,
                   backend.render_chat(messages, tools, add_generation_prompt, kwargs));
  std::vector<int32_t> ids = backend.tokenizer->Encode(text, /*add_special_tokens=*/false);
  if (ids.empty()) return absl::InvalidArgumentError("messages: the rendered prompt is empty");
  return ids;
}

absl::StatusOr<PreparedRequest> PrepareRequest(const GenerateRequest& proto,
                                               const ServingBackend& backend,
                                               const LimitsSection& limits,
                                               const std::string& request_id, TimeNs deadline) {
  const uint32_t n = proto.n() == 0 ? 1 : proto.n();
  if (n > kMaxSequencesPerRequest) {
    return absl::InvalidArgumentError(
        absl::StrCat("n = ", n, " is outside [1, ", kMaxSequencesPerRequest, "]"));
  }
  const ModelLimits model = ModelLimitsFrom(backend.model_config);
  absl::StatusOr<ValidatedRequest> validated;
  if (proto.prompt_case() == GenerateRequest::kChat) {
    ASSIGN_OR_RETURN(std::vector<int32_t> ids, RenderChatPrompt(proto.chat(), backend));
    GenerateRequest rendered = proto;
    rendered.mutable_token_ids()->mutable_ids()->Assign(ids.begin(), ids.end());
    validated = ValidateGenerateRequest(rendered, limits, model, backend.tokenizer.get());
  } else {
    validated = ValidateGenerateRequest(proto, limits, model, backend.tokenizer.get());
  }
  if (!validated.ok()) return validated.status();
  PreparedRequest out;
  out.logprobs = validated->request.sampling.logprobs;
  for (uint32_t i = 0; i < n; ++i) {
    PreparedCall call;
    call.request = validated->request;
    call.request.request_id = n == 1 ? request_id : absl::StrCat(request_id, "/", i);
    call.request.deadline = deadline;
    call.request.cache_salt = proto.cache_salt();
    call.request.sampling.seed = DeriveSeed(validated->request.sampling.seed, i);
    call.processing = {.prompt = call.request.prompt,
                       .stop_strings = validated->stop_strings,
                       .special_tokens = backend.special_tokens};
    out.calls.push_back(std::move(call));
  }
  return out;
}

}  // namespace ribbon::server
