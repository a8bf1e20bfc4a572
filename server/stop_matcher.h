// StopStringMatcher: finds stop strings in streamed text without ever emitting part of one.
// Text that might be the start of a stop string is held back until the next delta decides it.
// The matched stop string and everything after it are never emitted.
//
// Belongs to one request; used from one thread at a time (the server's output threads, never
// the engine thread).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ribbon::server {

class StopStringMatcher {
 public:
  explicit StopStringMatcher(std::vector<std::string> stop_strings);

  struct Result {
    std::string text;      // safe to emit now
    bool matched = false;  // a stop string ended the text; later Push calls return nothing
  };

  // Appends a delta (whole UTF-8 characters) and returns what can be emitted.
  Result Push(std::string_view delta);
  // Generation ended without a match: releases the held-back text.
  std::string Flush();

  bool matched() const { return matched_; }

 private:
  // Length of the longest suffix of `text` that is a proper prefix of some stop string.
  size_t HeldSuffixLength(std::string_view text) const;

  std::vector<std::string> stop_strings_;
  std::string held_;
  bool matched_ = false;
};

}  // namespace ribbon::server
