#include "core/chat/lexer.h"

#include <cctype>

#include "absl/strings/str_cat.h"

namespace ribbon::chat {
namespace {

struct LexError {
  std::string message;
};

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::string NormalizeNewlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

class Lexer {
 public:
  explicit Lexer(std::string source) : src_(std::move(source)) {}

  std::vector<Token> Run() {
    while (pos_ < src_.size()) LexData();
    tokens_.push_back({Token::Type::kEof, "", line_});
    return std::move(tokens_);
  }

 private:
  // Text up to the next tag, then the tag.
  void LexData() {
    size_t start = pos_;
    size_t tag = src_.find('{', pos_);
    while (tag != std::string::npos && tag + 1 < src_.size() && src_[tag + 1] != '{' &&
           src_[tag + 1] != '%' && src_[tag + 1] != '#') {
      tag = src_.find('{', tag + 1);
    }
    if (tag == std::string::npos || tag + 1 >= src_.size()) {
      CountLines(start, src_.size());
      EmitText(src_.substr(start));
      pos_ = src_.size();
      return;
    }
    char kind = src_[tag + 1];
    char modifier = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
    std::string text = src_.substr(start, tag - start);
    if (modifier == '-') {
      size_t end = text.size();
      while (end > 0 && IsSpace(text[end - 1])) --end;
      text.resize(end);
    } else if (kind != '{' && modifier != '+') {
      LstripBlock(text, start);
    }
    CountLines(start, tag);
    EmitText(text);
    pos_ = tag + 2 + (modifier == '-' || modifier == '+' ? 1 : 0);
    if (kind == '#') {
      LexComment();
    } else if (kind == '%' && TryRaw()) {
      return;
    } else {
      LexTag(kind == '{');
    }
  }

  void LstripBlock(std::string& text, size_t text_start) {
    size_t line_start = text.rfind('\n');
    size_t from = line_start == std::string::npos ? 0 : line_start + 1;
    bool at_line_start =
        line_start != std::string::npos || text_start == 0 || src_[text_start - 1] == '\n';
    if (!at_line_start) return;
    for (size_t i = from; i < text.size(); ++i) {
      if (text[i] != ' ' && text[i] != '\t') return;
    }
    text.resize(from);
  }

  void EmitText(const std::string& text) {
    if (!text.empty()) tokens_.push_back({Token::Type::kText, text, line_});
  }

  void CountLines(size_t from, size_t to) {
    for (size_t i = from; i < to && i < src_.size(); ++i) line_ += src_[i] == '\n';
  }

  // After a tag's closing marker: `-` strips all whitespace, otherwise trim_blocks drops one
  // newline (block and comment tags only).
  void AfterTagEnd(bool strip, bool trim) {
    if (strip) {
      while (pos_ < src_.size() && IsSpace(src_[pos_])) Advance();
    } else if (trim && pos_ < src_.size() && src_[pos_] == '\n') {
      Advance();
    }
  }

  void Advance() {
    if (src_[pos_] == '\n') ++line_;
    ++pos_;
  }

  void LexComment() {
    size_t end = src_.find("#}", pos_);
    if (end == std::string::npos)
      throw LexError{absl::StrCat("line ", line_, ": unterminated comment")};
    bool strip = end > pos_ && src_[end - 1] == '-';
    bool plus = end > pos_ && src_[end - 1] == '+';
    CountLines(pos_, end);
    pos_ = end + 2;
    AfterTagEnd(strip, !plus);
  }

  // {% raw %}...{% endraw %}: the body is text, untouched.
  bool TryRaw() {
    size_t p = pos_;
    while (p < src_.size() && IsSpace(src_[p])) ++p;
    if (src_.compare(p, 3, "raw") != 0 || (p + 3 < src_.size() && IsNameChar(src_[p + 3]))) {
      return false;
    }
    size_t close = src_.find("%}", p + 3);
    if (close == std::string::npos)
      throw LexError{absl::StrCat("line ", line_, ": unterminated raw")};
    bool strip_after_open = src_[close - 1] == '-';
    size_t body = close + 2;
    size_t search = body;
    while (true) {
      size_t open = src_.find("{%", search);
      if (open == std::string::npos)
        throw LexError{absl::StrCat("line ", line_, ": missing endraw")};
      size_t q = open + 2;
      bool strip_before = q < src_.size() && src_[q] == '-';
      if (strip_before || (q < src_.size() && src_[q] == '+')) ++q;
      while (q < src_.size() && IsSpace(src_[q])) ++q;
      if (src_.compare(q, 6, "endraw") != 0) {
        search = open + 2;
        continue;
      }
      size_t end = src_.find("%}", q);
      if (end == std::string::npos)
        throw LexError{absl::StrCat("line ", line_, ": unterminated endraw")};
      std::string text = src_.substr(body, open - body);
      if (strip_after_open) {
        size_t b = 0;
        while (b < text.size() && IsSpace(text[b])) ++b;
        text.erase(0, b);
      } else if (!text.empty() && text[0] == '\n') {
        text.erase(0, 1);
      }
      if (strip_before) {
        while (!text.empty() && IsSpace(text.back())) text.pop_back();
      }
      CountLines(pos_, end);
      if (!text.empty()) tokens_.push_back({Token::Type::kText, text, line_});
      bool strip_after = src_[end - 1] == '-';
      pos_ = end + 2;
      AfterTagEnd(strip_after, src_[end - 1] != '+');
      return true;
    }
  }

  void LexTag(bool variable) {
    tokens_.push_back({variable ? Token::Type::kVarBegin : Token::Type::kBlockBegin, "", line_});
    int depth = 0;
    while (true) {
      while (pos_ < src_.size() && IsSpace(src_[pos_])) Advance();
      if (pos_ >= src_.size()) throw LexError{absl::StrCat("line ", line_, ": unterminated tag")};
      if (depth == 0 && TryTagEnd(variable)) return;
      char c = src_[pos_];
      if (IsNameStart(c)) {
        size_t start = pos_;
        while (pos_ < src_.size() && IsNameChar(src_[pos_])) ++pos_;
        tokens_.push_back({Token::Type::kName, src_.substr(start, pos_ - start), line_});
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        LexNumber();
      } else if (c == '\'' || c == '"') {
        LexString(c);
      } else {
        LexOperator(depth);
      }
    }
  }

  bool TryTagEnd(bool variable) {
    const char* end = variable ? "}}" : "%}";
    bool strip = src_[pos_] == '-' && src_.compare(pos_ + 1, 2, end) == 0;
    bool plus = !variable && src_[pos_] == '+' && src_.compare(pos_ + 1, 2, end) == 0;
    if (!strip && !plus && src_.compare(pos_, 2, end) != 0) return false;
    pos_ += (strip || plus) ? 3 : 2;
    tokens_.push_back({variable ? Token::Type::kVarEnd : Token::Type::kBlockEnd, "", line_});
    AfterTagEnd(strip, !variable && !plus);
    return true;
  }

  void LexNumber() {
    size_t start = pos_;
    auto digits = [&] {
      while (pos_ < src_.size() &&
             (std::isdigit(static_cast<unsigned char>(src_[pos_])) || src_[pos_] == '_'))
        ++pos_;
    };
    digits();
    bool is_float = false;
    bool after_dot = start > 0 && src_[start - 1] == '.';
    if (!after_dot && pos_ + 1 < src_.size() && src_[pos_] == '.' &&
        std::isdigit(static_cast<unsigned char>(src_[pos_ + 1]))) {
      is_float = true;
      ++pos_;
      digits();
    }
    if (!after_dot && pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      size_t save = pos_++;
      if (pos_ < src_.size() && (src_[pos_] == '+' || src_[pos_] == '-')) ++pos_;
      if (pos_ < src_.size() && std::isdigit(static_cast<unsigned char>(src_[pos_]))) {
        is_float = true;
        digits();
      } else {
        pos_ = save;
      }
    }
    std::string text;
    for (size_t i = start; i < pos_; ++i) {
      if (src_[i] != '_') text += src_[i];
    }
    tokens_.push_back({is_float ? Token::Type::kFloat : Token::Type::kInt, text, line_});
  }

  void LexString(char quote) {
    int start_line = line_;
    ++pos_;
    std::string value;
    while (true) {
      if (pos_ >= src_.size())
        throw LexError{absl::StrCat("line ", start_line, ": unterminated string")};
      char c = src_[pos_];
      if (c == quote) {
        ++pos_;
        break;
      }
      if (c == '\\' && pos_ + 1 < src_.size()) {
        LexEscape(value);
        continue;
      }
      value += c;
      Advance();
    }
    tokens_.push_back({Token::Type::kString, value, start_line});
  }

  // Python's unicode-escape, as jinja2 decodes string literals; unknown escapes stay as written.
  void LexEscape(std::string& value) {
    char e = src_[pos_ + 1];
    auto hex = [&](size_t n) -> bool {
      if (pos_ + 2 + n > src_.size()) return false;
      uint32_t cp = 0;
      for (size_t i = 0; i < n; ++i) {
        char h = src_[pos_ + 2 + i];
        if (!std::isxdigit(static_cast<unsigned char>(h))) return false;
        cp = cp * 16 +
             (std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
      }
      if (cp > 0x10ffff) return false;
      AppendUtf8(value, cp);
      pos_ += 2 + n;
      return true;
    };
    switch (e) {
      case 'n':
        value += '\n';
        break;
      case 't':
        value += '\t';
        break;
      case 'r':
        value += '\r';
        break;
      case '\\':
        value += '\\';
        break;
      case '\'':
        value += '\'';
        break;
      case '"':
        value += '"';
        break;
      case 'a':
        value += '\a';
        break;
      case 'b':
        value += '\b';
        break;
      case 'f':
        value += '\f';
        break;
      case 'v':
        value += '\v';
        break;
      case '0':
        value += '\0';
        break;
      case '\n':
        break;
      case 'x':
        if (hex(2)) return;
        throw LexError{absl::StrCat("line ", line_, ": bad \\x escape")};
      case 'u':
        if (hex(4)) return;
        throw LexError{absl::StrCat("line ", line_, ": bad \\u escape")};
      case 'U':
        if (hex(8)) return;
        throw LexError{absl::StrCat("line ", line_, ": bad \\U escape")};
      default:
        value += '\\';
        ++pos_;
        return;
    }
    if (e == '\n') ++line_;
    pos_ += 2;
  }

  void LexOperator(int& depth) {
    static const char* const kTwo[] = {"//", "**", "==", "!=", "<=", ">="};
    for (const char* op : kTwo) {
      if (src_.compare(pos_, 2, op) == 0) {
        tokens_.push_back({Token::Type::kOp, op, line_});
        pos_ += 2;
        return;
      }
    }
    char c = src_[pos_];
    static const std::string kOne = "+-*/%~<>=()[]{},.:|;";
    if (kOne.find(c) == std::string::npos) {
      throw LexError{
          absl::StrCat("line ", line_, ": unexpected character '", std::string(1, c), "'")};
    }
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') {
      if (depth == 0)
        throw LexError{absl::StrCat("line ", line_, ": unexpected '", std::string(1, c), "'")};
      --depth;
    }
    tokens_.push_back({Token::Type::kOp, std::string(1, c), line_});
    ++pos_;
  }

  std::string src_;
  size_t pos_ = 0;
  int line_ = 1;
  std::vector<Token> tokens_;
};

}  // namespace

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view source) {
  try {
    return Lexer(NormalizeNewlines(source)).Run();
  } catch (const LexError& e) {
    return absl::InvalidArgumentError("chat template syntax error: " + e.message);
  }
}

}  // namespace ribbon::chat
