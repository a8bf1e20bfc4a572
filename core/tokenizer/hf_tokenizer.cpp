#include "core/tokenizer/hf_tokenizer.h"

#include <algorithm>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/common/status_macros.h"
#include "core/tokenizer/unicode.h"

namespace ribbon {
namespace {

bool Present(const nlohmann::json& root, const char* key) {
  return root.contains(key) && !root.at(key).is_null();
}

// Prefixes the error of a component with the tokenizer.json field it came from.
absl::Status InField(const char* field, const absl::Status& status) {
  return absl::Status(status.code(),
                      absl::StrCat("tokenizer.json ", field, ": ", status.message()));
}

// Every id the post-processor adds must be a token of this vocabulary: the model looks each id
// up, and a template naming id 8 in an 8-token vocabulary would read past the embeddings. The
// ids it adds are what it makes of an empty sequence.
absl::Status CheckPostProcessorIds(const tok::PostProcessor& post_processor, int32_t vocab_size) {
  std::vector<int32_t> ids;
  post_processor.Process(ids);
  for (const int32_t id : ids) {
    if (id < 0 || id >= vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer.json post_processor: special token id ", id,
                       " is outside the vocabulary [0, ", vocab_size, ")"));
    }
  }
  return absl::OkStatus();
}

std::vector<tok::AddedToken> ParseAddedTokens(const nlohmann::json& root) {
  std::vector<tok::AddedToken> tokens;
  if (!Present(root, "added_tokens")) return tokens;
  for (const auto& item : root.at("added_tokens")) {
    tokens.push_back({.content = item.at("content").get<std::string>(),
                      .single_word = item.value("single_word", false),
                      .lstrip = item.value("lstrip", false),
                      .rstrip = item.value("rstrip", false),
                      .normalized = item.value("normalized", true),
                      .special = item.value("special", false)});
  }
  return tokens;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HfTokenizer>> HfTokenizer::FromJson(std::string_view json_text) {
  std::unique_ptr<HfTokenizer> tokenizer(new HfTokenizer());
  // nlohmann::json reports malformed or mistyped fields by throwing; those stop here.
  try {
    const nlohmann::json root = nlohmann::json::parse(json_text);
    const nlohmann::json& model = root.at("model");
    const std::string model_type = model.value("type", std::string("BPE"));
    if (model_type != "BPE") {
      return absl::UnimplementedError(
          absl::StrCat("tokenizer.json model: unsupported model type '", model_type, "'"));
    }
    auto bpe = tok::BpeModel::FromJson(model);
    if (!bpe.ok()) return InField("model", bpe.status());
    tokenizer->model_ = std::move(*bpe);
    if (Present(root, "normalizer")) {
      auto normalizer = tok::NormalizerFromJson(root.at("normalizer"));
      if (!normalizer.ok()) return InField("normalizer", normalizer.status());
      tokenizer->normalizer_ = std::move(*normalizer);
    }
    if (Present(root, "pre_tokenizer")) {
      auto pre_tokenizer = tok::PreTokenizerFromJson(root.at("pre_tokenizer"));
      if (!pre_tokenizer.ok()) return InField("pre_tokenizer", pre_tokenizer.status());
      tokenizer->pre_tokenizer_ = std::move(*pre_tokenizer);
    }
    if (Present(root, "post_processor")) {
      auto post_processor = tok::PostProcessorFromJson(root.at("post_processor"));
      if (!post_processor.ok()) return InField("post_processor", post_processor.status());
      tokenizer->post_processor_ = std::move(*post_processor);
    }
    if (Present(root, "decoder")) {
      auto decoder = tok::DecoderFromJson(root.at("decoder"));
      if (!decoder.ok()) return InField("decoder", decoder.status());
      tokenizer->decoder_ = std::move(*decoder);
    }
    auto added = tok::AddedVocabulary::Build(ParseAddedTokens(root), *tokenizer->model_,
                                             tokenizer->normalizer_.get());
    if (!added.ok()) return InField("added_tokens", added.status());
    tokenizer->added_ = std::move(*added);
    if (tokenizer->post_processor_) {
      RETURN_IF_ERROR(CheckPostProcessorIds(*tokenizer->post_processor_, tokenizer->vocab_size()));
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer.json is malformed: ", e.what()));
  }
  return tokenizer;
}

void HfTokenizer::EncodeRun(std::string_view run, bool at_input_start,
                            std::vector<int32_t>& ids) const {
  std::string normalized(run);
  if (normalizer_) normalizer_->Normalize(normalized);
  std::vector<tok::PreToken> pieces;
  for (const tok::TextRun& sub : added_.SplitNormalized(normalized)) {
    if (sub.token_id) {
      ids.push_back(*sub.token_id);
      continue;
    }
    if (sub.start == sub.end) continue;
    pieces.assign(
        1, {normalized.substr(sub.start, sub.end - sub.start), at_input_start && sub.start == 0});
    if (pre_tokenizer_) pre_tokenizer_->PreTokenize(pieces);
    for (const tok::PreToken& piece : pieces) model_->Encode(piece.text, ids);
  }
}

std::vector<int32_t> HfTokenizer::Encode(std::string_view text, bool add_special_tokens) const {
  std::string repaired;
  if (!tok::IsValidUtf8(text)) {
    repaired = tok::ToUtf8Lossy(text);
    text = repaired;
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  for (const tok::TextRun& run : added_.SplitRaw(text)) {
    if (run.token_id) {
      ids.push_back(*run.token_id);
    } else if (run.start != run.end) {
      EncodeRun(text.substr(run.start, run.end - run.start), run.start == 0, ids);
    }
  }
  if (add_special_tokens && post_processor_) post_processor_->Process(ids);
  return ids;
}

std::string HfTokenizer::Decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const int32_t id : ids) {
    const std::string* token = added_.IdToToken(id);
    if (token == nullptr) token = model_->IdToToken(id);
    if (token == nullptr) continue;  // unknown ids are skipped, as `tokenizers` does
    if (skip_special_tokens && added_.IsSpecialContent(*token)) continue;
    tokens.push_back(*token);
  }
  if (!decoder_) return absl::StrJoin(tokens, " ");
  decoder_->DecodeChain(tokens);
  return absl::StrJoin(tokens, "");
}

int32_t HfTokenizer::vocab_size() const { return std::max(model_->id_limit(), added_.id_limit()); }

std::optional<int32_t> HfTokenizer::TokenToId(std::string_view token) const {
  if (const auto id = added_.TokenToId(token)) return id;
  return model_->TokenToId(token);
}

std::string HfTokenizer::IdToToken(int32_t id) const {
  if (const std::string* token = added_.IdToToken(id)) return *token;
  if (const std::string* token = model_->IdToToken(id)) return *token;
  return "";
}

std::string HfTokenizer::NormalizeForTest(std::string_view text) const {
  std::string normalized(text);
  if (normalizer_) normalizer_->Normalize(normalized);
  return normalized;
}

std::vector<std::string> HfTokenizer::PreTokenizeForTest(std::string_view text) const {
  std::vector<tok::PreToken> pieces;
  if (!text.empty()) pieces.push_back({std::string(text), true});
  if (pre_tokenizer_) pre_tokenizer_->PreTokenize(pieces);
  std::vector<std::string> out;
  for (tok::PreToken& piece : pieces) out.push_back(std::move(piece.text));
  return out;
}

}  // namespace ribbon
