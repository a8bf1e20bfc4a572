// Methods of str, dict and list values as the immutable sandbox exposes them: read-only
// methods work; mutating ones (list.append, dict.pop...) are unsafe and raise SecurityError.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/chat/builtins.h"
#include "core/chat/utf8.h"

namespace ribbon::chat {
namespace {

using Kind = TemplateError::Kind;

const Value& Pos(const CallArgs& a, size_t i, const char* method) {
  if (i >= a.positional.size()) ThrowType(absl::StrCat(method, "() missing required argument"));
  return a.positional[i];
}

std::string OptChars(const CallArgs& a) {
  return a.positional.empty() || a.positional[0].IsNone() ? "" : a.positional[0].Str();
}

Value SplitString(const std::string& s, const CallArgs& a) {
  Value sep = a.positional.empty() ? Value::None() : a.positional[0];
  if (const Value* k = a.Keyword("sep")) sep = *k;
  int64_t maxsplit = a.positional.size() > 1 ? a.positional[1].AsInt() : -1;
  if (const Value* k = a.Keyword("maxsplit")) maxsplit = k->AsInt();
  ValueList parts;
  if (sep.IsNone()) {
    std::vector<std::string> cps = SplitCodepoints(s);
    std::string cur;
    size_t i = 0;
    while (i < cps.size()) {
      while (i < cps.size() && IsPythonSpace(cps[i])) ++i;
      if (i >= cps.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        std::string rest;
        for (size_t k = i; k < cps.size(); ++k) rest += cps[k];
        parts.emplace_back(Strip(rest, "", StripSide::kRight));
        return Value::List(std::move(parts));
      }
      while (i < cps.size() && !IsPythonSpace(cps[i])) cur += cps[i++];
      parts.emplace_back(std::move(cur));
      cur.clear();
    }
    return Value::List(std::move(parts));
  }
  std::string delim = sep.Str();
  if (delim.empty()) ThrowType("empty separator");
  size_t start = 0;
  while (true) {
    size_t at = s.find(delim, start);
    if (at == std::string::npos ||
        (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit)) {
      parts.emplace_back(s.substr(start));
      return Value::List(std::move(parts));
    }
    parts.emplace_back(s.substr(start, at - start));
    start = at + delim.size();
  }
}

bool AffixMatch(const std::string& s, const Value& affix, bool prefix) {
  auto one = [&](const Value& v) {
    if (!v.IsString()) ThrowType("startswith first arg must be str or a tuple of str");
    const std::string& a = v.AsString();
    if (a.size() > s.size()) return false;
    return prefix ? s.compare(0, a.size(), a) == 0
                  : s.compare(s.size() - a.size(), a.size(), a) == 0;
  };
  if (affix.IsList()) return std::any_of(affix.AsList().begin(), affix.AsList().end(), one);
  return one(affix);
}

std::string ReplaceAll(const std::string& s, const std::string& from, const std::string& to,
                       int64_t count) {
  std::string out;
  if (from.empty()) {
    std::vector<std::string> cps = SplitCodepoints(s);
    int64_t done = 0;
    for (const auto& cp : cps) {
      if (count < 0 || done < count) out += to, ++done;
      out += cp;
    }
    if (count < 0 || done < count) out += to;
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t at = s.find(from, start);
    if (at == std::string::npos) break;
    out += s.substr(start, at - start) + to;
    start = at + from.size();
    ++done;
  }
  return out + s.substr(start);
}

Value StrJoin(const std::string& s, const CallArgs& a) {
  std::string out;
  bool first = true;
  for (const auto& item : Pos(a, 0, "join").Iterate()) {
    if (!item.IsString()) {
      ThrowType("sequence item: expected str instance, " + item.TypeName() + " found");
    }
    if (!first) out += s;
    first = false;
    out += item.AsString();
  }
  return Value(out);
}

// find / rfind / index / rindex / count; positions in code points.
Value StrSearch(const std::string& s, const std::string& name, const CallArgs& a) {
  std::string sub = Pos(a, 0, name.c_str()).Str();
  if (name == "count") {
    if (sub.empty()) return Value(static_cast<int64_t>(CodepointCount(s) + 1));
    int64_t n = 0;
    for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
    return Value(n);
  }
  size_t at = name[0] == 'r' ? s.rfind(sub) : s.find(sub);
  if (at == std::string::npos) {
    if (name == "index" || name == "rindex") ThrowType("substring not found");
    return Value(int64_t{-1});
  }
  return Value(static_cast<int64_t>(CodepointCount(s.substr(0, at))));
}

Value SplitLines(const std::string& s) {
  ValueList lines;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string::npos) nl = s.size();
    lines.emplace_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return Value::List(std::move(lines));
}

// is* predicates (ASCII classes) and removeprefix / removesuffix.
Value StrPredicateOrAffix(const std::string& s, const std::string& name, const CallArgs& a) {
  auto all = [&](int (*pred)(int)) {
    return Value(!s.empty() && std::all_of(s.begin(), s.end(), [pred](char c) {
      return pred(static_cast<unsigned char>(c)) != 0;
    }));
  };
  if (name == "isdigit") return all(::isdigit);
  if (name == "isalpha") return all(::isalpha);
  if (name == "isalnum") return all(::isalnum);
  if (name == "isspace") return all(::isspace);
  std::string p = Pos(a, 0, name.c_str()).Str();
  if (name == "removeprefix") {
    return Value(p.size() <= s.size() && s.compare(0, p.size(), p) == 0 ? s.substr(p.size()) : s);
  }
  bool ends =
      !p.empty() && p.size() <= s.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
  return Value(ends ? s.substr(0, s.size() - p.size()) : s);
}

Value StrMethod(const std::string& s, const std::string& name, CallArgs& a) {
  if (name == "strip") return Value(Strip(s, OptChars(a), StripSide::kBoth));
  if (name == "lstrip") return Value(Strip(s, OptChars(a), StripSide::kLeft));
  if (name == "rstrip") return Value(Strip(s, OptChars(a), StripSide::kRight));
  if (name == "split") return SplitString(s, a);
  if (name == "startswith") return Value(AffixMatch(s, Pos(a, 0, "startswith"), true));
  if (name == "endswith") return Value(AffixMatch(s, Pos(a, 0, "endswith"), false));
  if (name == "upper") return Value(PyUpper(s));
  if (name == "lower") return Value(PyLower(s));
  if (name == "title") return Value(PyTitle(s));
  if (name == "capitalize") return Value(PyCapitalize(s));
  if (name == "replace") {
    int64_t count = a.positional.size() > 2 ? a.positional[2].AsInt() : -1;
    return Value(ReplaceAll(s, Pos(a, 0, "replace").Str(), Pos(a, 1, "replace").Str(), count));
  }
  if (name == "format") return Value(PyFormat(s, a));
  if (name == "join") return StrJoin(s, a);
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    return StrSearch(s, name, a);
  }
  if (name == "splitlines") return SplitLines(s);
  if (name.rfind("is", 0) == 0 || name.rfind("remove", 0) == 0) {
    return StrPredicateOrAffix(s, name, a);
  }
  ThrowType("'str' object has no attribute '" + name + "'");
}

const char* const kStrMethods[] = {
    "strip",   "lstrip",  "rstrip",       "split",       "startswith", "endswith", "upper",
    "lower",   "title",   "capitalize",   "replace",     "format",     "join",     "find",
    "rfind",   "index",   "rindex",       "count",       "splitlines", "isdigit",  "isalpha",
    "isalnum", "isspace", "removeprefix", "removesuffix"};
const char* const kDictSafe[] = {"get", "items", "keys", "values", "copy"};
const char* const kDictUnsafe[] = {"pop", "popitem", "update", "setdefault", "clear"};
const char* const kListSafe[] = {"index", "count", "copy"};
const char* const kListUnsafe[] = {"append", "extend", "insert", "pop",
                                   "remove", "clear",  "sort",   "reverse"};

template <size_t N>
bool In(const char* const (&names)[N], const std::string& name) {
  return std::any_of(std::begin(names), std::end(names), [&](const char* n) { return name == n; });
}

Value DictMethod(const Value& self, const std::string& name, CallArgs& a) {
  const ValueDict& d = self.AsDict();
  if (name == "get") {
    const Value* v = d.FindKey(Pos(a, 0, "get"));
    if (v) return *v;
    return a.positional.size() > 1 ? a.positional[1] : Value::None();
  }
  ValueList out;
  for (const auto& [k, v] : d.items) {
    if (name == "items") out.push_back(Value::List({k, v}, true));
    if (name == "keys") out.push_back(k);
    if (name == "values") out.push_back(v);
  }
  if (name == "copy") return Value::Dict(d);
  using Seq = Value::Seq;
  return Value::Sequence(std::move(out), name == "items"  ? Seq::kDictItems
                                         : name == "keys" ? Seq::kDictKeys
                                                          : Seq::kDictValues);
}

Value ListMethod(const Value& self, const std::string& name, CallArgs& a) {
  const ValueList& items = self.AsList();
  if (name == "copy") return Value::List(items);
  const Value& needle = Pos(a, 0, name.c_str());
  int64_t count = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!Equal(items[i], needle)) continue;
    if (name == "index") return Value(static_cast<int64_t>(i));
    ++count;
  }
  if (name == "index") ThrowType(needle.Repr() + " is not in list");
  return Value(count);
}

}  // namespace

Value GetMethod(const Value& value, const std::string& name) {
  auto unsafe = [&] {
    return Value::UnsafeUndefined("access to attribute '" + name + "' of '" + value.TypeName() +
                                  "' object is unsafe.");
  };
  if (name.size() > 1 && name[0] == '_' && name[1] == '_') return unsafe();
  if (value.IsString() && In(kStrMethods, name)) {
    std::string s = value.AsString();
    return Value::Func(name, [s, name](CallArgs& a) { return StrMethod(s, name, a); });
  }
  if (value.IsDict() && !value.IsNamespace()) {
    if (In(kDictUnsafe, name)) return unsafe();
    if (In(kDictSafe, name))
      return Value::Func(name, [value, name](CallArgs& a) { return DictMethod(value, name, a); });
  }
  if (value.IsList()) {
    if (In(kListUnsafe, name) && !value.IsTuple()) return unsafe();
    if (In(kListSafe, name))
      return Value::Func(name, [value, name](CallArgs& a) { return ListMethod(value, name, a); });
  }
  return Value::Undefined("");
}

}  // namespace ribbon::chat
