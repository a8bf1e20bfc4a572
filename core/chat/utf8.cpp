#include "core/chat/utf8.h"

#include <algorithm>

namespace ribbon::chat {
namespace {

size_t SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xe0) == 0xc0) return 2;
  if ((lead & 0xf0) == 0xe0) return 3;
  if ((lead & 0xf8) == 0xf0) return 4;
  return 1;
}

// The length of the code point starting at s[i], falling back to one byte when malformed.
size_t NextLength(std::string_view s, size_t i) {
  size_t n = SequenceLength(static_cast<unsigned char>(s[i]));
  if (i + n > s.size()) return 1;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 1;
  }
  return n;
}

struct CaseRule {
  uint32_t first, last;
  int32_t delta;
  uint32_t stride;
};
struct CaseSpecial {
  uint32_t cp;
  const char* utf8;
};
#include "core/chat/case_table.inc"

uint32_t Decode(std::string_view cp) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(cp[i])); };
  if (cp.size() == 2) return ((b(0) & 0x1f) << 6) | (b(1) & 0x3f);
  if (cp.size() == 3) return ((b(0) & 0x0f) << 12) | ((b(1) & 0x3f) << 6) | (b(2) & 0x3f);
  return b(0);
}

void Encode(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// One code point's mapping appended to `out`.
template <size_t R, size_t S>
void MapOne(std::string_view cp_utf8, const CaseRule (&rules)[R], const CaseSpecial (&specials)[S],
            std::string& out) {
  uint32_t cp = Decode(cp_utf8);
  for (const auto& special : specials) {
    if (special.cp == cp) {
      out += special.utf8;
      return;
    }
  }
  for (const auto& rule : rules) {
    if (cp >= rule.first && cp <= rule.last && (cp - rule.first) % rule.stride == 0) {
      Encode(static_cast<uint32_t>(static_cast<int32_t>(cp) + rule.delta), out);
      return;
    }
  }
  out += cp_utf8;
}

std::string MapCase(std::string_view s, bool upper) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = NextLength(s, i);
    char c = s[i];
    if (n == 1 && static_cast<unsigned char>(c) < 0x80) {
      if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      out += c;
    } else if (n == 1 || n == 4) {
      out += s.substr(i, n);  // malformed bytes and code points beyond the BMP stay as they are
    } else if (upper) {
      MapOne(s.substr(i, n), kUpperRules, kUpperSpecials, out);
    } else {
      MapOne(s.substr(i, n), kLowerRules, kLowerSpecials, out);
    }
    i += n;
  }
  return out;
}

}  // namespace

std::vector<std::string> SplitCodepoints(std::string_view s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    size_t n = NextLength(s, i);
    out.emplace_back(s.substr(i, n));
    i += n;
  }
  return out;
}

size_t CodepointCount(std::string_view s) {
  size_t count = 0;
  for (size_t i = 0; i < s.size(); i += NextLength(s, i)) ++count;
  return count;
}

bool IsAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

bool IsPythonSpace(std::string_view cp) {
  static const char* const kSpaces[] = {" ",
                                        "\t",
                                        "\n",
                                        "\v",
                                        "\f",
                                        "\r",
                                        "\x1c",
                                        "\x1d",
                                        "\x1e",
                                        "\x1f",
                                        "\xc2\x85",
                                        "\xc2\xa0",
                                        "\xe1\x9a\x80",
                                        "\xe2\x80\xa8",
                                        "\xe2\x80\xa9",
                                        "\xe2\x80\xaf",
                                        "\xe2\x81\x9f",
                                        "\xe3\x80\x80"};
  for (const char* space : kSpaces) {
    if (cp == space) return true;
  }
  // U+2000..U+200A
  return cp.size() == 3 && cp[0] == '\xe2' && cp[1] == '\x80' &&
         static_cast<unsigned char>(cp[2]) >= 0x80 && static_cast<unsigned char>(cp[2]) <= 0x8a;
}

std::string Strip(std::string_view s, std::string_view chars, StripSide side) {
  std::vector<std::string> cps = SplitCodepoints(s);
  std::vector<std::string> strip_set = SplitCodepoints(chars);
  auto strip = [&](const std::string& cp) {
    if (chars.empty()) return IsPythonSpace(cp);
    return std::find(strip_set.begin(), strip_set.end(), cp) != strip_set.end();
  };
  size_t begin = 0, end = cps.size();
  if (side != StripSide::kRight) {
    while (begin < end && strip(cps[begin])) ++begin;
  }
  if (side != StripSide::kLeft) {
    while (end > begin && strip(cps[end - 1])) --end;
  }
  std::string out;
  for (size_t i = begin; i < end; ++i) out += cps[i];
  return out;
}

std::string PyUpper(std::string_view s) { return MapCase(s, true); }
std::string PyLower(std::string_view s) { return MapCase(s, false); }

std::string PyCapitalize(std::string_view s) {
  std::vector<std::string> cps = SplitCodepoints(s);
  std::string out;
  for (size_t i = 0; i < cps.size(); ++i) out += MapCase(cps[i], i == 0);
  return out;
}

std::string PyTitle(std::string_view s) {
  std::string out;
  bool previous_cased = false;
  for (const std::string& cp : SplitCodepoints(s)) {
    std::string upper = MapCase(cp, true), lower = MapCase(cp, false);
    out += previous_cased ? lower : upper;
    previous_cased = upper != cp || lower != cp;
  }
  return out;
}

}  // namespace ribbon::chat
