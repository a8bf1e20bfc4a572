// jinja2's tests (`x is defined`, `x is string`...) and Python's two string formatting forms
// (str.format and printf-style %), for the cases chat templates use.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "absl/strings/str_cat.h"
#include "core/chat/builtins.h"
#include "core/chat/evaluator.h"
#include "core/chat/utf8.h"

namespace ribbon::chat {
namespace {

using VK = Value::Kind;

const Value& TestArg(const CallArgs& args, const char* test) {
  if (args.positional.empty()) ThrowType(absl::StrCat("test '", test, "' requires an argument"));
  return args.positional[0];
}

bool Compare(const Value& a, const Value& b, const std::string& op) {
  if (op == "==") return Equal(a, b);
  if (op == "!=") return !Equal(a, b);
  if (op == "<") return Less(a, b);
  if (op == "<=") return !Less(b, a);
  if (op == ">") return Less(b, a);
  return !Less(a, b);
}

const std::map<std::string, std::string, std::less<>>& CompareTests() {
  static const auto* tests = new std::map<std::string, std::string, std::less<>>{
      {"eq", "=="}, {"equalto", "=="},    {"==", "=="}, {"ne", "!="}, {"!=", "!="},
      {"lt", "<"},  {"lessthan", "<"},    {"<", "<"},   {"le", "<="}, {"<=", "<="},
      {"gt", ">"},  {"greaterthan", ">"}, {">", ">"},   {"ge", ">="}, {">=", ">="}};
  return *tests;
}

const char* const kTests[] = {
    "defined", "undefined", "none",        "boolean",  "false",    "true",     "integer", "float",
    "number",  "string",    "mapping",     "sequence", "iterable", "callable", "sameas",  "in",
    "odd",     "even",      "divisibleby", "lower",    "upper",    "escaped",  "filter",  "test"};

}  // namespace

bool IsTest(std::string_view name) {
  for (const char* t : kTests) {
    if (name == t) return true;
  }
  return CompareTests().count(name) != 0;
}

bool ApplyTest(Evaluator& eval, std::string_view name, const Value& v, CallArgs& args) {
  eval.Step();
  VK k = v.kind();
  if (name == "defined") return k != VK::kUndefined;
  if (name == "undefined") return k == VK::kUndefined;
  if (name == "none") return k == VK::kNone;
  if (name == "boolean") return k == VK::kBool;
  if (name == "false") return k == VK::kBool && !v.AsBool();
  if (name == "true") return k == VK::kBool && v.AsBool();
  if (name == "integer") return k == VK::kInt;
  if (name == "float") return k == VK::kFloat;
  if (name == "number") return k == VK::kInt || k == VK::kFloat || k == VK::kBool;
  if (name == "string") return k == VK::kString;
  if (name == "mapping") return k == VK::kDict && !v.IsNamespace();
  if (name == "sequence") {  // len() and __getitem__: Undefined has both, generators neither
    return k == VK::kString || v.IsPlainSequence() || k == VK::kUndefined ||
           (k == VK::kDict && !v.IsNamespace());
  }
  if (name == "iterable")
    return k == VK::kString || k == VK::kList || k == VK::kDict || k == VK::kUndefined;
  if (name == "callable") return k == VK::kFunction;
  if (name == "escaped") return false;
  if (name == "sameas") {
    const Value& o = TestArg(args, "sameas");
    if (k != o.kind()) return false;
    if (k == VK::kList || k == VK::kDict) return Equal(v, o) && v.Repr() == o.Repr();
    return Equal(v, o);
  }
  if (name == "in") {
    const Value& seq = TestArg(args, "in");
    if (seq.IsString())
      return v.IsString() && seq.AsString().find(v.AsString()) != std::string::npos;
    if (seq.IsDict()) return seq.AsDict().FindKey(v) != nullptr;
    for (const auto& item : seq.Iterate()) {
      if (Equal(item, v)) return true;
    }
    return false;
  }
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (k != VK::kInt)
      ThrowType("unsupported operand type(s) for %: '" + v.TypeName() + "' and 'int'");
    int64_t d = name == "divisibleby" ? TestArg(args, "divisibleby").AsInt() : 2;
    if (d == 0) ThrowType("integer division or modulo by zero");
    int64_t r = ((v.AsInt() % d) + d) % d;
    return name == "odd" ? r == 1 : r == 0;
  }
  if (name == "lower") return v.Str() == PyLower(v.Str());
  if (name == "upper") return v.Str() == PyUpper(v.Str());
  if (name == "filter") return IsFilter(TestArg(args, "filter").Str());
  if (name == "test") return IsTest(TestArg(args, "test").Str());
  auto it = CompareTests().find(name);
  if (it == CompareTests().end()) ThrowType("No test named '" + std::string(name) + "' found.");
  return Compare(v, TestArg(args, "compare"), it->second);
}

namespace {

// Applies a format spec of the form [[fill]align][width][.precision][type].
std::string ApplySpec(const Value& v, const std::string& spec) {
  if (spec.empty()) return v.Str();
  size_t i = 0;
  char fill = ' ', align = '\0';
  if (spec.size() >= 2 && (spec[1] == '<' || spec[1] == '>' || spec[1] == '^')) {
    fill = spec[0], align = spec[1], i = 2;
  } else if (spec[0] == '<' || spec[0] == '>' || spec[0] == '^') {
    align = spec[0], i = 1;
  }
  size_t width = 0;
  while (i < spec.size() && std::isdigit(static_cast<unsigned char>(spec[i])))
    width = std::min<size_t>(width * 10 + (spec[i++] - '0'), 1000000);
  int precision = -1;
  if (i < spec.size() && spec[i] == '.') {
    precision = 0;
    ++i;
    while (i < spec.size() && std::isdigit(static_cast<unsigned char>(spec[i])))
      precision = std::min(precision * 10 + (spec[i++] - '0'), 1000000);
  }
  if (width > 4096 || precision > 4096) ThrowType("format width or precision too large");
  char type = i < spec.size() ? spec[i] : '\0';
  std::string body;
  if (type == 'f' || type == 'F' || (type == '\0' && precision >= 0 && v.IsNumber())) {
    char buf[512];
    std::snprintf(buf, sizeof(buf), "%.*f", precision < 0 ? 6 : std::min(precision, 100),
                  v.AsDouble());
    body = buf;
  } else if (type == 'd') {
    if (v.kind() != VK::kInt)
      ThrowType("Unknown format code 'd' for object of type '" + v.TypeName() + "'");
    body = v.Str();
  } else {
    body = v.Str();
    if (precision >= 0) {
      std::vector<std::string> cps = SplitCodepoints(body);
      if (cps.size() > static_cast<size_t>(precision)) {
        body.clear();
        for (int p = 0; p < precision; ++p) body += cps[p];
      }
    }
  }
  size_t len = CodepointCount(body);
  if (width <= len) return body;
  if (align == '\0') align = v.IsNumber() ? '>' : '<';
  size_t pad = width - len;
  if (align == '<') return body + std::string(pad, fill);
  if (align == '>') return std::string(pad, fill) + body;
  return std::string(pad / 2, fill) + body + std::string(pad - pad / 2, fill);
}

}  // namespace

std::string PyFormat(const std::string& format, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c == '}') {
      if (i + 1 < format.size() && format[i + 1] == '}')
        ++i;
      else
        ThrowType("Single '}' encountered in format string");
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    size_t close = format.find('}', i);
    if (close == std::string::npos) ThrowType("Single '{' encountered in format string");
    std::string field = format.substr(i + 1, close - i - 1);
    i = close;
    std::string spec;
    if (size_t colon = field.find(':'); colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field = field.substr(0, colon);
    }
    bool repr = false;
    if (size_t bang = field.find('!'); bang != std::string::npos) {
      repr = field.substr(bang + 1) == "r";
      field = field.substr(0, bang);
    }
    Value v;
    if (field.empty() || std::isdigit(static_cast<unsigned char>(field[0]))) {
      if (field.size() > 9) ThrowType("Too many decimal digits in format string");
      size_t index = field.empty() ? auto_index++ : std::stoul(field);
      if (index >= args.positional.size())
        ThrowType("Replacement index " + std::to_string(index) +
                  " out of range for positional args tuple");
      v = args.positional[index];
    } else {
      const Value* kw = args.Keyword(field);
      if (!kw) ThrowType("'" + field + "'");
      v = *kw;
    }
    out += repr ? v.Repr() : ApplySpec(v, spec);
  }
  return out;
}

std::string PyPercent(const std::string& format, const Value& args) {
  ValueList items = args.IsTuple() ? args.AsList() : ValueList{args};
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    if (++i >= format.size()) ThrowType("incomplete format");
    Value v;
    if (format[i] == '(') {
      size_t close = format.find(')', i);
      if (close == std::string::npos || !args.IsDict()) ThrowType("format requires a mapping");
      const Value* found = args.AsDict().Find(format.substr(i + 1, close - i - 1));
      if (!found) ThrowType("'" + format.substr(i + 1, close - i - 1) + "'");
      v = *found;
      i = close + 1;
    }
    std::string spec;
    while (i < format.size() && (std::isdigit(static_cast<unsigned char>(format[i])) ||
                                 format[i] == '.' || format[i] == '-'))
      spec += format[i++];
    if (i >= format.size()) ThrowType("incomplete format");
    if (spec.size() > 6) ThrowType("format width or precision too large");
    char type = format[i];
    if (type == '%') {
      out += '%';
      continue;
    }
    if (v.IsUndefined() && !args.IsDict()) {
      if (next >= items.size()) ThrowType("not enough arguments for format string");
      v = items[next++];
    }
    char buf[512];
    if (type == 'd' || type == 'i') {
      int64_t n = 0;
      if (v.kind() == VK::kInt) n = v.AsInt();
      if (v.kind() == VK::kFloat && !DoubleToInt(v.AsDouble(), &n))
        ThrowType("cannot convert float to integer");
      std::snprintf(buf, sizeof(buf), ("%" + spec + "lld").c_str(), static_cast<long long>(n));
      out += buf;
    } else if (type == 'f' || type == 'F') {
      std::snprintf(buf, sizeof(buf), ("%" + spec + "f").c_str(), v.AsDouble());
      out += buf;
    } else if (type == 'r') {
      out += v.Repr();
    } else {
      out += v.Str();
    }
  }
  if (!args.IsDict() && next < items.size())
    ThrowType("not all arguments converted during string formatting");
  return out;
}

}  // namespace ribbon::chat
