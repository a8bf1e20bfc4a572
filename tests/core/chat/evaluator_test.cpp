// Evaluator and builtins: jinja2 3.1 semantics under transformers' environment. Expected values
// were taken from Python jinja2 3.1.6 (ImmutableSandboxedEnvironment, transformers' tojson).
#include "core/chat/evaluator.h"

#include <catch2/catch.hpp>
#include <thread>

#include "tests/core/chat/render_helper.h"

namespace ribbon::chat {
namespace {

using testing::RenderOrError;
using ojson = nlohmann::ordered_json;

const ojson kContext = {{"d", ojson::object()},
                        {"m", {{"a", 1}}},
                        {"messages", {{{"role", "user"}, {"content", "hi"}}}}};

std::string R(std::string_view source) { return RenderOrError(source, kContext); }

TEST_CASE("scoping: loops get a fresh frame per iteration, if does not", "[chat][eval]") {
  CHECK(R("{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = x + 10 %}{{ x }};{% endfor %}{{ x "
          "}}") == "111;111;1");
  CHECK(R("{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}") == "2");
  CHECK(R("{% set ns = namespace(a=1) %}{% for i in [1, 2] %}{% set ns.a = ns.a + i %}{% endfor "
          "%}{{ ns.a }}") == "4");
  CHECK(R("{% macro m() %}{{ top }}{% endmacro %}{% set top = 'T' %}{{ m() }}") == "T");
}

TEST_CASE("loop variables", "[chat][eval]") {
  CHECK(R("{% for x in [1, 2, 3] %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}"
          "{{ loop.length }}{{ loop.revindex }}{% endfor %}") ==
        "10TrueFalse3321FalseFalse3232FalseTrue31");
  CHECK(R("{% for x in [1, 2, 3] if x > 1 %}{{ loop.index }}/{{ loop.length }}{% endfor %}") ==
        "1/22/2");
  CHECK(R("{% for x in [1, 2, 3] %}{% if x == 2 %}{% continue %}{% endif %}"
          "{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}") == "1");
  CHECK(R("{% for x in [1, 2] %}{{ loop.previtem }}{{ loop.nextitem }}{% endfor %}") == "21");
  CHECK(R("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}") == "a=1;b=2;");
  CHECK(R("{% for k in {'b': 1, 'a': 2} %}{{ k }}{% endfor %}") == "ba");
}

TEST_CASE("undefined values and jinja2's error messages", "[chat][eval]") {
  CHECK(R("[{{ x }}][{{ d.y }}][{{ [1][3] }}][{{ none.x }}]") == "[][][][]");
  CHECK(R("{{ x.y }}") == "ERROR(INVALID_ARGUMENT): 'x' is undefined");
  CHECK(R("{{ d.y.z }}") == "ERROR(INVALID_ARGUMENT): 'dict object' has no attribute 'y'");
  CHECK(R("{{ foo() }}") == "ERROR(INVALID_ARGUMENT): 'foo' is undefined");
  CHECK(R("{{ 'abc'.foo() }}") == "ERROR(INVALID_ARGUMENT): 'str object' has no attribute 'foo'");
  CHECK(R("{{ x is defined }}{{ x is undefined }}{{ x is none }}{{ x is iterable }}") ==
        "FalseTrueFalseTrue");
}

TEST_CASE("the immutable sandbox", "[chat][eval]") {
  CHECK(R("{{ [].append(1) }}") ==
        "ERROR(INVALID_ARGUMENT): access to attribute 'append' of 'list' object is unsafe.");
  CHECK(R("{{ m.pop('a') }}") ==
        "ERROR(INVALID_ARGUMENT): access to attribute 'pop' of 'dict' object is unsafe.");
  CHECK(R("{% set ns = namespace(_a=1) %}").find("underscore-prefixed") != std::string::npos);
  CHECK(R("{% set m.a = 2 %}") ==
        "ERROR(INVALID_ARGUMENT): cannot assign attribute on non-namespace object");
  CHECK(R("{{ range(200000)|length }}").find("Range too big") != std::string::npos);
}

TEST_CASE("raise_exception carries the template's message exactly", "[chat][eval]") {
  CHECK(R("{{ raise_exception('Roles must alternate user/assistant/user/assistant/...') }}") ==
        "ERROR(INVALID_ARGUMENT): Roles must alternate user/assistant/user/assistant/...");
}

TEST_CASE("Python value semantics", "[chat][eval]") {
  CHECK(R("{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1.5e-7 }} {{ 10 / 4 }} {{ 7 // -2 }} {{ -7 % 3 "
          "}}") == "1.0 0.30000000000000004 1e+16 1.5e-07 2.5 -4 2");
  CHECK(R("{{ [1, 'a', none, true, {'k': 'v'}] }}") == "[1, 'a', None, True, {'k': 'v'}]");
  CHECK(R("{{ (x or 'fallback') }}{{ 0 or '' }}{{ 1 and 'y' }}") == "fallbacky");
  CHECK(R("{{ 'x' * 3 }}{{ [0] * 2 }}") == "xxx[0, 0]");
  CHECK(R("{{ 1 == 1.0 }}{{ true == 1 }}{{ 'a' < 'b' }}{{ [1, 2] < [1, 3] }}") ==
        "TrueTrueTrueTrue");
  CHECK(R("{{ 1 + 'a' }}") ==
        "ERROR(INVALID_ARGUMENT): unsupported operand type(s) for +: 'int' and 'str'");
  CHECK(R("{{ 1 < 'a' }}") ==
        "ERROR(INVALID_ARGUMENT): '<' not supported between instances of 'int' and 'str'");
  CHECK(R("{{ messages[0]['content'] }}{{ messages[0].content }}{{ messages|length }}") == "hihi1");
  CHECK(R("{{ m.get('a') }}{{ m.get('z', 'dflt') }}{{ m.get('z') }}") == "1dfltNone");
  CHECK(R("{{ {0: 'zero', 512: 'x'}[512] }}") == "x");
}

TEST_CASE("string methods", "[chat][eval]") {
  CHECK(
      R("{{ '  a b  '|trim }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|"
        "{{ 'abc'.startswith(('x', 'a')) }}|{{ 'Hello World'.lower() }}|{{ 'hello world'|title }}|"
        "{{ 'aXa'.replace('a', 'b') }}") ==
      "a b|['a', 'b', '', 'c']|['a', 'b']|True|hello world|"
      "Hello World|bXb");
  CHECK(R("{{ 'aa'.count('a') }}{{ 'abc'.find('c') }}{{ 'a\\nb'.splitlines() }}") ==
        "22['a', 'b']");
  CHECK(R("{{ ' x '.strip() }}{{ 'xxa'.lstrip('x') }}{{ 'axx'.rstrip('x') }}") == "xaa");
  CHECK(R("{{ 'a {} {}'.format(1, 'b') }}|{{ '%s-%d'|format('x', 3) }}|{{ "
          "'{:>4}|{:.2f}'.format('a', 1.5) }}") == "a 1 b|x-3|   a|1.50");
  CHECK(R("{{ 'é'|length }}{{ 'héllo'[1] }}{{ 'héllo'[:2] }}") == "1éhé");
}

TEST_CASE("case mapping follows Python's Unicode tables; title is jinja2's", "[chat][eval]") {
  CHECK(
      R("{{ 'é'|upper }}|{{ 'straße'|upper }}|{{ 'ΑΒΓ Ω'|lower }}|{{ \"it's a-b(c\"|title }}|"
        "{{ \"it's\".title() }}|{{ 'ÉCOLE x'|capitalize }}|{{ 'Привет'|upper }}|{{ 'ǅ'|lower }}") ==
      "É|STRASSE|αβγ ω|It's A-B(C|It'S|École x|ПРИВЕТ|ǆ");
}

TEST_CASE("filters", "[chat][eval]") {
  CHECK(R("{{ [3, 1, 2]|sort|list }}{{ ['b', 'A', 'a']|unique|list }}{{ [1, 2]|reverse|list }}"
          "{{ {'b': 1, 'A': 2}|dictsort }}") == "[1, 2, 3]['b', 'A'][2, 1][('A', 2), ('b', 1)]");
  CHECK(R("{{ [{'a': 1}, {'a': 2}]|selectattr('a', 'equalto', 2)|list }}"
          "{{ [{'a': 1}]|map(attribute='a')|list }}{{ [1, 0, 2]|select|list }}{{ [1, 2]|join('-') "
          "}}") == "[{'a': 2}][1][1, 2]1-2");
  CHECK(R("{{ 'x'|default('d') }}{{ u|default('d') }}{{ ''|default('d', true) }}{{ [1, 2]|first }}"
          "{{ [1, 2]|last }}{{ 'abc'|length }}{{ '42'|int + 1 }}{{ 'x'|int }}{{ '2.5'|float }}") ==
        "xdd1234302.5");
  CHECK(R("{{ 'a\\nb'|indent(2) }}|{{ 'a\\nb'|indent(2, first=true) }}|{{ 'a\\n\\nb'|indent(2, "
          "blank=true) }}") == "a\n  b|  a\n  b|a\n  \n  b");
  CHECK(R("{{ [2, 3, 1]|min }}{{ [2, 3, 1]|max }}{{ [1, 2]|sum }}") == "133");
  CHECK(R("{{ 'a'|replace('a', 'b') }}{{ 'ab'|list }}{{ 1|string }}{{ none|string }}") ==
        "b['a', 'b']1None");
}

TEST_CASE("filter results are generators where jinja2's are", "[chat][eval]") {
  CHECK(R("{% if []|select %}gen-truthy{% endif %}{{ []|map('upper')|list }}") == "gen-truthy[]");
  CHECK(R("{% set g = [1, 2]|select %}{{ g|list }}{{ g|list }}") == "[1, 2][]");
  CHECK(R("{{ [1]|map('string')|tojson }}") ==
        "ERROR(INVALID_ARGUMENT): Object of type generator is not JSON serializable");
  CHECK(R("{{ {'a': 1}.items()|length }}{{ {'a': 1}.keys()|list }}") == "1['a']");
  CHECK(R("{{ none|selectattr('a')|list }}") == "[]");
}

TEST_CASE("transformers' tojson", "[chat][eval]") {
  CHECK(R("{{ {'b': 1, 'a': [1.0, 'é', none, true]}|tojson }}") ==
        "{\"b\": 1, \"a\": [1.0, \"é\", null, true]}");
  CHECK(R("{{ {'b': 1, 'a': 2}|tojson(indent=2) }}") == "{\n  \"b\": 1,\n  \"a\": 2\n}");
  CHECK(R("{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}") == "{\"a\": 2, \"b\": 1}");
  CHECK(R("{{ {'a': 1}|tojson(separators=(',', ':')) }}") == "{\"a\":1}");
  CHECK(R("{{ '<&>\"\\n'|tojson }}") == "\"<&>\\\"\\n\"");
  CHECK(R("{{ 'é'|tojson(ensure_ascii=true) }}") == "\"\\u00e9\"");
  CHECK(R("{{ x|tojson }}") ==
        "ERROR(INVALID_ARGUMENT): Object of type Undefined is not JSON serializable");
}

TEST_CASE("Markup from |safe escapes plain strings added to it", "[chat][eval]") {
  CHECK(R("{{ ('<b>'|safe) + '<i>' }}{{ '<i>' + ('<b>'|safe) }}{{ ('<b>'|safe) ~ '<i>' }}") ==
        "<b>&lt;i&gt;&lt;i&gt;<b><b><i>");
}

TEST_CASE("strftime_now uses the pinned clock", "[chat][eval]") {
  CHECK(R("{{ strftime_now('%Y-%m-%d %H:%M') }}") == "2026-05-28 20:26");
}

TEST_CASE("nesting built by a template is bounded", "[chat][eval]") {
  CHECK(R("{% set ns = namespace(x=[]) %}{% for i in range(2000) %}{% set ns.x = [ns.x] %}"
          "{% endfor %}{{ ns.x|length }}") ==
        "ERROR(INVALID_ARGUMENT): list or dict nested too deeply");
}

TEST_CASE("render limits stop runaway templates", "[chat][eval]") {
  auto t = ChatTemplate::Parse(
      "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}");
  REQUIRE(t.ok());
  RenderOptions options;
  options.max_steps = 100000;
  auto out = t->Render(ojson::object(), options);
  REQUIRE_FALSE(out.ok());
  CHECK(out.status().code() == absl::StatusCode::kResourceExhausted);
}

TEST_CASE("one parsed template renders concurrently", "[chat][eval]") {
  auto t = ChatTemplate::Parse(
      "{% macro m(x) %}<{{ x|upper }}>{% endmacro %}{% set ns = namespace(n=0) %}"
      "{% for msg in messages %}{% set ns.n = ns.n + 1 %}{{ m(msg.content) }}{% endfor %}{{ ns.n "
      "}}");
  REQUIRE(t.ok());
  ChatInputs in;
  for (int i = 0; i < 20; ++i)
    in.messages.push_back({{"role", "user"}, {"content", "m" + std::to_string(i)}});
  const std::string expected = *t->Apply(in);
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int i = 0; i < 200; ++i) mismatches[k] += *t->Apply(in) != expected;
    });
  }
  for (auto& th : threads) th.join();
  CHECK(expected.substr(0, 8) == "<M0><M1>");
  CHECK(mismatches == std::vector<int>(4, 0));
}

TEST_CASE("BuildChatContext normalizes messages as transformers does", "[chat][eval]") {
  ChatInputs in;
  in.messages = ojson::parse(R"([{"role": "assistant", "content": null, "reasoning": "r"}])");
  in.special_tokens = {{"bos_token", "<s>"}};
  in.kwargs = {{"bos_token", "<B>"}, {"enable_thinking", false}};
  auto ctx = BuildChatContext(in);
  REQUIRE(ctx.ok());
  const auto& msg = (*ctx)["messages"][0];
  CHECK_FALSE(msg.contains("content"));
  CHECK(msg.dump() ==
        R"({"thinking":"r","role":"assistant","reasoning":"r","reasoning_content":"r"})");
  CHECK((*ctx)["bos_token"] == "<B>");
  CHECK((*ctx)["enable_thinking"] == false);
  in.messages = ojson::array({1});
  CHECK(BuildChatContext(in).status().message() == "messages[0]: must be an object");
}

}  // namespace
}  // namespace ribbon::chat
