// Strict UTF-8 validation for the `bytes` fields that carry text (prompt, stop strings).
// Pure function; any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace ribbon::server {

// Offset of the first byte that does not start a well-formed UTF-8 sequence (overlong forms,
// surrogates and code points past U+10FFFF are ill-formed), or nullopt when `text` is valid.
std::optional<size_t> FindInvalidUtf8(std::string_view text);

}  // namespace ribbon::server
