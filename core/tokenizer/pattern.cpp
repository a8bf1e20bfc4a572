#include "core/tokenizer/pattern.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/tokenizer/absl_compat.h"
#include "core/tokenizer/unicode.h"

namespace ribbon::tok {

absl::StatusOr<Pattern> Pattern::FromJson(const nlohmann::json& config) {
  if (config.contains("String")) return Literal(config.at("String").get<std::string>());
  if (config.contains("Regex")) {
    Pattern pattern;
    ASSIGN_OR_RETURN(std::unique_ptr<Regex> regex,
                     Regex::Compile(config.at("Regex").get<std::string>()));
    pattern.regex_ = std::move(regex);
    return pattern;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("pattern must be {\"String\": ...} or {\"Regex\": ...}, got ", config.dump()));
}

Pattern Pattern::Literal(std::string literal) {
  Pattern pattern;
  pattern.literal_ = std::move(literal);
  return pattern;
}

void Pattern::FindAll(std::string_view text, std::vector<MatchSpan>& matches) const {
  if (regex_) {
    regex_->FindAll(text, matches);
    return;
  }
  matches.clear();
  if (literal_.empty()) return;
  for (size_t at = text.find(literal_); at != std::string_view::npos;
       at = text.find(literal_, at + literal_.size())) {
    matches.push_back({at, at + literal_.size()});
  }
}

absl::StatusOr<SplitBehavior> SplitBehaviorFromName(const std::string& name) {
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  return absl::InvalidArgumentError(absl::StrCat("unknown split behavior '", name, "'"));
}

void SegmentsFromMatches(size_t text_size, const std::vector<MatchSpan>& matches,
                         std::vector<Segment>& segments) {
  segments.clear();
  if (text_size == 0) {
    segments.push_back({0, 0, false});
    return;
  }
  size_t previous = 0;
  for (const auto& [start, end] : matches) {
    if (previous != start) segments.push_back({previous, start, false});
    segments.push_back({start, end, true});
    previous = end;
  }
  if (previous != text_size) segments.push_back({previous, text_size, false});
}

void SegmentsFromCharPredicate(std::string_view text,
                               const std::function<bool(char32_t)>& predicate,
                               std::vector<Segment>& segments) {
  segments.clear();
  if (text.empty()) {
    segments.push_back({0, 0, false});
    return;
  }
  size_t last_offset = 0;
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Step step = DecodeUtf8(text, pos);
    if (predicate(step.code_point)) {
      if (last_offset < pos) segments.push_back({last_offset, pos, false});
      segments.push_back({pos, pos + step.length, true});
      last_offset = pos + step.length;
    }
    pos += step.length;
  }
  if (last_offset < text.size()) segments.push_back({last_offset, text.size(), false});
}

std::vector<MatchSpan> ApplySplitBehavior(std::vector<Segment> segments, SplitBehavior behavior,
                                          bool invert) {
  if (invert) {
    for (Segment& s : segments) s.is_match = !s.is_match;
  }
  std::vector<MatchSpan> kept;
  kept.reserve(segments.size());
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Segment& s : segments) kept.push_back({s.start, s.end});
      break;
    case SplitBehavior::kRemoved:
      for (const Segment& s : segments) {
        if (!s.is_match) kept.push_back({s.start, s.end});
      }
      break;
    case SplitBehavior::kContiguous:
      for (const Segment& s : segments) {
        if (s.is_match == previous_match && !kept.empty()) {
          kept.back().second = s.end;
        } else {
          kept.push_back({s.start, s.end});
        }
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const Segment& s : segments) {
        if (s.is_match && !previous_match && !kept.empty()) {
          kept.back().second = s.end;
        } else {
          kept.push_back({s.start, s.end});
        }
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
        if (it->is_match && !previous_match && !kept.empty()) {
          kept.back().first = it->start;
        } else {
          kept.push_back({it->start, it->end});
        }
        previous_match = it->is_match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
  }
  return kept;
}

absl::StatusOr<char32_t> ParseSingleChar(const std::string& text, std::string_view what) {
  if (text.empty() || !IsValidUtf8(text) ||
      DecodeUtf8(text, 0).length != static_cast<int>(text.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(what), " must be one character, got '", text, "'"));
  }
  return DecodeUtf8(text, 0).code_point;
}

std::string ReplaceAll(std::string_view text, const Pattern& pattern, std::string_view content) {
  std::vector<MatchSpan> matches;
  pattern.FindAll(text, matches);
  if (matches.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t previous = 0;
  for (const auto& [start, end] : matches) {
    out.append(text.substr(previous, start - previous));
    out.append(content);
    previous = end;
  }
  out.append(text.substr(previous));
  return out;
}

}  // namespace ribbon::tok
