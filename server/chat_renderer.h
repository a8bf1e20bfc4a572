// The model's chat template (core/chat) as the ChatRenderer the front ends use: found as
// transformers finds it (--chat-template FILE first, then chat_template.jinja, then
// tokenizer_config.json), with the tokenizer's special-token strings as template variables.
//
// Pure function over files; the renderer it returns is thread-safe.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "server/serving_backend.h"

namespace ribbon::server {

// An empty renderer when the model has no chat template (chat requests are then refused);
// INVALID_ARGUMENT naming the file and the construct when the template cannot be parsed.
absl::StatusOr<ChatRenderer> LoadChatRenderer(const std::string& tokenizer_dir,
                                              const std::string& override_file);

}  // namespace ribbon::server
