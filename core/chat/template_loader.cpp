#include "core/chat/template_loader.h"

#include "core/common/files.h"

namespace ribbon::chat {
namespace {

absl::Status AddTemplate(ModelChatTemplates& out, const std::string& name,
                         const std::string& source, const std::string& where) {
  auto parsed = ChatTemplate::Parse(source);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(where + ": " + std::string(parsed.status().message()));
  }
  out.templates.emplace(name, *std::move(parsed));
  return absl::OkStatus();
}

// tokenizer_config.json's "chat_template": a string, or a list of {"name", "template"}.
absl::Status AddConfigTemplates(ModelChatTemplates& out, const nlohmann::ordered_json& value,
                                const std::string& where) {
  if (value.is_string()) return AddTemplate(out, "default", value.get<std::string>(), where);
  if (!value.is_array()) return absl::InvalidArgumentError(where + ": must be a string or a list");
  for (size_t i = 0; i < value.size(); ++i) {
    const auto& entry = value[i];
    std::string at = where + "[" + std::to_string(i) + "]";
    if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() ||
        !entry.contains("template") || !entry["template"].is_string()) {
      return absl::InvalidArgumentError(at + ": must be {\"name\": string, \"template\": string}");
    }
    auto status = AddTemplate(out, entry["name"].get<std::string>(),
                              entry["template"].get<std::string>(), at);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

void ReadSpecialTokens(ModelChatTemplates& out, const nlohmann::ordered_json& config) {
  for (const char* name : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
    auto it = config.find(name);
    if (it == config.end()) continue;
    if (it->is_string()) {
      out.special_tokens[name] = *it;
    } else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
      out.special_tokens[name] = (*it)["content"];
    }
  }
}

}  // namespace

const ChatTemplate* ModelChatTemplates::Select(bool has_tools) const {
  if (has_tools) {
    auto it = templates.find("tool_use");
    if (it != templates.end()) return &it->second;
  }
  auto it = templates.find("default");
  if (it != templates.end()) return &it->second;
  return templates.size() == 1 ? &templates.begin()->second : nullptr;
}

absl::StatusOr<ModelChatTemplates> LoadChatTemplates(const std::filesystem::path& model_dir,
                                                     const std::filesystem::path& override_file) {
  ModelChatTemplates out;
  std::filesystem::path config_path = model_dir / "tokenizer_config.json";
  nlohmann::ordered_json config;
  if (std::filesystem::exists(config_path)) {
    auto text = ReadTextFile(config_path.string());
    if (!text.ok()) return text.status();
    config = nlohmann::ordered_json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (config.is_discarded() || !config.is_object()) {
      return absl::InvalidArgumentError(config_path.string() + ": not a JSON object");
    }
    ReadSpecialTokens(out, config);
  }
  std::filesystem::path jinja_path = model_dir / "chat_template.jinja";
  std::filesystem::path source_path = !override_file.empty() ? override_file : jinja_path;
  if (!override_file.empty() || std::filesystem::exists(jinja_path)) {
    auto text = ReadTextFile(source_path.string());
    if (!text.ok()) return text.status();
    out.origin = source_path.string();
    auto status = AddTemplate(out, "default", *text, out.origin);
    if (!status.ok()) return status;
    return out;
  }
  if (config.is_object() && config.contains("chat_template")) {
    out.origin = config_path.string() + " (chat_template)";
    auto status = AddConfigTemplates(out, config["chat_template"], out.origin);
    if (!status.ok()) return status;
    return out;
  }
  return absl::NotFoundError("no chat template in " + model_dir.string() +
                             " (tokenizer_config.json chat_template or chat_template.jinja); "
                             "pass --chat-template FILE");
}

}  // namespace ribbon::chat
