// Parser: tokens -> TemplateProgram, following jinja2 3.1's grammar for the statements and
// expressions chat templates use.
//
// Contract: a template that jinja2 (as transformers configures it) would reject at compile
// time, or that uses a construct this renderer does not implement (an unknown tag, filter or
// test; include/extends/import; the `do` extension), fails here with InvalidArgument naming the
// construct and its line. A successful parse never hands the evaluator a node it cannot run.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "core/chat/ast.h"

namespace ribbon::chat {

absl::StatusOr<TemplateProgram> ParseTemplate(std::string_view source);

}  // namespace ribbon::chat
