// Template loader: where a model's template and special tokens come from.
#include "core/chat/template_loader.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

namespace ribbon::chat {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "ribbon_chat_XXXXXX").string();
    path = mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path); }
  void Write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
  }
};

std::string RenderWith(const ChatTemplate& t) {
  ChatInputs in;
  in.messages = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "hi"}])");
  auto out = t.Apply(in);
  return out.ok() ? *out : std::string(out.status().message());
}

TEST_CASE("tokenizer_config.json string template and special tokens", "[chat][loader]") {
  TempDir dir;
  dir.Write("tokenizer_config.json",
            R"({"chat_template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}",
                "bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>"})");
  auto loaded = LoadChatTemplates(dir.path, "");
  REQUIRE(loaded.ok());
  CHECK(loaded->special_tokens.dump() == R"({"bos_token":"<s>","eos_token":"</s>"})");
  const ChatTemplate* t = loaded->Select(false);
  REQUIRE(t != nullptr);
  ChatInputs in;
  in.messages = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "hi"}])");
  in.special_tokens = loaded->special_tokens;
  CHECK(*t->Apply(in) == "<s>hi</s>");
}

TEST_CASE("named templates: default and tool_use", "[chat][loader]") {
  TempDir dir;
  dir.Write("tokenizer_config.json",
            R"({"chat_template": [{"name": "default", "template": "D"},
                                  {"name": "tool_use", "template": "T"}]})");
  auto loaded = LoadChatTemplates(dir.path, "");
  REQUIRE(loaded.ok());
  CHECK(RenderWith(*loaded->Select(false)) == "D");
  CHECK(RenderWith(*loaded->Select(true)) == "T");
}

TEST_CASE("chat_template.jinja wins over the config; --chat-template wins over both",
          "[chat][loader]") {
  TempDir dir;
  dir.Write("tokenizer_config.json", R"({"chat_template": "config"})");
  dir.Write("chat_template.jinja", "file\n");
  dir.Write("override.jinja", "override");
  auto loaded = LoadChatTemplates(dir.path, "");
  REQUIRE(loaded.ok());
  CHECK(RenderWith(*loaded->Select(false)) == "file");
  auto overridden = LoadChatTemplates(dir.path, dir.path / "override.jinja");
  REQUIRE(overridden.ok());
  CHECK(RenderWith(*overridden->Select(false)) == "override");
}

TEST_CASE("loader errors name the file and field", "[chat][loader]") {
  TempDir dir;
  CHECK(LoadChatTemplates(dir.path, "").status().code() == absl::StatusCode::kNotFound);
  dir.Write("tokenizer_config.json", R"({"chat_template": "{% include 'x' %}"})");
  auto bad = LoadChatTemplates(dir.path, "");
  REQUIRE_FALSE(bad.ok());
  std::string message(bad.status().message());
  CHECK(message.find("tokenizer_config.json (chat_template)") != std::string::npos);
  CHECK(message.find("unsupported tag 'include'") != std::string::npos);
  dir.Write("tokenizer_config.json", R"({"chat_template": [{"name": 1}]})");
  CHECK(std::string(LoadChatTemplates(dir.path, "").status().message()).find("[0]") !=
        std::string::npos);
  dir.Write("tokenizer_config.json", "not json");
  CHECK(LoadChatTemplates(dir.path, "").status().code() == absl::StatusCode::kInvalidArgument);
  dir.Write("tokenizer_config.json", "{}");
  CHECK(LoadChatTemplates(dir.path, dir.path / "missing.jinja").status().code() ==
        absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ribbon::chat
