// Small file helpers shared by the loaders. Any thread.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace ribbon {

// The whole file as bytes; NOT_FOUND naming the path when it cannot be opened.
absl::StatusOr<std::string> ReadTextFile(const std::string& path);

}  // namespace ribbon
