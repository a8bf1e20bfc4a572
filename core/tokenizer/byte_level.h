// The GPT-2 byte-level alphabet: every byte is shown as one printable Unicode character
// (printable Latin-1 bytes as themselves, the rest as U+0100 onwards), so that byte-level BPE
// vocabularies are plain strings. Internal to ribbon_tokenizer.
//
// Threads: the tables are built once (thread-safe static) and read-only afterwards.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ribbon::tok {

class ByteLevelAlphabet {
 public:
  static const ByteLevelAlphabet& Get();

  // UTF-8 of the character that stands for `byte`.
  std::string_view CharFor(uint8_t byte) const { return encoded_[byte]; }
  // The byte a character stands for, if it is one of the 256.
  std::optional<uint8_t> ByteFor(char32_t c) const;

  // Replaces every byte of `text` with its character.
  void AppendEncoded(std::string_view text, std::string& out) const;

 private:
  ByteLevelAlphabet();
  std::array<std::string, 256> encoded_;
  std::array<int16_t, 0x144> byte_of_char_;  // the alphabet's characters are all below U+0144
};

}  // namespace ribbon::tok
