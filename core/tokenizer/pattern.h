// Pattern and split behaviour, as tokenizer.json uses them in Split, Replace and friends:
// a pattern is a literal string or a regex, and a split keeps, drops or merges the matches.
// Internal to ribbon_tokenizer.
//
// Ownership: a Pattern shares its compiled regex (immutable). Threads: const methods are safe
// to call concurrently.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "absl/status/statusor.h"
#include "core/tokenizer/regex.h"

namespace ribbon::tok {

class Pattern {
 public:
  // {"String": "..."} or {"Regex": "..."}.
  static absl::StatusOr<Pattern> FromJson(const nlohmann::json& config);
  static Pattern Literal(std::string literal);

  // Non-overlapping matches, left to right. An empty literal matches nothing.
  void FindAll(std::string_view text, std::vector<MatchSpan>& matches) const;

 private:
  std::string literal_;
  std::shared_ptr<const Regex> regex_;
};

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

absl::StatusOr<SplitBehavior> SplitBehaviorFromName(const std::string& name);

// One run of the text: a match of the pattern or the text between two matches.
struct Segment {
  size_t start;
  size_t end;
  bool is_match;
};

// The segments covering `text_size` bytes, from the matches (as `tokenizers`' find_matches).
void SegmentsFromMatches(size_t text_size, const std::vector<MatchSpan>& matches,
                         std::vector<Segment>& segments);
// Segments where `predicate` holds for single characters (`tokenizers`' Fn(char) pattern).
void SegmentsFromCharPredicate(std::string_view text,
                               const std::function<bool(char32_t)>& predicate,
                               std::vector<Segment>& segments);
// Applies `behavior` (and `invert`, which swaps match and non-match) and returns the spans kept,
// in order. Empty spans may be returned; callers drop them.
std::vector<MatchSpan> ApplySplitBehavior(std::vector<Segment> segments, SplitBehavior behavior,
                                          bool invert);

// The one character `text` holds; INVALID_ARGUMENT naming `what` otherwise.
absl::StatusOr<char32_t> ParseSingleChar(const std::string& text, std::string_view what);

// Replaces every match of `pattern` in `text` with `content`.
std::string ReplaceAll(std::string_view text, const Pattern& pattern, std::string_view content);

}  // namespace ribbon::tok
