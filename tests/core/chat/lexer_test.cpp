// Lexer: tokens and the whitespace rules of transformers' environment (trim_blocks,
// lstrip_blocks, `-` markers), checked through their rendered effect and the token stream.
#include "core/chat/lexer.h"

#include <catch2/catch.hpp>

#include "tests/core/chat/render_helper.h"

namespace ribbon::chat {
namespace {

using testing::RenderOrError;

TEST_CASE("lexer splits text, tags and expression tokens", "[chat][lexer]") {
  auto tokens = Tokenize("a{{ x.y + 1.5 }}b{% if 'q\\n' %}c{% endif %}");
  REQUIRE(tokens.ok());
  std::vector<Token::Type> types;
  for (const auto& t : *tokens) types.push_back(t.type);
  using T = Token::Type;
  CHECK(types == std::vector<T>{T::kText, T::kVarBegin, T::kName, T::kOp, T::kName, T::kOp,
                                T::kFloat, T::kVarEnd, T::kText, T::kBlockBegin, T::kName,
                                T::kString, T::kBlockEnd, T::kText, T::kBlockBegin, T::kName,
                                T::kBlockEnd, T::kEof});
  CHECK((*tokens)[11].text == "q\n");
}

TEST_CASE("trim_blocks drops the newline after a block tag, not after {{ }}", "[chat][lexer]") {
  CHECK(RenderOrError("{% if true %}\nyes\n{% endif %}\nafter") == "yes\nafter");
  CHECK(RenderOrError("{{ 'a' }}\nb") == "a\nb");
  CHECK(RenderOrError("{# note #}\nx") == "x");
  CHECK(RenderOrError("{% if true +%}\nx{% endif %}") == "\nx");
}

TEST_CASE("lstrip_blocks strips indentation before block tags only", "[chat][lexer]") {
  CHECK(RenderOrError("  {% if true %}x{% endif %}") == "x");
  CHECK(RenderOrError("a\n    {% if true %}x\n    {% endif %}b") == "a\nx\nb");
  CHECK(RenderOrError("  {{ 'x' }}") == "  x");
  CHECK(RenderOrError("a  {% if true %}x{% endif %}") == "a  x");
  CHECK(RenderOrError("  {%+ if true %}x{% endif %}") == "  x");
}

TEST_CASE("minus markers strip all whitespace on their side", "[chat][lexer]") {
  CHECK(RenderOrError("a \n {{- 'b' -}} \n c") == "abc");
  CHECK(RenderOrError("a\n\n{%- if true -%}\n\n b {%- endif %}") == "ab");
  CHECK(RenderOrError("x {#- c -#} y") == "xy");
}

TEST_CASE("newlines are normalized and one trailing newline dropped", "[chat][lexer]") {
  CHECK(RenderOrError("a\r\nb\n") == "a\nb");
  CHECK(RenderOrError("a\n\n") == "a\n");
}

TEST_CASE("raw blocks are text", "[chat][lexer]") {
  CHECK(RenderOrError("{% raw %}{{ x }}{% endraw %}") == "{{ x }}");
}

TEST_CASE("a tag does not end inside brackets", "[chat][lexer]") {
  CHECK(RenderOrError("{{ {'a': {'b': 1}}['a']['b'] }}") == "1");
}

TEST_CASE("string escapes follow Python's unicode-escape", "[chat][lexer]") {
  CHECK(RenderOrError(R"({{ 'a\tb\u00e9\x41\'' }})") ==
        "a\tb\xc3\xa9"
        "A'");
  CHECK(RenderOrError(R"({{ "\d" }})") == "\\d");
}

TEST_CASE("lexer errors name the line", "[chat][lexer]") {
  auto unterminated = Tokenize("a\nb {{ 'x");
  REQUIRE_FALSE(unterminated.ok());
  CHECK(std::string(unterminated.status().message()).find("line 2") != std::string::npos);
  CHECK_FALSE(Tokenize("{{ x ) }}").ok());
  CHECK_FALSE(Tokenize("{# open").ok());
}

}  // namespace
}  // namespace ribbon::chat
