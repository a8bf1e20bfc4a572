#include "core/tokenizer/special_tokens.h"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/common/files.h"
#include "core/common/status_macros.h"

namespace ribbon {
namespace {

// The file's JSON, or null when the file does not exist.
absl::StatusOr<nlohmann::json> ReadJsonIfPresent(const std::filesystem::path& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return nlohmann::json();
  ASSIGN_OR_RETURN(const std::string text, ReadTextFile(path.string()));
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), " is not valid JSON"));
  }
  return parsed;
}

// A token setting is either "text" or {"content": "text", ...}.
std::optional<std::string> TokenContent(const nlohmann::json& config, const char* key) {
  if (!config.contains(key)) return std::nullopt;
  const nlohmann::json& value = config.at(key);
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value.at("content").is_string()) {
    return value.at("content").get<std::string>();
  }
  return std::nullopt;
}

std::optional<bool> OptionalBool(const nlohmann::json& config, const char* key) {
  if (!config.contains(key) || !config.at(key).is_boolean()) return std::nullopt;
  return config.at(key).get<bool>();
}

// An id setting is an integer or a list of integers.
std::vector<int32_t> IdList(const nlohmann::json& config, const char* key) {
  std::vector<int32_t> ids;
  if (!config.contains(key)) return ids;
  const nlohmann::json& value = config.at(key);
  if (value.is_number_integer()) ids.push_back(value.get<int32_t>());
  if (value.is_array()) {
    for (const auto& item : value) {
      if (item.is_number_integer()) ids.push_back(item.get<int32_t>());
    }
  }
  return ids;
}

}  // namespace

absl::StatusOr<ModelTokenConfig> ReadModelTokenConfig(const std::string& dir) {
  ModelTokenConfig config;
  const std::filesystem::path root(dir);
  auto tokenizer_config = ReadJsonIfPresent(root / "tokenizer_config.json");
  if (!tokenizer_config.ok()) return tokenizer_config.status();
  if (tokenizer_config->is_object()) {
    config.bos_token = TokenContent(*tokenizer_config, "bos_token");
    config.eos_token = TokenContent(*tokenizer_config, "eos_token");
    config.add_bos_token = OptionalBool(*tokenizer_config, "add_bos_token");
    config.add_eos_token = OptionalBool(*tokenizer_config, "add_eos_token");
  }
  auto generation_config = ReadJsonIfPresent(root / "generation_config.json");
  if (!generation_config.ok()) return generation_config.status();
  if (generation_config->is_object()) {
    const std::vector<int32_t> bos = IdList(*generation_config, "bos_token_id");
    if (!bos.empty()) config.bos_token_id = bos.front();
    config.eos_token_ids = IdList(*generation_config, "eos_token_id");
  }
  return config;
}

SpecialTokenIds ResolveSpecialIds(const ModelTokenConfig& config, const Tokenizer& tokenizer,
                                  const SpecialTokenIds& defaults) {
  SpecialTokenIds ids;
  if (config.bos_token) ids.bos = tokenizer.TokenToId(*config.bos_token);
  if (!ids.bos) ids.bos = config.bos_token_id;
  if (!ids.bos) ids.bos = defaults.bos;
  const auto add_eos = [&](int32_t id) {
    if (std::find(ids.eos.begin(), ids.eos.end(), id) == ids.eos.end()) ids.eos.push_back(id);
  };
  if (config.eos_token) {
    if (const auto id = tokenizer.TokenToId(*config.eos_token)) add_eos(*id);
  }
  for (const int32_t id : config.eos_token_ids) add_eos(id);
  if (ids.eos.empty()) ids.eos = defaults.eos;
  return ids;
}

}  // namespace ribbon
