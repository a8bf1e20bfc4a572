// IncrementalDecoder: the DecodeStream algorithm of `tokenizers` (the window of ids since the
// last emitted chunk is decoded again with each new id; the text past the previous decode is
// emitted once it no longer ends in U+FFFD).
#include <algorithm>

#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/unicode.h"

namespace ribbon {
namespace {

// Length of the longest common prefix of `a` and `b` that ends on a character boundary.
size_t CommonPrefixLength(std::string_view a, std::string_view b) {
  size_t n = 0;
  const size_t limit = std::min(a.size(), b.size());
  while (n < limit && a[n] == b[n]) ++n;
  while (n > 0 && n < a.size() && (static_cast<unsigned char>(a[n]) & 0xC0) == 0x80) --n;
  return n;
}

}  // namespace

IncrementalDecoder::IncrementalDecoder(std::shared_ptr<const Tokenizer> tokenizer,
                                       std::span<const int32_t> prompt_context,
                                       bool skip_special_tokens)
    : tokenizer_(std::move(tokenizer)),
      window_(prompt_context.begin(), prompt_context.end()),
      skip_special_tokens_(skip_special_tokens) {
  if (window_.empty()) return;
  // The prompt is context only. When it ends inside a character, the text from there on is
  // left to the stream, which then emits the completed character.
  prefix_text_ = tokenizer_->Decode(window_, skip_special_tokens_);
  while (tok::EndsWithReplacementChar(prefix_text_)) {
    prefix_text_.resize(prefix_text_.size() - tok::kReplacementUtf8.size());
  }
  prefix_index_ = window_.size();
}

std::string IncrementalDecoder::Push(std::span<const int32_t> new_ids) {
  if (prefix_text_.empty() && !window_.empty()) {
    // Nothing emitted yet (or the window decodes to nothing): fix the context now.
    std::string context = tokenizer_->Decode(window_, skip_special_tokens_);
    if (!tok::EndsWithReplacementChar(context)) {
      prefix_text_ = std::move(context);
      prefix_index_ = window_.size();
    }
  }
  window_.insert(window_.end(), new_ids.begin(), new_ids.end());
  std::string text = tokenizer_->Decode(window_, skip_special_tokens_);
  if (text.size() <= prefix_text_.size() || tok::EndsWithReplacementChar(text)) return "";
  // A decoder that rewrites earlier text would break the prefix; hold until Flush then.
  if (text.compare(0, prefix_text_.size(), prefix_text_) != 0) return "";
  std::string delta = text.substr(prefix_text_.size());
  const size_t new_prefix_index = window_.size() - prefix_index_;
  window_.erase(window_.begin(), window_.begin() + static_cast<std::ptrdiff_t>(prefix_index_));
  prefix_text_ = tokenizer_->Decode(window_, skip_special_tokens_);
  prefix_index_ = new_prefix_index;
  return delta;
}

std::string IncrementalDecoder::Flush() {
  const std::string text = tokenizer_->Decode(window_, skip_special_tokens_);
  const size_t emitted = CommonPrefixLength(text, prefix_text_);
  std::string rest = text.substr(emitted);
  window_.clear();
  prefix_text_.clear();
  prefix_index_ = 0;
  return rest;
}

}  // namespace ribbon
