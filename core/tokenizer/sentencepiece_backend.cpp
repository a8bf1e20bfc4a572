// No Abseil header may be included here (see sentencepiece_backend.h).
#include "core/tokenizer/sentencepiece_backend.h"

#include <sentencepiece_processor.h>

namespace ribbon::tok {

std::unique_ptr<SentencePieceBackend> SentencePieceBackend::Load(const std::string& path,
                                                                 std::string& error) {
  auto processor = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = processor->Load(path);
  if (!status.ok()) {
    error = status.ToString();
    return nullptr;
  }
  return std::unique_ptr<SentencePieceBackend>(new SentencePieceBackend(std::move(processor)));
}

SentencePieceBackend::SentencePieceBackend(
    std::unique_ptr<sentencepiece::SentencePieceProcessor> processor)
    : processor_(std::move(processor)) {}

SentencePieceBackend::~SentencePieceBackend() = default;

std::vector<int> SentencePieceBackend::Encode(std::string_view text) const {
  std::vector<int> ids;
  // Encoding valid UTF-8 with a loaded model does not fail; on failure `ids` stays empty.
  processor_->Encode(text, &ids).IgnoreError();
  return ids;
}

std::string SentencePieceBackend::Decode(const std::vector<int>& ids) const {
  std::string text;
  processor_->Decode(ids, &text).IgnoreError();
  return text;
}

int SentencePieceBackend::PieceToId(std::string_view piece) const {
  return processor_->PieceToId(piece);
}

std::string SentencePieceBackend::IdToPiece(int id) const { return processor_->IdToPiece(id); }

int SentencePieceBackend::piece_size() const { return processor_->GetPieceSize(); }

bool SentencePieceBackend::IsControl(int id) const { return processor_->IsControl(id); }

bool SentencePieceBackend::IsUnknown(int id) const { return processor_->IsUnknown(id); }

int SentencePieceBackend::bos_id() const { return processor_->bos_id(); }

int SentencePieceBackend::eos_id() const { return processor_->eos_id(); }

}  // namespace ribbon::tok
