#include "core/chat/chat_template.h"

#include "core/chat/ast.h"
#include "core/chat/evaluator.h"
#include "core/chat/parser.h"

namespace ribbon::chat {
namespace {

// transformers' _REASONING_FIELDS: the first present one fills `thinking` (read by gpt-oss style
// templates) and `reasoning_content` (the standard name).
constexpr const char* kReasoningFields[] = {"reasoning_content", "thinking", "reasoning"};

nlohmann::ordered_json NormalizeMessage(const nlohmann::ordered_json& message) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& [k, v] : message.items()) {
    if (!v.is_null()) out[k] = v;
  }
  const nlohmann::ordered_json* reasoning = nullptr;
  for (const char* field : kReasoningFields) {
    auto it = out.find(field);
    if (it != out.end()) {
      reasoning = &*it;
      break;
    }
  }
  if (!reasoning) return out;
  nlohmann::ordered_json aliased = nlohmann::ordered_json::object();
  aliased["thinking"] = *reasoning;  // {"thinking": r, **message, "reasoning_content": r}
  for (const auto& [k, v] : out.items()) aliased[k] = v;
  aliased["reasoning_content"] = *reasoning;
  return aliased;
}

}  // namespace

absl::StatusOr<nlohmann::ordered_json> BuildChatContext(const ChatInputs& inputs) {
  if (!inputs.messages.is_array()) return absl::InvalidArgumentError("messages: must be a list");
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  for (size_t i = 0; i < inputs.messages.size(); ++i) {
    if (!inputs.messages[i].is_object()) {
      return absl::InvalidArgumentError("messages[" + std::to_string(i) + "]: must be an object");
    }
    messages.push_back(NormalizeMessage(inputs.messages[i]));
  }
  if (!inputs.tools.is_null() && !inputs.tools.is_array()) {
    return absl::InvalidArgumentError("tools: must be a list of JSON schemas");
  }
  if (!inputs.kwargs.is_null() && !inputs.kwargs.is_object()) {
    return absl::InvalidArgumentError("chat_template_kwargs: must be an object");
  }
  // Order as transformers builds its render(...) call: special tokens, then messages, tools,
  // documents, add_generation_prompt, then the kwargs (which win on a name clash).
  nlohmann::ordered_json context = nlohmann::ordered_json::object();
  if (inputs.special_tokens.is_object()) {
    for (const auto& [k, v] : inputs.special_tokens.items()) context[k] = v;
  }
  context["messages"] = std::move(messages);
  context["tools"] = inputs.tools;
  context["documents"] = inputs.documents;
  context["add_generation_prompt"] = inputs.add_generation_prompt;
  if (inputs.kwargs.is_object()) {
    for (const auto& [k, v] : inputs.kwargs.items()) context[k] = v;
  }
  return context;
}

absl::StatusOr<ChatTemplate> ChatTemplate::Parse(std::string_view source) {
  auto program = ParseTemplate(source);
  if (!program.ok()) return program.status();
  ChatTemplate t;
  t.program_ = std::make_shared<const TemplateProgram>(*std::move(program));
  return t;
}

absl::StatusOr<std::string> ChatTemplate::Render(const nlohmann::ordered_json& context,
                                                 const RenderOptions& options) const {
  if (!program_) return absl::FailedPreconditionError("chat template not parsed");
  if (!context.is_object())
    return absl::InvalidArgumentError("chat template context: must be an object");
  try {
    Evaluator evaluator(options);
    return evaluator.Render(*program_, context);
  } catch (const TemplateError& e) {
    if (e.kind == TemplateError::Kind::kResource) return absl::ResourceExhaustedError(e.message);
    return absl::InvalidArgumentError(e.message);
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("chat template: ") + e.what());
  }
}

absl::StatusOr<std::string> ChatTemplate::Apply(const ChatInputs& inputs,
                                                const RenderOptions& options) const {
  auto context = BuildChatContext(inputs);
  if (!context.ok()) return context.status();
  return Render(*context, options);
}

}  // namespace ribbon::chat
