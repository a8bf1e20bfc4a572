// Regex: the Oniguruma-syntax patterns of tokenizer.json (Split, ByteLevel, Replace), run with
// PCRE2's JIT. Internal to ribbon_tokenizer.
//
// Hugging Face `tokenizers` runs these patterns with Oniguruma. PCRE2 gives the same matches
// for them once a few escapes whose meaning differs are rewritten (\s, \S, \w, \W, \h, \H; see
// TranslateOnigurumaPattern). Both engines use their own Unicode tables, so characters
// assigned after PCRE2's Unicode version (14.0) may be classified differently.
//
// Ownership: a Regex owns its compiled code. Threads: FindAll is const and safe to call
// concurrently (per-thread match data).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace ribbon::tok {

// [start, end) byte offsets of one match.
using MatchSpan = std::pair<size_t, size_t>;

// Rewrites an Oniguruma pattern so that PCRE2 (UTF + UCP) matches the same characters.
std::string TranslateOnigurumaPattern(std::string_view pattern);

class Regex {
 public:
  // Compiles `pattern` (Oniguruma syntax). INVALID_ARGUMENT names the pattern on failure.
  static absl::StatusOr<std::unique_ptr<Regex>> Compile(std::string_view pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // All non-overlapping matches in valid UTF-8 `text`, left to right, with the onig crate's
  // find_iter rule for empty matches (an empty match right after the previous match is skipped).
  void FindAll(std::string_view text, std::vector<MatchSpan>& matches) const;
  // Whether the pattern matches anywhere in `text`.
  bool Matches(std::string_view text) const;

  const std::string& pattern() const { return pattern_; }

 private:
  Regex(std::string pattern, void* code);
  // Leftmost match at or after `start`; false when there is none.
  bool MatchFrom(std::string_view text, size_t start, MatchSpan& span) const;

  std::string pattern_;
  void* code_;  // pcre2_code_8*, kept opaque so that pcre2.h stays out of this header
};

}  // namespace ribbon::tok
