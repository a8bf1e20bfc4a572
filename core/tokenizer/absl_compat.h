// Debian's Abseil is built with its own absl::string_view class rather than an alias of
// std::string_view, so std::string_view does not convert to it implicitly (hash-map lookups,
// StrCat). ToAbsl bridges the two. Header-only; any thread.
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace ribbon::tok {

inline absl::string_view ToAbsl(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

}  // namespace ribbon::tok
