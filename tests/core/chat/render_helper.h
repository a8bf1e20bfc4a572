// Test helper: parse + render in one call, returning the output or "ERROR(<code>): <message>".
#pragma once

#include <string>

#include "core/chat/chat_template.h"

namespace ribbon::chat::testing {

inline std::string RenderOrError(std::string_view source, const nlohmann::ordered_json& context =
                                                              nlohmann::ordered_json::object()) {
  auto parsed = ChatTemplate::Parse(source);
  if (!parsed.ok()) return "PARSE ERROR: " + std::string(parsed.status().message());
  RenderOptions options;
  options.now_unix_seconds = 1780000000;
  auto out = parsed->Render(context, options);
  if (!out.ok()) {
    return "ERROR(" + absl::StatusCodeToString(out.status().code()) +
           "): " + std::string(out.status().message());
  }
  return *out;
}

}  // namespace ribbon::chat::testing
