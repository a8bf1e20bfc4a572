// SentencePieceBackend: a thin wrapper over Debian's libsentencepiece for a tokenizer.model.
// It exists as its own translation unit because sentencepiece_processor.h declares
// absl::string_view itself, which clashes with Abseil: this header and its .cpp include no
// Abseil header, and the rest of the tokenizer includes no SentencePiece header.
//
// Ownership: owns the loaded processor; immutable after Load. Threads: const methods are safe
// to call concurrently (SentencePiece's encode/decode do not mutate the processor).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}  // namespace sentencepiece

namespace ribbon::tok {

class SentencePieceBackend {
 public:
  // Loads `path`; null with `error` set on failure.
  static std::unique_ptr<SentencePieceBackend> Load(const std::string& path, std::string& error);
  ~SentencePieceBackend();

  std::vector<int> Encode(std::string_view text) const;
  std::string Decode(const std::vector<int>& ids) const;
  int PieceToId(std::string_view piece) const;  // the unk id when the piece is unknown
  std::string IdToPiece(int id) const;
  int piece_size() const;
  bool IsControl(int id) const;
  bool IsUnknown(int id) const;
  int bos_id() const;  // -1 when the model has none
  int eos_id() const;

 private:
  explicit SentencePieceBackend(std::unique_ptr<sentencepiece::SentencePieceProcessor> processor);
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
};

}  // namespace ribbon::tok
