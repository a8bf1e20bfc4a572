// HfTokenizer: a Hugging Face tokenizer.json run in C++, step for step as the `tokenizers`
// library does it: added tokens, normalizer, pre-tokenizer, BPE model, post-processor on the
// way in; added tokens, model vocabulary and decoder on the way out.
//
// Ownership: built by FromJson, then immutable and shared (see Tokenizer). Threads: every
// const method is safe to call concurrently.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tokenizer/added_vocabulary.h"
#include "core/tokenizer/bpe_model.h"
#include "core/tokenizer/decoders.h"
#include "core/tokenizer/normalizers.h"
#include "core/tokenizer/post_processors.h"
#include "core/tokenizer/pre_tokenizers.h"
#include "core/tokenizer/special_tokens.h"
#include "core/tokenizer/tokenizer.h"

namespace ribbon {

class HfTokenizer final : public Tokenizer {
 public:
  // Parses the text of a tokenizer.json. An unsupported component is UNIMPLEMENTED and a
  // malformed file INVALID_ARGUMENT; both messages name the part at fault.
  static absl::StatusOr<std::unique_ptr<HfTokenizer>> FromJson(std::string_view json_text);

  // Invalid UTF-8 in `text` is first replaced with U+FFFD (callers should validate).
  std::vector<int32_t> Encode(std::string_view text, bool add_special_tokens) const override;
  std::string Decode(std::span<const int32_t> ids, bool skip_special_tokens) const override;
  int32_t vocab_size() const override;
  std::optional<int32_t> TokenToId(std::string_view token) const override;
  std::string IdToToken(int32_t id) const override;
  std::optional<int32_t> bos_token_id() const override { return special_ids_.bos; }
  std::vector<int32_t> eos_token_ids() const override { return special_ids_.eos; }

  // Set once by the loader, before the tokenizer is shared.
  void set_special_ids(SpecialTokenIds ids) { special_ids_ = std::move(ids); }

  // The normalizer alone on `text` (unchanged when there is none); for parity tests.
  std::string NormalizeForTest(std::string_view text) const;
  // The pre-tokenizer alone on `text`, as `tokenizers`' pre_tokenize_str; for parity tests.
  std::vector<std::string> PreTokenizeForTest(std::string_view text) const;

 private:
  HfTokenizer() = default;
  // Normalizes, pre-tokenizes and encodes one run of text that holds no raw added token.
  void EncodeRun(std::string_view run, bool at_input_start, std::vector<int32_t>& ids) const;

  std::unique_ptr<tok::Normalizer> normalizer_;
  std::unique_ptr<tok::PreTokenizer> pre_tokenizer_;
  std::unique_ptr<tok::BpeModel> model_;
  std::unique_ptr<tok::PostProcessor> post_processor_;
  std::unique_ptr<tok::Decoder> decoder_;
  tok::AddedVocabulary added_;
  SpecialTokenIds special_ids_;
};

}  // namespace ribbon
