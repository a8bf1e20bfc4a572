#include "core/tokenizer/sentencepiece_tokenizer.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/tokenizer/unicode.h"

namespace ribbon {

absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::FromFile(
    const std::string& model_path, const SentencePieceOptions& options) {
  std::string error;
  auto backend = tok::SentencePieceBackend::Load(model_path, error);
  if (backend == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load SentencePiece model ", model_path, ": ", error));
  }
  return std::unique_ptr<SentencePieceTokenizer>(
      new SentencePieceTokenizer(std::move(backend), options));
}

SentencePieceTokenizer::SentencePieceTokenizer(std::unique_ptr<tok::SentencePieceBackend> backend,
                                               const SentencePieceOptions& options)
    : backend_(std::move(backend)), options_(options) {
  if (backend_->bos_id() >= 0) special_ids_.bos = backend_->bos_id();
  if (backend_->eos_id() >= 0) special_ids_.eos.push_back(backend_->eos_id());
}

std::vector<int32_t> SentencePieceTokenizer::Encode(std::string_view text,
                                                    bool add_special_tokens) const {
  std::string repaired;
  if (!tok::IsValidUtf8(text)) {
    repaired = tok::ToUtf8Lossy(text);
    text = repaired;
  }
  const std::vector<int> pieces = backend_->Encode(text);
  std::vector<int32_t> ids;
  ids.reserve(pieces.size() + 2);
  if (add_special_tokens && options_.add_bos && special_ids_.bos) ids.push_back(*special_ids_.bos);
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  if (add_special_tokens && options_.add_eos && !special_ids_.eos.empty()) {
    ids.push_back(special_ids_.eos.front());
  }
  return ids;
}

std::string SentencePieceTokenizer::Decode(std::span<const int32_t> ids,
                                           bool skip_special_tokens) const {
  std::string text;
  std::vector<int> run;
  for (const int32_t id : ids) {
    if (!InRange(id)) continue;
    if (!backend_->IsControl(id)) {
      run.push_back(id);
      continue;
    }
    if (skip_special_tokens) continue;
    text.append(backend_->Decode(run));
    run.clear();
    text.append(backend_->IdToPiece(id));
  }
  text.append(backend_->Decode(run));
  return text;
}

std::optional<int32_t> SentencePieceTokenizer::TokenToId(std::string_view token) const {
  const int id = backend_->PieceToId(token);
  // PieceToId answers the unk id for unknown pieces; only the unk piece itself maps there.
  if (backend_->IsUnknown(id) && backend_->IdToPiece(id) != token) return std::nullopt;
  return id;
}

std::string SentencePieceTokenizer::IdToToken(int32_t id) const {
  return InRange(id) ? backend_->IdToPiece(id) : std::string();
}

}  // namespace ribbon
