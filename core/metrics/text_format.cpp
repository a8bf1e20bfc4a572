#include "core/metrics/text_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace ribbon::metrics {

void AppendDouble(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  // Shortest round-trip digits, laid out as Go's strconv.FormatFloat(v, 'g', -1, 64) does (the
  // form the Go and Python clients write): scientific when the decimal exponent is below -4 or
  // at least 6, fixed otherwise. So our le labels read exactly like theirs ("0.0001", "1e-05").
  char scientific[32];
  const auto sci_end = std::to_chars(scientific, scientific + sizeof(scientific), value,
                                     std::chars_format::scientific)
                           .ptr;
  const char* exponent_at = std::find(scientific, sci_end, 'e') + 1;
  int exponent = 0;
  std::from_chars(exponent_at + (*exponent_at == '+' ? 1 : 0), sci_end, exponent);
  if (exponent < -4 || exponent >= 6) {
    out.append(scientific, sci_end);
    return;
  }
  char fixed[32];
  const auto fixed_end =
      std::to_chars(fixed, fixed + sizeof(fixed), value, std::chars_format::fixed).ptr;
  out.append(fixed, fixed_end);
}

void AppendUint(std::string& out, uint64_t value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, result.ptr);
}

void AppendEscapedHelp(std::string& out, std::string_view help) {
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void AppendEscapedLabelValue(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

namespace {

bool IsLetterOrUnderscore(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool IsValidMetricName(std::string_view name) {
  if (name.empty() || !(IsLetterOrUnderscore(name[0]) || name[0] == ':')) return false;
  for (char c : name) {
    if (!(IsLetterOrUnderscore(c) || IsDigit(c) || c == ':')) return false;
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || !IsLetterOrUnderscore(name[0]) || name.starts_with("__")) return false;
  for (char c : name) {
    if (!(IsLetterOrUnderscore(c) || IsDigit(c))) return false;
  }
  return true;
}

}  // namespace ribbon::metrics
