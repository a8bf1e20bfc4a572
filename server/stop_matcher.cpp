#include "server/stop_matcher.h"

#include <algorithm>

namespace ribbon::server {

StopStringMatcher::StopStringMatcher(std::vector<std::string> stop_strings)
    : stop_strings_(std::move(stop_strings)) {}

StopStringMatcher::Result StopStringMatcher::Push(std::string_view delta) {
  Result result;
  if (matched_) return result;
  held_.append(delta);
  if (stop_strings_.empty()) {
    result.text.swap(held_);
    return result;
  }
  // Every earlier byte was emitted only because no stop string could start there, so the
  // earliest match lies within held_.
  size_t earliest = std::string::npos;
  for (const std::string& stop : stop_strings_) {
    earliest = std::min(earliest, held_.find(stop));
  }
  if (earliest != std::string::npos) {
    matched_ = true;
    result.matched = true;
    result.text = held_.substr(0, earliest);
    held_.clear();
    return result;
  }
  const size_t keep = HeldSuffixLength(held_);
  result.text = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return result;
}

std::string StopStringMatcher::Flush() {
  std::string rest;
  if (!matched_) rest.swap(held_);
  return rest;
}

size_t StopStringMatcher::HeldSuffixLength(std::string_view text) const {
  size_t longest = 0;
  for (const std::string& stop : stop_strings_) {
    const size_t limit = std::min(stop.size() - 1, text.size());
    for (size_t length = limit; length > longest; --length) {
      if (text.substr(text.size() - length) == std::string_view(stop).substr(0, length)) {
        longest = length;
        break;
      }
    }
  }
  return longest;
}

}  // namespace ribbon::server
