// chat_render_tool: renders chat-template cases for the parity test
// (tests/python/chat_template/test_chat_template_parity.py).
//
//   chat_render_tool CASES.json OUT.json
//
// CASES.json: {"templates": {name: source}, "now_unix_seconds": int,
//              "cases": [{"template": name, "inputs": {messages, tools, add_generation_prompt,
//                          special_tokens, kwargs}}]}
// OUT.json: [{"parse_error": str} | {"output": str} | {"error": str, "code": str}], one per case.
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "core/chat/chat_template.h"

using ribbon::chat::ChatInputs;
using ribbon::chat::ChatTemplate;
using ojson = nlohmann::ordered_json;

namespace {

ChatInputs InputsFrom(const ojson& j) {
  ChatInputs in;
  in.messages = j.value("messages", ojson::array());
  in.tools = j.value("tools", ojson());
  in.documents = j.value("documents", ojson());
  in.add_generation_prompt = j.value("add_generation_prompt", false);
  in.special_tokens = j.value("special_tokens", ojson::object());
  in.kwargs = j.value("kwargs", ojson::object());
  return in;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: chat_render_tool CASES.json OUT.json\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  std::stringstream ss;
  ss << in.rdbuf();
  ojson spec = ojson::parse(ss.str());
  std::map<std::string, absl::StatusOr<ChatTemplate>> templates;
  for (const auto& [name, source] : spec["templates"].items()) {
    templates.emplace(name, ChatTemplate::Parse(source.get<std::string>()));
  }
  ribbon::chat::RenderOptions options;
  options.now_unix_seconds = spec.value("now_unix_seconds", int64_t{0});
  ojson results = ojson::array();
  for (const auto& c : spec["cases"]) {
    const auto& t = templates.at(c["template"].get<std::string>());
    ojson r = ojson::object();
    if (!t.ok()) {
      r["parse_error"] = std::string(t.status().message());
    } else {
      auto out = t->Apply(InputsFrom(c["inputs"]), options);
      if (out.ok()) {
        r["output"] = *out;
      } else {
        r["error"] = std::string(out.status().message());
        r["code"] = absl::StatusCodeToString(out.status().code());
      }
    }
    results.push_back(std::move(r));
  }
  std::ofstream(argv[2]) << results.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return 0;
}
