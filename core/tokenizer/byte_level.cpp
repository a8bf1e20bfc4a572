#include "core/tokenizer/byte_level.h"

#include "core/tokenizer/unicode.h"

namespace ribbon::tok {

const ByteLevelAlphabet& ByteLevelAlphabet::Get() {
  static const ByteLevelAlphabet alphabet;
  return alphabet;
}

ByteLevelAlphabet::ByteLevelAlphabet() {
  byte_of_char_.fill(-1);
  const auto printable = [](int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  };
  char32_t next_extra = 0x100;
  for (int b = 0; b < 256; ++b) {
    const char32_t c = printable(b) ? static_cast<char32_t>(b) : next_extra++;
    AppendUtf8(c, encoded_[b]);
    byte_of_char_[c] = static_cast<int16_t>(b);
  }
}

std::optional<uint8_t> ByteLevelAlphabet::ByteFor(char32_t c) const {
  if (c >= byte_of_char_.size() || byte_of_char_[c] < 0) return std::nullopt;
  return static_cast<uint8_t>(byte_of_char_[c]);
}

void ByteLevelAlphabet::AppendEncoded(std::string_view text, std::string& out) const {
  out.reserve(out.size() + text.size() * 2);
  for (const char c : text) out.append(encoded_[static_cast<uint8_t>(c)]);
}

}  // namespace ribbon::tok
