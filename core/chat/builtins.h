// The filters, tests and global functions a template can name, with jinja2 3.1's semantics
// under transformers' environment (tojson and the globals raise_exception, strftime_now,
// namespace, dict, range). The parser checks names against IsFilter/IsTest so a template naming
// one that does not exist fails at parse time, as jinja2 fails at compile time.
#pragma once

#include <string_view>

#include "core/chat/value.h"

namespace ribbon::chat {

class Evaluator;

bool IsFilter(std::string_view name);
bool IsTest(std::string_view name);

// args.positional[0] is the filtered value.
Value ApplyFilter(Evaluator& eval, std::string_view name, CallArgs& args);
bool ApplyTest(Evaluator& eval, std::string_view name, const Value& value, CallArgs& args);

// Methods of str, list and dict values (`s.strip()`, `d.items()`); Undefined when `value` has
// no such attribute. Mutating methods raise the sandbox's SecurityError when called.
Value GetMethod(const Value& value, const std::string& name);

// Python's str.format for the `{}` / `{0}` / `{name}` / `{:spec}` forms templates use.
std::string PyFormat(const std::string& format, const CallArgs& args);
// Python's printf-style `fmt % args`.
std::string PyPercent(const std::string& format, const Value& args);

}  // namespace ribbon::chat
