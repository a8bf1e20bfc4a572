#include "core/tokenizer/unicode.h"

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <utility>

#include <utf8proc.h>

namespace ribbon::tok {
namespace {

bool InRange(unsigned char byte, unsigned char lo, unsigned char hi) {
  return byte >= lo && byte <= hi;
}

utf8proc_category_t Category(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

// Code points that `tokenizers`' normalization tables (which predate Unicode 10) do not know,
// while utf8proc (Unicode 15) gives them a combining class or a (de)composition, plus U+11935,
// the second half of the newer composition U+11930 U+11935 -> U+11938. The reference treats
// them as unassigned: unchanged, and a barrier nothing reorders or composes across. Found by
// comparing both libraries on every code point
// (tests/python/tokenizer/find_normalization_differences.py).
constexpr std::pair<char32_t, char32_t> kUnknownToReferenceNormalization[] = {
    {0x7FD, 0x7FD},     {0x898, 0x89F},     {0x8CA, 0x8D3},     {0x9FE, 0x9FE},
    {0xC3C, 0xC3C},     {0xD3B, 0xD3C},     {0xEBA, 0xEBA},     {0x1715, 0x1715},
    {0x1ABF, 0x1ACE},   {0x1DF6, 0x1DFA},   {0x32FF, 0x32FF},   {0xA7F2, 0xA7F4},
    {0xA82C, 0xA82C},   {0xAB69, 0xAB69},   {0x10781, 0x10785}, {0x10787, 0x107B0},
    {0x107B2, 0x107BA}, {0x10D24, 0x10D27}, {0x10EAB, 0x10EAC}, {0x10EFD, 0x10EFF},
    {0x10F46, 0x10F50}, {0x10F82, 0x10F85}, {0x11070, 0x11070}, {0x1133B, 0x1133B},
    {0x1145E, 0x1145E}, {0x11839, 0x1183A}, {0x11935, 0x11935}, {0x11938, 0x11938},
    {0x1193D, 0x1193E}, {0x11943, 0x11943}, {0x119E0, 0x119E0}, {0x11A34, 0x11A34},
    {0x11A47, 0x11A47}, {0x11A99, 0x11A99}, {0x11D42, 0x11D42}, {0x11D44, 0x11D45},
    {0x11D97, 0x11D97}, {0x11F41, 0x11F42}, {0x16FF0, 0x16FF1}, {0x1E030, 0x1E06D},
    {0x1E08F, 0x1E08F}, {0x1E130, 0x1E136}, {0x1E2AE, 0x1E2AE}, {0x1E2EC, 0x1E2EF},
    {0x1E4EC, 0x1E4EF}, {0x1F16C, 0x1F16C}, {0x1FBF0, 0x1FBF9},
};

bool UnknownToReferenceNormalization(char32_t c) {
  const auto* end = std::end(kUnknownToReferenceNormalization);
  const auto* it =
      std::upper_bound(std::begin(kUnknownToReferenceNormalization), end, c,
                       [](char32_t value, const auto& range) { return value < range.first; });
  return it != std::begin(kUnknownToReferenceNormalization) && c <= std::prev(it)->second;
}

// utf8proc's normal form of valid UTF-8 `text`.
std::string NormalizeWithUtf8proc(std::string_view text, int options) {
  if (text.empty()) return std::string();
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t length = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
      static_cast<utf8proc_ssize_t>(text.size()), &mapped, static_cast<utf8proc_option_t>(options));
  if (length < 0) return std::string(text);  // only on invalid input, which callers exclude
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(mapped, &std::free);
  return std::string(reinterpret_cast<const char*>(mapped), static_cast<size_t>(length));
}

}  // namespace

Utf8Step DecodeUtf8(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) return {lead, 1, true};
  int need = 0;
  // The second byte's allowed range rules out overlongs, surrogates and values > U+10FFFF.
  unsigned char lo = 0x80, hi = 0xBF;
  char32_t cp = 0;
  if (InRange(lead, 0xC2, 0xDF)) {
    need = 1;
    cp = lead & 0x1F;
  } else if (InRange(lead, 0xE0, 0xEF)) {
    need = 2;
    cp = lead & 0x0F;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (InRange(lead, 0xF0, 0xF4)) {
    need = 3;
    cp = lead & 0x07;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return {kReplacementChar, 1, false};
  }
  int consumed = 1;
  for (int i = 0; i < need; ++i) {
    const size_t at = pos + 1 + i;
    if (at >= text.size()) return {kReplacementChar, consumed, false};
    const unsigned char next = byte(at);
    if (!InRange(next, i == 0 ? lo : 0x80, i == 0 ? hi : 0xBF)) {
      return {kReplacementChar, consumed, false};
    }
    cp = (cp << 6) | (next & 0x3F);
    ++consumed;
  }
  return {cp, consumed, true};
}

void AppendUtf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

bool IsValidUtf8(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const Utf8Step step = DecodeUtf8(text, pos);
    if (!step.valid) return false;
    pos += step.length;
  }
  return true;
}

std::string ToUtf8Lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t pos = 0;
  while (pos < bytes.size()) {
    const Utf8Step step = DecodeUtf8(bytes, pos);
    if (step.valid) {
      out.append(bytes.substr(pos, step.length));
    } else {
      out.append(kReplacementUtf8);
    }
    pos += step.length;
  }
  return out;
}

bool EndsWithReplacementChar(std::string_view text) {
  return text.size() >= kReplacementUtf8.size() &&
         text.substr(text.size() - kReplacementUtf8.size()) == kReplacementUtf8;
}

bool IsWhiteSpace(char32_t c) {
  if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
  switch (c) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

bool IsNumeric(char32_t c) {
  const auto cat = Category(c);
  return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO;
}

std::string Normalize(std::string_view text, NormalForm form) {
  // Fast paths: ASCII is invariant under every form, and text without a code point at or above
  // U+0300 (where combining marks start) is already NFC.
  char32_t max_cp = 0;
  bool has_barrier = false;
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Step step = DecodeUtf8(text, pos);
    max_cp = std::max(max_cp, step.code_point);
    has_barrier = has_barrier ||
                  (step.code_point >= 0x7FD && UnknownToReferenceNormalization(step.code_point));
    pos += step.length;
  }
  if (max_cp < 0x80 || (form == NormalForm::kNfc && max_cp < 0x300)) return std::string(text);

  int options = UTF8PROC_STABLE;
  switch (form) {
    case NormalForm::kNfc:
      options |= UTF8PROC_COMPOSE;
      break;
    case NormalForm::kNfd:
      options |= UTF8PROC_DECOMPOSE;
      break;
    case NormalForm::kNfkc:
      options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
      break;
    case NormalForm::kNfkd:
      options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
      break;
  }
  if (!has_barrier) return NormalizeWithUtf8proc(text, options);
  // Normalize the runs between barrier characters on their own; keep the barriers as they are.
  std::string out;
  size_t run_start = 0;
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Step step = DecodeUtf8(text, pos);
    if (UnknownToReferenceNormalization(step.code_point)) {
      out += NormalizeWithUtf8proc(text.substr(run_start, pos - run_start), options);
      out.append(text.substr(pos, step.length));
      run_start = pos + step.length;
    }
    pos += step.length;
  }
  out += NormalizeWithUtf8proc(text.substr(run_start), options);
  return out;
}

std::string Lowercase(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Step step = DecodeUtf8(text, pos);
    pos += step.length;
    if (step.code_point < 0x80) {
      const char c = static_cast<char>(step.code_point);
      out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
    } else if (step.code_point == 0x130) {
      // The only code point whose full lowercase mapping is two characters: "i̇".
      out.append("i\xCC\x87");
    } else {
      AppendUtf8(
          static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(step.code_point))),
          out);
    }
  }
  return out;
}

}  // namespace ribbon::tok
