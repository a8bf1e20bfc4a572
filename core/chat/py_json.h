// Python's json.dumps over template values, as transformers' tojson filter calls it
// (ensure_ascii=False by default, indent, separators, sort_keys). Floats print as Python's repr,
// NaN/inf as NaN/Infinity, tuples as arrays; Undefined, namespaces and callables raise
// "Object of type X is not JSON serializable".
#pragma once

#include <optional>
#include <string>

#include "core/chat/value.h"

namespace ribbon::chat {

struct JsonDumpOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;  // the per-level indent string; nullopt = one line
  std::optional<std::pair<std::string, std::string>> separators;  // item, key
  bool sort_keys = false;
};

std::string JsonDumps(const Value& value, const JsonDumpOptions& options);
// The JSON string literal for `s` (with quotes).
std::string JsonQuote(const std::string& s, bool ensure_ascii);

}  // namespace ribbon::chat
