#include "core/tokenizer/tokenizer.h"

#include <filesystem>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/common/files.h"
#include "core/common/status_macros.h"
#include "core/tokenizer/hf_tokenizer.h"
#include "core/tokenizer/sentencepiece_tokenizer.h"
#include "core/tokenizer/special_tokens.h"
#include "spdlog/spdlog.h"

namespace ribbon {
namespace {

absl::StatusOr<std::shared_ptr<const Tokenizer>> LoadHf(const std::filesystem::path& json_path,
                                                        const ModelTokenConfig& config) {
  ASSIGN_OR_RETURN(const std::string text, ReadTextFile(json_path.string()));
  ASSIGN_OR_RETURN(std::unique_ptr<HfTokenizer> tokenizer, HfTokenizer::FromJson(text));
  tokenizer->set_special_ids(ResolveSpecialIds(config, *tokenizer, {}));
  return std::shared_ptr<const Tokenizer>(std::move(tokenizer));
}

absl::StatusOr<std::shared_ptr<const Tokenizer>> LoadSentencePiece(
    const std::filesystem::path& model_path, const ModelTokenConfig& config) {
  const SentencePieceOptions options{.add_bos = config.add_bos_token.value_or(true),
                                     .add_eos = config.add_eos_token.value_or(false)};
  ASSIGN_OR_RETURN(std::unique_ptr<SentencePieceTokenizer> tokenizer,
                   SentencePieceTokenizer::FromFile(model_path.string(), options));
  const SpecialTokenIds model_defaults = tokenizer->special_ids();
  tokenizer->set_special_ids(ResolveSpecialIds(config, *tokenizer, model_defaults));
  return std::shared_ptr<const Tokenizer>(std::move(tokenizer));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Tokenizer>> Tokenizer::Load(const std::string& dir) {
  const std::filesystem::path root(dir);
  ASSIGN_OR_RETURN(const ModelTokenConfig config, ReadModelTokenConfig(dir));
  std::error_code error;
  const bool has_model = std::filesystem::exists(root / "tokenizer.model", error);
  if (std::filesystem::exists(root / "tokenizer.json", error)) {
    auto tokenizer = LoadHf(root / "tokenizer.json", config);
    // tokenizer.json of SentencePiece models is converted from tokenizer.model, which
    // libsentencepiece runs as the original: use it when the conversion uses parts we lack.
    if (tokenizer.status().code() != absl::StatusCode::kUnimplemented || !has_model) {
      return tokenizer;
    }
    spdlog::warn("{}; loading {}/tokenizer.model with SentencePiece instead",
                 std::string(tokenizer.status().message()), dir);
  }
  if (has_model) return LoadSentencePiece(root / "tokenizer.model", config);
  return absl::NotFoundError(absl::StrCat("no tokenizer.json or tokenizer.model in '", dir, "'"));
}

}  // namespace ribbon
