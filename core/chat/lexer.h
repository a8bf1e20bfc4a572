// Lexer: Jinja template source -> flat token stream, with the whitespace rules transformers'
// environment uses already applied to the text tokens:
// - newlines normalized to "\n" and one trailing newline dropped (keep_trailing_newline=False);
// - `{%-` / `{{-` / `{#-` strip all whitespace before the tag, `-%}` / `-}}` / `-#}` after it;
// - lstrip_blocks: spaces and tabs from the line start up to a `{%` or `{#` are removed (not
//   before `{{`, not with `{%+`); trim_blocks: the first newline after `%}` or `#}` is removed
//   (not after `+%}`);
// - comments vanish; `{% raw %}...{% endraw %}` becomes text.
// Inside tags the lexer produces names, literals and operators; a tag ends only where no bracket
// is open (as jinja2's balancing stack does). Errors: InvalidArgument with the line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ribbon::chat {

struct Token {
  enum class Type {
    kText,        // literal output
    kVarBegin,    // {{
    kVarEnd,      // }}
    kBlockBegin,  // {%
    kBlockEnd,    // %}
    kName,
    kString,  // text holds the unescaped value
    kInt,
    kFloat,
    kOp,  // text holds the operator
    kEof,
  };
  Type type;
  std::string text;
  int line = 1;
};

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view source);

}  // namespace ribbon::chat
