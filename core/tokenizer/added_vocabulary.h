// AddedVocabulary: the "added_tokens" of tokenizer.json (special tokens such as <s> or
// <|endoftext|>, and user-added tokens). They are found in the text before the model runs,
// longest match first at the leftmost position, honouring lstrip, rstrip, single_word and
// normalized, as Hugging Face `tokenizers` does. Internal to ribbon_tokenizer.
//
// Ownership: built once at load, immutable. Threads: all const methods are safe to call
// concurrently.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "core/tokenizer/bpe_model.h"
#include "core/tokenizer/normalizers.h"
#include "core/tokenizer/regex.h"

namespace ribbon::tok {

struct AddedToken {
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
};

// A run of the input: either text still to be encoded or one added token.
struct TextRun {
  size_t start;
  size_t end;
  std::optional<int32_t> token_id;
};

class AddedVocabulary {
 public:
  // Ids follow `tokenizers`: a token already in the model keeps the model's id; a new one gets
  // the next free id after the model vocabulary. Normalized tokens are matched in their
  // normalized form, so `normalizer` (may be null) is applied to their content here.
  static absl::StatusOr<AddedVocabulary> Build(const std::vector<AddedToken>& tokens,
                                               const BpeModel& model, const Normalizer* normalizer);

  // Splits `text` on the tokens that match raw text (normalized == false).
  std::vector<TextRun> SplitRaw(std::string_view text) const { return Split(text, raw_); }
  // Splits already-normalized `text` on the tokens that match normalized text.
  std::vector<TextRun> SplitNormalized(std::string_view text) const {
    return Split(text, normalized_);
  }

  // By original content.
  std::optional<int32_t> TokenToId(std::string_view content) const;
  // The token as it is decoded: the normalized content for normalized tokens.
  const std::string* IdToToken(int32_t id) const;
  // Whether `content` is the original content of a special token (what decode skips).
  bool IsSpecialContent(std::string_view content) const {
    return special_.contains(ToAbsl(content));
  }
  // One more than the largest added id (0 when there is none).
  int32_t id_limit() const { return id_limit_; }
  // Tokens not already in the model vocabulary.
  int32_t new_token_count() const { return new_token_count_; }

 private:
  // A byte trie over the contents of one matching set.
  struct TrieNode {
    absl::flat_hash_map<uint8_t, int32_t> children;
    int32_t token_index = -1;  // into entries_ when a content ends here
  };
  struct MatchSet {
    std::vector<TrieNode> nodes{TrieNode{}};
    std::array<bool, 256> first_bytes{};
    bool empty() const { return nodes.size() == 1; }
  };
  struct Entry {
    AddedToken token;
    int32_t id;
  };

  static void Insert(MatchSet& set, std::string_view content, int32_t entry_index);
  // Longest content starting at `pos`, as {entry index, length}; entry -1 when none.
  std::pair<int32_t, size_t> LongestAt(const MatchSet& set, std::string_view text,
                                       size_t pos) const;
  std::vector<TextRun> Split(std::string_view text, const MatchSet& set) const;
  bool IsWordChar(char32_t c) const;

  std::vector<Entry> entries_;
  MatchSet raw_;
  MatchSet normalized_;
  absl::flat_hash_map<std::string, int32_t> id_by_content_;
  absl::flat_hash_map<int32_t, std::string> content_by_id_;
  absl::flat_hash_set<std::string> special_;
  std::shared_ptr<const Regex> word_char_;  // \w as the Rust regex crate defines it
  int32_t id_limit_ = 0;
  int32_t new_token_count_ = 0;
};

}  // namespace ribbon::tok
