#include "core/tokenizer/added_vocabulary.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "core/common/status_macros.h"
#include "core/tokenizer/unicode.h"

namespace ribbon::tok {
namespace {

// The Rust regex crate's Unicode \w, which `tokenizers` uses for single_word.
constexpr std::string_view kWordCharPattern =
    R"(^[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}])";

// Offset where the run of White_Space that ends `text` begins.
size_t TrailingSpaceStart(std::string_view text) {
  size_t start = text.size();
  while (start > 0) {
    const size_t lead = PreviousCharStart(text, start);
    if (!IsWhiteSpace(DecodeUtf8(text, lead).code_point)) break;
    start = lead;
  }
  return start;
}

// Length of the run of White_Space that starts `text`.
size_t LeadingSpaceLength(std::string_view text) {
  size_t end = 0;
  while (end < text.size()) {
    const Utf8Step step = DecodeUtf8(text, end);
    if (!IsWhiteSpace(step.code_point)) break;
    end += step.length;
  }
  return end;
}

}  // namespace

absl::StatusOr<AddedVocabulary> AddedVocabulary::Build(const std::vector<AddedToken>& tokens,
                                                       const BpeModel& model,
                                                       const Normalizer* normalizer) {
  AddedVocabulary vocab;
  ASSIGN_OR_RETURN(std::unique_ptr<Regex> word_char, Regex::Compile(kWordCharPattern));
  vocab.word_char_ = std::move(word_char);
  std::optional<int32_t> max_added_id;
  for (const AddedToken& token : tokens) {
    // Empty and repeated contents are ignored, as `tokenizers` does.
    if (token.content.empty() || vocab.id_by_content_.contains(token.content)) continue;
    std::optional<int32_t> id = model.TokenToId(token.content);
    if (!id) {
      // `tokenizers`' rule for a new token: after the model vocabulary and the added ids.
      const int32_t model_size = model.vocab_size();
      id = !max_added_id                                      ? model_size
           : (*max_added_id >= model_size || model_size == 0) ? *max_added_id + 1
                                                              : model_size;
      ++vocab.new_token_count_;
    }
    max_added_id = max_added_id ? std::max(*max_added_id, *id) : *id;
    // A normalized token is matched, and decoded, in its normalized form (`tokenizers` also
    // returns that form from id_to_token); it is still looked up by its original content.
    std::string matched = token.content;
    if (token.normalized && normalizer != nullptr) normalizer->Normalize(matched);
    vocab.id_by_content_[token.content] = *id;
    vocab.content_by_id_[*id] = matched;
    if (token.special) vocab.special_.insert(token.content);
    vocab.id_limit_ = std::max(vocab.id_limit_, *id + 1);
    const int32_t entry_index = static_cast<int32_t>(vocab.entries_.size());
    vocab.entries_.push_back({token, *id});
    if (matched.empty()) continue;
    Insert(token.normalized ? vocab.normalized_ : vocab.raw_, matched, entry_index);
  }
  return vocab;
}

void AddedVocabulary::Insert(MatchSet& set, std::string_view content, int32_t entry_index) {
  int32_t node = 0;
  for (const char c : content) {
    const uint8_t byte = static_cast<uint8_t>(c);
    const auto it = set.nodes[node].children.find(byte);
    if (it != set.nodes[node].children.end()) {
      node = it->second;
      continue;
    }
    set.nodes.emplace_back();
    const int32_t child = static_cast<int32_t>(set.nodes.size() - 1);
    set.nodes[node].children[byte] = child;
    node = child;
  }
  if (set.nodes[node].token_index < 0) set.nodes[node].token_index = entry_index;
  set.first_bytes[static_cast<uint8_t>(content[0])] = true;
}

std::pair<int32_t, size_t> AddedVocabulary::LongestAt(const MatchSet& set, std::string_view text,
                                                      size_t pos) const {
  std::pair<int32_t, size_t> best{-1, 0};
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto& children = set.nodes[node].children;
    const auto it = children.find(static_cast<uint8_t>(text[i]));
    if (it == children.end()) break;
    node = it->second;
    if (set.nodes[node].token_index >= 0) best = {set.nodes[node].token_index, i + 1 - pos};
  }
  return best;
}

bool AddedVocabulary::IsWordChar(char32_t c) const {
  std::string encoded;
  AppendUtf8(c, encoded);
  return word_char_->Matches(encoded);
}

std::vector<TextRun> AddedVocabulary::Split(std::string_view text, const MatchSet& set) const {
  if (text.empty() || set.empty()) return {{0, text.size(), std::nullopt}};
  std::vector<TextRun> runs;
  size_t start_offset = 0;
  // Matches are found on the whole text first (leftmost-longest, non-overlapping), then
  // widened by lstrip/rstrip, exactly in `tokenizers`' order.
  for (size_t pos = 0; pos < text.size();) {
    if (!set.first_bytes[static_cast<uint8_t>(text[pos])]) {
      ++pos;
      continue;
    }
    const auto [entry_index, length] = LongestAt(set, text, pos);
    if (entry_index < 0) {
      ++pos;
      continue;
    }
    size_t start = pos;
    size_t stop = pos + length;
    pos = stop;
    const Entry& entry = entries_[entry_index];
    if (entry.token.single_word) {
      const bool word_before =
          start > 0 && IsWordChar(DecodeUtf8(text, PreviousCharStart(text, start)).code_point);
      const bool word_after = stop < text.size() && IsWordChar(DecodeUtf8(text, stop).code_point);
      if (word_before || word_after) continue;
    }
    if (entry.token.lstrip)
      start = std::max(TrailingSpaceStart(text.substr(0, start)), start_offset);
    if (entry.token.rstrip) stop += LeadingSpaceLength(text.substr(stop));
    if (start_offset < start) runs.push_back({start_offset, start, std::nullopt});
    runs.push_back({start, stop, entry.id});
    start_offset = stop;
  }
  if (start_offset != text.size()) runs.push_back({start_offset, text.size(), std::nullopt});
  return runs;
}

std::optional<int32_t> AddedVocabulary::TokenToId(std::string_view content) const {
  const auto it = id_by_content_.find(ToAbsl(content));
  if (it == id_by_content_.end()) return std::nullopt;
  return it->second;
}

const std::string* AddedVocabulary::IdToToken(int32_t id) const {
  const auto it = content_by_id_.find(id);
  return it == content_by_id_.end() ? nullptr : &it->second;
}

}  // namespace ribbon::tok
