// SentencePieceTokenizer: a model directory with only tokenizer.model, run through Debian's
// libsentencepiece. Encode adds BOS (and EOS when tokenizer_config.json asks for it) with
// add_special_tokens, as transformers' LlamaTokenizer does. Decode drops control tokens when
// skipping special tokens, and otherwise writes them as their piece text.
//
// Ownership: immutable after FromFile and shared (see Tokenizer). Threads: every const method
// is safe to call concurrently.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tokenizer/sentencepiece_backend.h"
#include "core/tokenizer/special_tokens.h"
#include "core/tokenizer/tokenizer.h"

namespace ribbon {

struct SentencePieceOptions {
  bool add_bos = true;
  bool add_eos = false;
};

class SentencePieceTokenizer final : public Tokenizer {
 public:
  static absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> FromFile(
      const std::string& model_path, const SentencePieceOptions& options);

  std::vector<int32_t> Encode(std::string_view text, bool add_special_tokens) const override;
  std::string Decode(std::span<const int32_t> ids, bool skip_special_tokens) const override;
  int32_t vocab_size() const override { return backend_->piece_size(); }
  std::optional<int32_t> TokenToId(std::string_view token) const override;
  std::string IdToToken(int32_t id) const override;
  std::optional<int32_t> bos_token_id() const override { return special_ids_.bos; }
  std::vector<int32_t> eos_token_ids() const override { return special_ids_.eos; }

  // The model's own BOS/EOS; the loader may replace them from tokenizer_config.json.
  const SpecialTokenIds& special_ids() const { return special_ids_; }
  void set_special_ids(SpecialTokenIds ids) { special_ids_ = std::move(ids); }

 private:
  SentencePieceTokenizer(std::unique_ptr<tok::SentencePieceBackend> backend,
                         const SentencePieceOptions& options);
  bool InRange(int32_t id) const { return id >= 0 && id < backend_->piece_size(); }

  std::unique_ptr<tok::SentencePieceBackend> backend_;
  SentencePieceOptions options_;
  SpecialTokenIds special_ids_;
};

}  // namespace ribbon
