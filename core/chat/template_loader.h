// Finds a model directory's chat template and special-token strings, as transformers does.
//
// Contract:
// - Template source, first found wins: `override_file` (the --chat-template FILE flag) when not
//   empty; <model_dir>/chat_template.jinja; tokenizer_config.json's "chat_template", either a
//   string or a list of {"name", "template"} (every named template is kept; "default" is the
//   one used without tools, "tool_use" with tools when present).
// - Special tokens: tokenizer_config.json's bos_token, eos_token, unk_token, pad_token (a string
//   or an AddedToken object {"content": ...}); absent ones are left out (templates see them as
//   undefined, as with transformers).
// - NotFound when the model has no template (the caller decides whether chat is then refused);
//   InvalidArgument naming the file and field for malformed JSON or a template that fails
//   ChatTemplate::Parse. Reads files only; no global state.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "core/chat/chat_template.h"
#include "nlohmann/json.hpp"

namespace ribbon::chat {

struct ModelChatTemplates {
  // name -> parsed template; a single-template model has just "default".
  std::map<std::string, ChatTemplate> templates;
  std::string origin;  // the file it came from, for logs
  nlohmann::ordered_json special_tokens = nlohmann::ordered_json::object();

  // The template for a request: "tool_use" when `has_tools` and present, else "default", else
  // the only one. Null when none fits.
  const ChatTemplate* Select(bool has_tools) const;
};

absl::StatusOr<ModelChatTemplates> LoadChatTemplates(const std::filesystem::path& model_dir,
                                                     const std::filesystem::path& override_file);

}  // namespace ribbon::chat
