// Tokenizer: Hugging Face tokenizer.json (and SentencePiece tokenizer.model) in C++, exact to
// the Python `tokenizers` library. Torch-free. See docs/tokenizer.md for what is supported.
//
// Ownership: a Tokenizer is immutable after Load and shared (std::shared_ptr) by every request.
// Threads: every Tokenizer method is const and safe to call concurrently. An
// IncrementalDecoder belongs to one request and is used from one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ribbon {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Loads `dir`/tokenizer.json (+ tokenizer_config.json, generation_config.json for BOS/EOS),
  // or else `dir`/tokenizer.model. An unsupported component is UNIMPLEMENTED and a malformed
  // file INVALID_ARGUMENT, naming the part; NOT_FOUND when neither file exists. When
  // tokenizer.json uses an unsupported component and tokenizer.model exists, the latter is
  // loaded instead (with a warning naming the component).
  static absl::StatusOr<std::shared_ptr<const Tokenizer>> Load(const std::string& dir);

  // `text` should be valid UTF-8 (callers validate; invalid subparts are encoded as U+FFFD).
  // add_special_tokens applies the post-processor template (e.g. BOS), as `tokenizers`'
  // encode(text, add_special_tokens). Special-token text in `text` becomes that token.
  virtual std::vector<int32_t> Encode(std::string_view text, bool add_special_tokens) const = 0;
  // As `tokenizers`' decode(ids, skip_special_tokens). Invalid UTF-8 byte sequences from
  // byte-level pieces are replaced with U+FFFD, as the library does.
  virtual std::string Decode(std::span<const int32_t> ids, bool skip_special_tokens) const = 0;

  // One more than the largest id (model vocabulary and added tokens).
  virtual int32_t vocab_size() const = 0;
  virtual std::optional<int32_t> TokenToId(std::string_view token) const = 0;
  virtual std::string IdToToken(int32_t id) const = 0;
  virtual std::optional<int32_t> bos_token_id() const = 0;
  virtual std::vector<int32_t> eos_token_ids() const = 0;
};

// Streams text from a growing sequence of ids, as `tokenizers`' DecodeStream (with the prompt
// as its initial ids) does. Each Push returns the new text that is final: it never ends inside
// a UTF-8 character (text whose decode ends in U+FFFD is held back until a later id completes
// it), and it is never revised. The concatenation of everything returned (Push... then Flush)
// equals Decode(prompt_context + generated) with Decode(prompt_context) cut from its front,
// i.e. the generated text as it reads after the prompt (for a Llama-style decoder, a leading
// space is kept when there is context and dropped when there is none).
//
// Ownership: shares the tokenizer; owns its window of ids. Threads: one request's decoder is
// used from one thread at a time.
class IncrementalDecoder {
 public:
  IncrementalDecoder(std::shared_ptr<const Tokenizer> tokenizer,
                     std::span<const int32_t> prompt_context, bool skip_special_tokens = true);
  // Takes the next generated ids; returns the text they make final (often empty).
  std::string Push(std::span<const int32_t> new_ids);
  // Ends the stream: returns whatever text is still held back (e.g. an incomplete character,
  // shown as U+FFFD exactly as Decode shows it).
  std::string Flush();

 private:
  std::shared_ptr<const Tokenizer> tokenizer_;
  // The ids still needed as context: those of the last emitted chunk and any pending ones.
  std::vector<int32_t> window_;
  // Decode of window_[0, prefix_index_): the text already accounted for.
  std::string prefix_text_;
  size_t prefix_index_ = 0;
  bool skip_special_tokens_;
};

}  // namespace ribbon
