// UTF-8 helpers for Python's str semantics: Jinja's length, indexing, slicing and strip work on
// code points, not bytes. Invalid UTF-8 bytes count as one code point each (nothing throws).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ribbon::chat {

// The string split into code points, each as its UTF-8 bytes.
std::vector<std::string> SplitCodepoints(std::string_view s);
size_t CodepointCount(std::string_view s);
bool IsAscii(std::string_view s);

// Python's str.strip/lstrip/rstrip: with `chars` empty, Unicode whitespace; otherwise any code
// point in `chars`.
enum class StripSide { kBoth, kLeft, kRight };
std::string Strip(std::string_view s, std::string_view chars, StripSide side);
bool IsPythonSpace(std::string_view codepoint);

// Python's str.upper / str.lower over the Basic Multilingual Plane (core/chat/case_table.inc);
// code points beyond it are left as they are.
std::string PyUpper(std::string_view s);
std::string PyLower(std::string_view s);
// Python's str.title and str.capitalize on the same tables.
std::string PyTitle(std::string_view s);
std::string PyCapitalize(std::string_view s);

}  // namespace ribbon::chat
