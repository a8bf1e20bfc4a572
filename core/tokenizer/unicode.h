// Unicode helpers for the tokenizer: UTF-8 decoding with Rust's (WHATWG "maximal subpart")
// error rule, White_Space, general categories, normal forms (utf8proc) and lowercasing as
// Rust's char::to_lowercase does it. Internal to ribbon_tokenizer.
//
// Ownership: plain functions over caller-owned strings. Threads: all functions are pure and
// safe to call concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ribbon::tok {

inline constexpr char32_t kReplacementChar = 0xFFFD;
inline constexpr std::string_view kReplacementUtf8 = "\xEF\xBF\xBD";

// One step of UTF-8 decoding at a byte offset.
struct Utf8Step {
  char32_t code_point = 0;  // kReplacementChar when !valid
  int length = 1;           // bytes consumed: the whole character, or the invalid subpart
  bool valid = true;
};

// Decodes the character starting at `text[pos]` (pos < text.size()). An invalid sequence
// consumes its maximal subpart (1 to 3 bytes), exactly as Rust's Utf8Chunks does.
Utf8Step DecodeUtf8(std::string_view text, size_t pos);

// Length in bytes of the character whose first byte is `lead`, for text known to be valid.
inline int Utf8Length(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

// Start of the character that ends just before byte `end` (> 0) of valid UTF-8 `text`.
inline size_t PreviousCharStart(std::string_view text, size_t end) {
  size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return start;
}

void AppendUtf8(char32_t code_point, std::string& out);
bool IsValidUtf8(std::string_view text);
// As Rust's String::from_utf8_lossy: each invalid subpart becomes one U+FFFD.
std::string ToUtf8Lossy(std::string_view bytes);
bool EndsWithReplacementChar(std::string_view text);

// Unicode White_Space property (what Rust's char::is_whitespace and Oniguruma's \s test).
bool IsWhiteSpace(char32_t c);
// General category checks (utf8proc's Unicode tables).
bool IsNumeric(char32_t c);  // Nd, Nl, No: Rust's char::is_numeric

enum class NormalForm { kNfc, kNfd, kNfkc, kNfkd };
// Unicode normalisation of valid UTF-8 text.
std::string Normalize(std::string_view text, NormalForm form);
// Per-character full lowercase mapping (Rust's char::to_lowercase, no context rules).
std::string Lowercase(std::string_view text);

}  // namespace ribbon::tok
