// ChatTemplate: a model's Jinja chat template, parsed once and rendered per request, with the
// output Hugging Face transformers' apply_chat_template(tokenize=False) gives for the same
// inputs (Python jinja2 3.1: ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks,
// loopcontrols, transformers' {% generation %} block, tojson, raise_exception, strftime_now).
//
// Contract:
// - Parse() reads the whole template. A template using a construct the renderer does not
//   implement (an unknown statement, filter, test or a syntax error) fails here with
//   InvalidArgument naming the construct and its line, never later at render time.
// - Render() is const and thread-safe: one parsed template serves concurrent requests.
//   `context` is the template's variables (an object): messages, tools, add_generation_prompt,
//   bos_token, eos_token, documents and any extra keyword arguments; BuildChatContext() builds it
//   from request parts exactly as transformers does. Use nlohmann::ordered_json so object key
//   order (which tojson and `for k, v in d.items()` expose) is the request's order.
// - A template's raise_exception(msg) returns InvalidArgument whose message is exactly `msg`.
//   Other template errors (undefined attribute access, sandbox violations, type errors) return
//   InvalidArgument with jinja2's wording where the renderer knows it. Nothing throws out.
// - Render is bounded: RenderOptions::max_output_bytes and max_steps stop runaway templates
//   (ResourceExhausted).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace ribbon::chat {

struct RenderOptions {
  // strftime_now() formats this instant (seconds since the Unix epoch, UTC) when set; otherwise
  // the system clock. Tests pin it so both renderers see the same time.
  std::optional<int64_t> now_unix_seconds;
  // Rendering stops with ResourceExhausted beyond these (0 = unlimited).
  size_t max_output_bytes = 16u << 20;
  uint64_t max_steps = 50'000'000;
};

// The parts of a chat request a template sees.
struct ChatInputs {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();  // [{role, content, ...}]
  nlohmann::ordered_json tools;      // null, or a list of JSON tool schemas
  nlohmann::ordered_json documents;  // null, or a list of {title, text}
  bool add_generation_prompt = false;
  // Special-token strings (bos_token, eos_token, unk_token, pad_token...) from the tokenizer
  // config, passed as variables like transformers' special_tokens_map.
  nlohmann::ordered_json special_tokens = nlohmann::ordered_json::object();
  // Extra keyword arguments (OpenAI's chat_template_kwargs); they override the above names.
  nlohmann::ordered_json kwargs = nlohmann::ordered_json::object();
};

// The template context transformers builds: messages with null-valued keys dropped and the
// reasoning fields aliased (reasoning_content/thinking/reasoning), then tools, documents,
// add_generation_prompt, the special tokens and the kwargs. InvalidArgument names a bad field.
absl::StatusOr<nlohmann::ordered_json> BuildChatContext(const ChatInputs& inputs);

struct TemplateProgram;  // the parsed AST (core/chat/ast.h)

class ChatTemplate {
 public:
  static absl::StatusOr<ChatTemplate> Parse(std::string_view source);

  absl::StatusOr<std::string> Render(const nlohmann::ordered_json& context,
                                     const RenderOptions& options = {}) const;

  // Convenience: BuildChatContext(inputs) then Render.
  absl::StatusOr<std::string> Apply(const ChatInputs& inputs,
                                    const RenderOptions& options = {}) const;

 private:
  std::shared_ptr<const TemplateProgram> program_;
};

}  // namespace ribbon::chat
