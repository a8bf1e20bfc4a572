#include "core/chat/py_json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/chat/utf8.h"

namespace ribbon::chat {
namespace {

uint32_t DecodeCodepoint(const std::string& cp) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(cp[i])); };
  if (cp.size() == 2) return ((b(0) & 0x1f) << 6) | (b(1) & 0x3f);
  if (cp.size() == 3) return ((b(0) & 0x0f) << 12) | ((b(1) & 0x3f) << 6) | (b(2) & 0x3f);
  if (cp.size() == 4) {
    return ((b(0) & 0x07) << 18) | ((b(1) & 0x3f) << 12) | ((b(2) & 0x3f) << 6) | (b(3) & 0x3f);
  }
  return b(0);
}

void AppendU(std::string& out, uint32_t unit) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "\\u%04x", unit);
  out += buf;
}

class Dumper {
 public:
  explicit Dumper(const JsonDumpOptions& o) : o_(o) {
    item_sep_ = o.indent ? "," : ", ";
    key_sep_ = ": ";
    if (o.separators) {
      item_sep_ = o.separators->first;
      key_sep_ = o.separators->second;
    }
  }

  void Dump(const Value& v, int depth) {
    switch (v.kind()) {
      case Value::Kind::kNone:
        out_ += "null";
        return;
      case Value::Kind::kBool:
        out_ += v.AsBool() ? "true" : "false";
        return;
      case Value::Kind::kInt:
        out_ += std::to_string(v.AsInt());
        return;
      case Value::Kind::kFloat:
        DumpFloat(v.AsDouble());
        return;
      case Value::Kind::kString:
        out_ += JsonQuote(v.AsString(), o_.ensure_ascii);
        return;
      case Value::Kind::kList:
        if (!v.IsPlainSequence()) break;
        DumpList(v.AsList(), depth);
        return;
      case Value::Kind::kDict:
        if (!v.IsNamespace()) {
          DumpDict(v.AsDict(), depth);
          return;
        }
        [[fallthrough]];
      default:
        break;
    }
    ThrowType("Object of type " + v.TypeName() + " is not JSON serializable");
  }

  std::string out_;

 private:
  // Python's json: str keys as they are; int, float, bool and None keys converted.
  static std::string KeyString(const Value& k) {
    switch (k.kind()) {
      case Value::Kind::kString:
        return k.AsString();
      case Value::Kind::kBool:
        return k.AsBool() ? "true" : "false";
      case Value::Kind::kNone:
        return "null";
      case Value::Kind::kInt:
      case Value::Kind::kFloat:
        return k.Str();
      default:
        ThrowType("keys must be str, int, float, bool or None, not " + k.TypeName());
    }
  }

  void DumpFloat(double d) {
    if (std::isnan(d)) {
      out_ += "NaN";
    } else if (std::isinf(d)) {
      out_ += d > 0 ? "Infinity" : "-Infinity";
    } else {
      out_ += FloatRepr(d);
    }
  }

  void Newline(int depth) {
    if (!o_.indent) return;
    out_ += '\n';
    for (int i = 0; i < depth; ++i) out_ += *o_.indent;
  }

  void DumpList(const ValueList& items, int depth) {
    if (depth > 500) ThrowType("maximum recursion depth exceeded while encoding a JSON object");
    if (items.empty()) {
      out_ += "[]";
      return;
    }
    out_ += '[';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out_ += item_sep_;
      Newline(depth + 1);
      Dump(items[i], depth + 1);
    }
    Newline(depth);
    out_ += ']';
  }

  void DumpDict(const ValueDict& dict, int depth) {
    if (depth > 500) ThrowType("maximum recursion depth exceeded while encoding a JSON object");
    if (dict.items.empty()) {
      out_ += "{}";
      return;
    }
    std::vector<std::pair<std::string, const Value*>> entries;
    for (const auto& [k, v] : dict.items) entries.emplace_back(KeyString(k), &v);
    if (o_.sort_keys) {
      std::stable_sort(entries.begin(), entries.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
    }
    out_ += '{';
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i) out_ += item_sep_;
      Newline(depth + 1);
      out_ += JsonQuote(entries[i].first, o_.ensure_ascii);
      out_ += key_sep_;
      Dump(*entries[i].second, depth + 1);
    }
    Newline(depth);
    out_ += '}';
  }

  const JsonDumpOptions& o_;
  std::string item_sep_, key_sep_;
};

}  // namespace

std::string JsonQuote(const std::string& s, bool ensure_ascii) {
  std::string out = "\"";
  for (const std::string& cp : SplitCodepoints(s)) {
    unsigned char c = cp[0];
    if (cp.size() == 1) {
      switch (c) {
        case '"':
          out += "\\\"";
          continue;
        case '\\':
          out += "\\\\";
          continue;
        case '\n':
          out += "\\n";
          continue;
        case '\r':
          out += "\\r";
          continue;
        case '\t':
          out += "\\t";
          continue;
        case '\b':
          out += "\\b";
          continue;
        case '\f':
          out += "\\f";
          continue;
        default:
          break;
      }
      if (c < 0x20 || (ensure_ascii && c >= 0x7f && c != 0x7f)) {
        AppendU(out, c);
      } else {
        out += cp;
      }
      continue;
    }
    if (!ensure_ascii) {
      out += cp;
      continue;
    }
    uint32_t code = DecodeCodepoint(cp);
    if (code >= 0x10000) {
      code -= 0x10000;
      AppendU(out, 0xd800 + (code >> 10));
      AppendU(out, 0xdc00 + (code & 0x3ff));
    } else {
      AppendU(out, code);
    }
  }
  return out + "\"";
}

std::string JsonDumps(const Value& value, const JsonDumpOptions& options) {
  Dumper dumper(options);
  dumper.Dump(value, 0);
  return std::move(dumper.out_);
}

}  // namespace ribbon::chat
