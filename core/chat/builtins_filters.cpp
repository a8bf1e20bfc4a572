// jinja2 3.1's built-in filters (the ones chat templates use), with transformers' tojson.
#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "core/chat/builtins.h"
#include "core/chat/evaluator.h"
#include "core/chat/py_json.h"
#include "core/chat/utf8.h"

namespace ribbon::chat {
namespace {

using FilterFn = Value (*)(Evaluator&, CallArgs&);

// Argument `index` (1-based after the filtered value) or keyword `name`, else `fallback`.
Value Arg(const CallArgs& args, size_t index, std::string_view name, Value fallback = Value()) {
  if (index < args.positional.size()) return args.positional[index];
  if (const Value* v = args.Keyword(name)) return *v;
  return fallback;
}

const Value& Input(const CallArgs& args) { return args.positional[0]; }

// jinja2's select/reject/map iterate only a truthy value, so None gives an empty result.
ValueList Iterable(const Value& v) { return v.Truthy() ? v.Iterate() : ValueList{}; }

Value Length(Evaluator&, CallArgs& args) {
  const Value& v = Input(args);
  if (v.IsString()) return Value(static_cast<int64_t>(CodepointCount(v.AsString())));
  if (v.IsList() && (v.IsPlainSequence() || v.seq() >= Value::Seq::kDictItems)) {
    return Value(static_cast<int64_t>(v.AsList().size()));
  }
  if (v.IsDict() && !v.IsNamespace()) return Value(static_cast<int64_t>(v.AsDict().items.size()));
  if (v.IsUndefined()) return Value(int64_t{0});
  ThrowType("object of type '" + v.TypeName() + "' has no len()");
}

Value Trim(Evaluator&, CallArgs& args) {
  Value chars = Arg(args, 1, "chars");
  std::string s =
      Strip(Input(args).Str(), chars.IsString() ? chars.AsString() : "", StripSide::kBoth);
  return Input(args).IsMarkup() ? Value::Markup(std::move(s)) : Value(std::move(s));
}

// An attribute path ("a.b", "0") looked up as jinja2's make_attrgetter does.
Value Attribute(Evaluator& eval, const Value& item, const std::string& path) {
  Value v = item;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool digits =
        !part.empty() && part.size() <= 18 && std::all_of(part.begin(), part.end(), ::isdigit);
    v = eval.GetItem(v, digits ? Value(static_cast<int64_t>(std::stoll(part))) : Value(part));
    if (dot == std::string::npos) return v;
    start = dot + 1;
  }
}

Value Join(Evaluator& eval, CallArgs& args) {
  std::string sep = Arg(args, 1, "d", Value("")).Str();
  Value attribute = Arg(args, 2, "attribute");
  std::string out;
  bool first = true;
  for (const auto& item : Input(args).Iterate()) {
    if (!first) out += sep;
    first = false;
    out += attribute.IsUndefined() ? item.Str() : Attribute(eval, item, attribute.Str()).Str();
  }
  return Value(std::move(out));
}

Value Default(Evaluator&, CallArgs& args) {
  Value fallback = Arg(args, 1, "default_value", Value(""));
  bool boolean = Arg(args, 2, "boolean", Value(false)).Truthy();
  const Value& v = Input(args);
  if (v.IsUndefined() || (boolean && !v.Truthy())) return fallback;
  return v;
}

Value ToJson(Evaluator&, CallArgs& args) {
  JsonDumpOptions o;
  o.ensure_ascii = Arg(args, 1, "ensure_ascii", Value(false)).Truthy();
  Value indent = Arg(args, 2, "indent", Value::None());
  if (indent.kind() == Value::Kind::kInt)
    o.indent = std::string(std::max<int64_t>(0, indent.AsInt()), ' ');
  if (indent.IsString()) o.indent = indent.AsString();
  Value seps = Arg(args, 3, "separators", Value::None());
  if (seps.IsList() && seps.AsList().size() == 2) {
    o.separators = std::make_pair(seps.AsList()[0].Str(), seps.AsList()[1].Str());
  }
  o.sort_keys = Arg(args, 4, "sort_keys", Value(false)).Truthy();
  return Value(JsonDumps(Input(args), o));
}

Value Upper(Evaluator&, CallArgs& args) { return Value(PyUpper(Input(args).Str())); }
Value Lower(Evaluator&, CallArgs& args) { return Value(PyLower(Input(args).Str())); }

Value Capitalize(Evaluator&, CallArgs& args) { return Value(PyCapitalize(Input(args).Str())); }

// jinja2's do_title: words split at runs of "-", whitespace, "(", "{", "[", "<"; each word's
// first code point upper-cased and the rest lower-cased (unlike str.title, "it's" -> "It's").
Value Title(Evaluator&, CallArgs& args) {
  auto is_sep = [](const std::string& cp) {
    return cp == "-" || cp == "(" || cp == "{" || cp == "[" || cp == "<" || IsPythonSpace(cp);
  };
  std::string out;
  bool word_start = true;
  for (const std::string& cp : SplitCodepoints(Input(args).Str())) {
    if (is_sep(cp)) {
      out += cp;
      word_start = true;
      continue;
    }
    out += word_start ? PyUpper(cp) : PyLower(cp);
    word_start = false;
  }
  return Value(std::move(out));
}

Value Replace(Evaluator&, CallArgs& args) {
  CallArgs call;
  call.positional = {Arg(args, 1, "old"), Arg(args, 2, "new")};
  Value count = Arg(args, 3, "count", Value::None());
  if (!count.IsNone()) call.positional.push_back(count);
  return GetMethod(Value(Input(args).Str()), "replace").Call(call);
}

std::vector<std::string> SplitLines(const std::string& s) {
  std::vector<std::string> lines;
  std::string cur;
  std::vector<std::string> cps = SplitCodepoints(s);
  for (size_t i = 0; i < cps.size(); ++i) {
    const std::string& c = cps[i];
    bool brk = c == "\n" || c == "\r" || c == "\v" || c == "\f" || c == "\x1c" || c == "\x1d" ||
               c == "\x1e" || c == "\xc2\x85" || c == "\xe2\x80\xa8" || c == "\xe2\x80\xa9";
    if (!brk) {
      cur += c;
      continue;
    }
    if (c == "\r" && i + 1 < cps.size() && cps[i + 1] == "\n") ++i;
    lines.push_back(std::move(cur));
    cur.clear();
  }
  if (!cur.empty()) lines.push_back(std::move(cur));
  return lines;
}

Value Indent(Evaluator&, CallArgs& args) {
  Value width = Arg(args, 1, "width", Value(int64_t{4}));
  bool first = Arg(args, 2, "first", Value(false)).Truthy();
  bool blank = Arg(args, 3, "blank", Value(false)).Truthy();
  std::string indention =
      width.IsString() ? width.AsString() : std::string(std::max<int64_t>(0, width.AsInt()), ' ');
  std::vector<std::string> lines = SplitLines(Input(args).Str() + "\n");
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + indention : "") + lines[i];
  } else if (!lines.empty()) {
    rv = lines[0];
    for (size_t i = 1; i < lines.size(); ++i)
      rv += "\n" + (lines[i].empty() ? "" : indention + lines[i]);
  }
  return Value(first ? indention + rv : rv);
}

Value Items(Evaluator&, CallArgs& args) {
  const Value& v = Input(args);
  if (v.IsUndefined()) return Value::List({});
  if (!v.IsDict() || v.IsNamespace()) ThrowType("Can only get item pairs from a mapping.");
  ValueList out;
  for (const auto& [k, val] : v.AsDict().items) out.push_back(Value::List({k, val}, true));
  return Value::Sequence(std::move(out), Value::Seq::kGenerator);
}

// Sort key for sort/dictsort/unique: case-folded strings unless case_sensitive.
Value SortKey(const Value& v, bool case_sensitive) {
  return v.IsString() && !case_sensitive ? Value(PyLower(v.AsString())) : v;
}

Value DictSort(Evaluator&, CallArgs& args) {
  bool case_sensitive = Arg(args, 1, "case_sensitive", Value(false)).Truthy();
  std::string by = Arg(args, 2, "by", Value("key")).Str();
  bool reverse = Arg(args, 3, "reverse", Value(false)).Truthy();
  if (!Input(args).IsDict()) ThrowType("You can only sort by either \"key\" or \"value\"");
  ValueList items;
  for (const auto& [k, v] : Input(args).AsDict().items) items.push_back(Value::List({k, v}, true));
  size_t pos = by == "value" ? 1 : 0;
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    return Less(SortKey(a.AsList()[pos], case_sensitive), SortKey(b.AsList()[pos], case_sensitive));
  });
  if (reverse) std::reverse(items.begin(), items.end());
  return Value::List(std::move(items));
}

Value ToList(Evaluator&, CallArgs& args) { return Value::List(Input(args).Iterate()); }
Value ToString(Evaluator&, CallArgs& args) {
  return Input(args).IsMarkup() ? Input(args) : Value(Input(args).Str());
}
Value Safe(Evaluator&, CallArgs& args) {
  return Input(args).IsMarkup() ? Input(args) : Value::Markup(Input(args).Str());
}

Value ToInt(Evaluator&, CallArgs& args) {
  Value fallback = Arg(args, 1, "default", Value(int64_t{0}));
  const Value& v = Input(args);
  if (v.kind() == Value::Kind::kInt) return v;
  if (v.kind() == Value::Kind::kBool) return Value(static_cast<int64_t>(v.AsBool()));
  int64_t i = 0;
  if (v.kind() == Value::Kind::kFloat) return DoubleToInt(v.AsDouble(), &i) ? Value(i) : fallback;
  if (v.IsString()) {
    std::string s = Strip(v.AsString(), "", StripSide::kBoth);
    try {
      size_t used = 0;
      i = std::stoll(s, &used);
      if (used == s.size()) return Value(i);
      double d = std::stod(s, &used);
      if (used == s.size() && DoubleToInt(d, &i)) return Value(i);
    } catch (const std::exception&) {
    }
  }
  return fallback;
}

Value ToFloat(Evaluator&, CallArgs& args) {
  const Value& v = Input(args);
  if (v.IsNumber() || v.kind() == Value::Kind::kBool) {
    return Value(v.kind() == Value::Kind::kBool ? (v.AsBool() ? 1.0 : 0.0) : v.AsDouble());
  }
  if (v.IsString()) {
    try {
      size_t used = 0;
      std::string s = Strip(v.AsString(), "", StripSide::kBoth);
      double d = std::stod(s, &used);
      if (used == s.size()) return Value(d);
    } catch (const std::exception&) {
    }
  }
  return Arg(args, 1, "default", Value(0.0));
}

Value First(Evaluator&, CallArgs& args) {
  ValueList items = Input(args).Iterate();
  return items.empty() ? Value::Undefined("No first item, sequence was empty.") : items.front();
}

Value Last(Evaluator&, CallArgs& args) {
  ValueList items = Input(args).Iterate();
  return items.empty() ? Value::Undefined("No last item, sequence was empty.") : items.back();
}

Value Reverse(Evaluator&, CallArgs& args) {
  if (Input(args).IsString()) {
    std::vector<std::string> cps = SplitCodepoints(Input(args).AsString());
    std::string out;
    for (auto it = cps.rbegin(); it != cps.rend(); ++it) out += *it;
    return Value(out);
  }
  bool reversible = Input(args).IsPlainSequence();
  ValueList items = Input(args).Iterate();
  std::reverse(items.begin(), items.end());
  return reversible ? Value::Sequence(std::move(items), Value::Seq::kReverseIterator)
                    : Value::List(std::move(items));
}

Value Sort(Evaluator& eval, CallArgs& args) {
  bool reverse = Arg(args, 1, "reverse", Value(false)).Truthy();
  bool case_sensitive = Arg(args, 2, "case_sensitive", Value(false)).Truthy();
  Value attribute = Arg(args, 3, "attribute");
  ValueList items = Input(args).Iterate();
  auto key = [&](const Value& v) {
    return SortKey(attribute.IsUndefined() ? v : Attribute(eval, v, attribute.Str()),
                   case_sensitive);
  };
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    return reverse ? Less(key(b), key(a)) : Less(key(a), key(b));
  });
  return Value::List(std::move(items));
}

Value Unique(Evaluator& eval, CallArgs& args) {
  bool case_sensitive = Arg(args, 1, "case_sensitive", Value(false)).Truthy();
  Value attribute = Arg(args, 2, "attribute");
  ValueList seen, out;
  for (const auto& item : Input(args).Iterate()) {
    Value key = SortKey(attribute.IsUndefined() ? item : Attribute(eval, item, attribute.Str()),
                        case_sensitive);
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return Equal(s, key); })) {
      seen.push_back(key);
      out.push_back(item);
    }
  }
  return Value::Sequence(std::move(out), Value::Seq::kGenerator);
}

Value MinMax(Evaluator& eval, CallArgs& args, bool max) {
  bool case_sensitive = Arg(args, 1, "case_sensitive", Value(false)).Truthy();
  Value attribute = Arg(args, 2, "attribute");
  ValueList items = Input(args).Iterate();
  if (items.empty()) return Value::Undefined("No aggregated item, sequence was empty.");
  auto key = [&](const Value& v) {
    return SortKey(attribute.IsUndefined() ? v : Attribute(eval, v, attribute.Str()),
                   case_sensitive);
  };
  Value best = items[0];
  for (const auto& item : items) {
    if (max ? Less(key(best), key(item)) : Less(key(item), key(best))) best = item;
  }
  return best;
}
Value Min(Evaluator& e, CallArgs& a) { return MinMax(e, a, false); }
Value Max(Evaluator& e, CallArgs& a) { return MinMax(e, a, true); }

// select/reject/selectattr/rejectattr: keep items whose (attribute's) test result is `keep`.
Value SelectOrReject(Evaluator& eval, CallArgs& args, bool keep, bool by_attribute) {
  size_t next = 1;
  std::string attribute = by_attribute ? Arg(args, next++, "attribute").Str() : "";
  Value test = next < args.positional.size() ? args.positional[next] : Value();
  CallArgs test_args;
  for (size_t i = next + 1; i < args.positional.size(); ++i)
    test_args.positional.push_back(args.positional[i]);
  ValueList out;
  for (const auto& item : Iterable(Input(args))) {
    Value subject = by_attribute ? Attribute(eval, item, attribute) : item;
    bool result =
        test.IsUndefined() ? subject.Truthy() : ApplyTest(eval, test.Str(), subject, test_args);
    if (result == keep) out.push_back(item);
  }
  return Value::Sequence(std::move(out), Value::Seq::kGenerator);
}
Value Select(Evaluator& e, CallArgs& a) { return SelectOrReject(e, a, true, false); }
Value Reject(Evaluator& e, CallArgs& a) { return SelectOrReject(e, a, false, false); }
Value SelectAttr(Evaluator& e, CallArgs& a) { return SelectOrReject(e, a, true, true); }
Value RejectAttr(Evaluator& e, CallArgs& a) { return SelectOrReject(e, a, false, true); }

Value Map(Evaluator& eval, CallArgs& args) {
  ValueList out;
  const Value* attribute = args.Keyword("attribute");
  for (const auto& item : Iterable(Input(args))) {
    if (attribute) {
      Value v = Attribute(eval, item, attribute->Str());
      const Value* fallback = args.Keyword("default");
      out.push_back(v.IsUndefined() && fallback ? *fallback : v);
      continue;
    }
    if (args.positional.size() < 2) ThrowType("map requires a filter argument");
    CallArgs call;
    call.positional.push_back(item);
    for (size_t i = 2; i < args.positional.size(); ++i)
      call.positional.push_back(args.positional[i]);
    call.keyword = args.keyword;
    out.push_back(ApplyFilter(eval, args.positional[1].Str(), call));
  }
  return Value::Sequence(std::move(out), Value::Seq::kGenerator);
}

Value Abs(Evaluator&, CallArgs& args) {
  const Value& v = Input(args);
  if (v.kind() == Value::Kind::kInt && v.AsInt() != INT64_MIN) {
    return Value(v.AsInt() < 0 ? -v.AsInt() : v.AsInt());
  }
  if (v.kind() == Value::Kind::kInt) return Value(-static_cast<double>(v.AsInt()));
  if (v.kind() == Value::Kind::kFloat) return Value(std::fabs(v.AsDouble()));
  ThrowType("bad operand type for abs(): '" + v.TypeName() + "'");
}

Value Sum(Evaluator& eval, CallArgs& args) {
  Value attribute = Arg(args, 1, "attribute");
  Value total = Arg(args, 2, "start", Value(int64_t{0}));
  for (const auto& item : Input(args).Iterate()) {
    Value v = attribute.IsUndefined() ? item : Attribute(eval, item, attribute.Str());
    if (total.kind() == Value::Kind::kInt && v.kind() == Value::Kind::kInt) {
      int64_t sum = 0;
      total = __builtin_add_overflow(total.AsInt(), v.AsInt(), &sum)
                  ? Value(static_cast<double>(total.AsInt()) + static_cast<double>(v.AsInt()))
                  : Value(sum);
    } else if (total.IsNumber() && v.IsNumber()) {
      total = Value(total.AsDouble() + v.AsDouble());
    } else {
      ThrowType("unsupported operand type(s) for +: '" + total.TypeName() + "' and '" +
                v.TypeName() + "'");
    }
  }
  return total;
}

Value Format(Evaluator&, CallArgs& args) {
  ValueList rest(args.positional.begin() + 1, args.positional.end());
  return Value(PyPercent(Input(args).Str(), Value::List(std::move(rest), true)));
}

Value Attr(Evaluator& eval, CallArgs& args) {
  return eval.GetAttr(Input(args), Arg(args, 1, "name").Str());
}

const std::map<std::string, FilterFn, std::less<>>& Filters() {
  static const auto* filters =
      new std::map<std::string, FilterFn, std::less<>>{{"length", Length},
                                                       {"count", Length},
                                                       {"trim", Trim},
                                                       {"join", Join},
                                                       {"default", Default},
                                                       {"d", Default},
                                                       {"tojson", ToJson},
                                                       {"upper", Upper},
                                                       {"lower", Lower},
                                                       {"capitalize", Capitalize},
                                                       {"title", Title},
                                                       {"replace", Replace},
                                                       {"indent", Indent},
                                                       {"items", Items},
                                                       {"dictsort", DictSort},
                                                       {"list", ToList},
                                                       {"string", ToString},
                                                       {"safe", Safe},
                                                       {"int", ToInt},
                                                       {"float", ToFloat},
                                                       {"first", First},
                                                       {"last", Last},
                                                       {"reverse", Reverse},
                                                       {"sort", Sort},
                                                       {"unique", Unique},
                                                       {"min", Min},
                                                       {"max", Max},
                                                       {"select", Select},
                                                       {"reject", Reject},
                                                       {"selectattr", SelectAttr},
                                                       {"rejectattr", RejectAttr},
                                                       {"map", Map},
                                                       {"abs", Abs},
                                                       {"sum", Sum},
                                                       {"format", Format},
                                                       {"attr", Attr}};
  return *filters;
}

}  // namespace

bool IsFilter(std::string_view name) { return Filters().count(name) != 0; }

Value ApplyFilter(Evaluator& eval, std::string_view name, CallArgs& args) {
  auto it = Filters().find(name);
  if (it == Filters().end()) ThrowType("No filter named '" + std::string(name) + "' found.");
  eval.Step();
  return it->second(eval, args);
}

}  // namespace ribbon::chat
