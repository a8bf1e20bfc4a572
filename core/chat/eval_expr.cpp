// Expression evaluation: names, operators with Python's semantics, attribute and item access
// as jinja2's sandbox does them, calls, slices.
#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core/chat/builtins.h"
#include "core/chat/evaluator.h"
#include "core/chat/utf8.h"

namespace ribbon::chat {
namespace {

using Kind = TemplateError::Kind;
using VK = Value::Kind;

bool IsIntLike(const Value& v) { return v.kind() == VK::kInt || v.kind() == VK::kBool; }
int64_t IntOf(const Value& v) { return v.kind() == VK::kBool ? v.AsBool() : v.AsInt(); }
bool IsNumeric(const Value& v) { return v.IsNumber() || v.kind() == VK::kBool; }

[[noreturn]] void Unsupported(const std::string& op, const Value& a, const Value& b) {
  ThrowType("unsupported operand type(s) for " + op + ": '" + a.TypeName() + "' and '" +
            b.TypeName() + "'");
}

// markupsafe's escape(): what a plain str becomes when added to a Markup string.
std::string HtmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// str + str, where a Markup operand escapes the other one (Markup.__add__ / __radd__).
Value Concat(const Value& a, const Value& b) {
  if (a.IsMarkup() == b.IsMarkup()) {
    std::string s = a.AsString() + b.AsString();
    return a.IsMarkup() ? Value::Markup(std::move(s)) : Value(std::move(s));
  }
  if (a.IsMarkup()) return Value::Markup(a.AsString() + HtmlEscape(b.AsString()));
  return Value::Markup(HtmlEscape(a.AsString()) + b.AsString());
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

Value Repeat(const Value& seq, int64_t n) {
  size_t unit = seq.IsString() ? seq.AsString().size() : seq.AsList().size();
  if (n > 0 && unit > 0 && static_cast<uint64_t>(n) > (16u << 20) / unit) {
    Throw(Kind::kResource, "repetition too large");
  }
  if (seq.IsString()) {
    std::string out;
    for (int64_t i = 0; i < n; ++i) out += seq.AsString();
    return Value(std::move(out));
  }
  ValueList out;
  for (int64_t i = 0; i < n; ++i) {
    out.insert(out.end(), seq.AsList().begin(), seq.AsList().end());
  }
  return Value::List(std::move(out));
}

// str/list/tuple operands: concatenation, repetition, printf-style formatting; nullopt when
// the operation is not one of those.
std::optional<Value> SequenceArithmetic(const std::string& op, const Value& a, const Value& b) {
  if (op == "+") {
    if (a.IsString() && b.IsString()) return Concat(a, b);
    if (a.IsMarkup()) Unsupported(op, a, b);
    if (a.IsList() && b.IsList() && a.IsTuple() == b.IsTuple()) {
      ValueList out = a.AsList();
      out.insert(out.end(), b.AsList().begin(), b.AsList().end());
      return Value::List(std::move(out), a.IsTuple());
    }
    if (a.IsString()) ThrowType("can only concatenate str (not \"" + b.TypeName() + "\") to str");
    if (a.IsList() && !a.IsTuple()) {
      ThrowType("can only concatenate list (not \"" + b.TypeName() + "\") to list");
    }
  }
  if (op == "*") {
    if ((a.IsString() || a.IsList()) && IsIntLike(b)) return Repeat(a, IntOf(b));
    if (IsIntLike(a) && (b.IsString() || b.IsList())) return Repeat(b, IntOf(a));
  }
  if (op == "%" && a.IsString()) return Value(PyPercent(a.AsString(), b));
  return std::nullopt;
}

// int ** non-negative int; nullopt past int64 (the caller computes a float instead).
std::optional<int64_t> IntPower(int64_t base, int64_t exponent) {
  if (base == -1) return exponent % 2 == 0 ? 1 : -1;
  int64_t p = 1;
  for (int64_t i = 0; i < exponent; ++i) {
    if (__builtin_mul_overflow(p, base, &p)) return std::nullopt;
    if (p == 0 || p == 1) break;  // base 0 or 1: stays put
  }
  return p;
}

// Numbers (bool counts as int). Python's ints do not overflow; past int64 ribbon falls back to
// float rather than wrap.
Value NumberArithmetic(const std::string& op, const Value& a, const Value& b) {
  bool ints = IsIntLike(a) && IsIntLike(b);
  int64_t i = ints ? IntOf(a) : 0, j = ints ? IntOf(b) : 0, r = 0;
  double x = IsIntLike(a) ? static_cast<double>(IntOf(a)) : a.AsDouble();
  double y = IsIntLike(b) ? static_cast<double>(IntOf(b)) : b.AsDouble();
  if (op == "+") return ints && !__builtin_add_overflow(i, j, &r) ? Value(r) : Value(x + y);
  if (op == "-") return ints && !__builtin_sub_overflow(i, j, &r) ? Value(r) : Value(x - y);
  if (op == "*") return ints && !__builtin_mul_overflow(i, j, &r) ? Value(r) : Value(x * y);
  if (op == "/") {
    if (y == 0) ThrowType("division by zero");
    return Value(x / y);
  }
  if (op == "//" || op == "%") {
    if (y == 0) ThrowType(ints ? "integer division or modulo by zero" : "float modulo");
    if (ints && !(i == INT64_MIN && j == -1)) {
      int64_t q = FloorDiv(i, j);
      // a - q*b is the remainder (|r| < |b|); computed in 128 bits so q*b cannot overflow.
      auto rem = static_cast<int64_t>(static_cast<__int128>(i) - static_cast<__int128>(q) * j);
      return op == "//" ? Value(q) : Value(rem);
    }
    double q = std::floor(x / y);
    return op == "//" ? Value(q) : Value(x - q * y);
  }
  if (op == "**") {
    if (ints && j >= 0) {
      if (auto p = IntPower(i, j)) return Value(*p);
    }
    return Value(std::pow(x, y));
  }
  Unsupported(op, a, b);
}

Value Arithmetic(const std::string& op, const Value& a, const Value& b) {
  if (a.IsUndefined()) a.ThrowUndefined();
  if (b.IsUndefined()) b.ThrowUndefined();
  if (auto v = SequenceArithmetic(op, a, b)) return *v;
  if (!IsNumeric(a) || !IsNumeric(b)) Unsupported(op, a, b);
  return NumberArithmetic(op, a, b);
}

bool Contains(const Value& container, const Value& item) {
  if (container.IsString()) {
    if (!item.IsString()) {
      ThrowType("'in <string>' requires string as left operand, not " + item.TypeName());
    }
    return container.AsString().find(item.AsString()) != std::string::npos;
  }
  if (container.IsDict()) {
    return container.AsDict().FindKey(item) != nullptr;
  }
  if (container.IsList()) {
    for (const auto& v : container.AsList()) {
      if (Equal(v, item)) return true;
    }
    return false;
  }
  if (container.IsUndefined()) return false;
  ThrowType("argument of type '" + container.TypeName() + "' is not iterable");
}

int64_t NormalizeIndex(int64_t i, int64_t n) { return i < 0 ? i + n : i; }

}  // namespace

Value Evaluator::Lookup(const std::string& name, const FramePtr& frame) {
  for (Frame* f = frame.get(); f; f = f->parent.get()) {
    auto it = f->vars.find(name);
    if (it != f->vars.end()) return it->second;
  }
  return Value::Undefined("'" + name + "' is undefined");
}

Value Evaluator::Eval(const Expr& e, const FramePtr& frame) {
  Step();
  switch (e.kind) {
    case Expr::Kind::kLiteral:
      return e.literal;
    case Expr::Kind::kName:
      return Lookup(e.name, frame);
    case Expr::Kind::kList:
    case Expr::Kind::kTuple: {
      ValueList items;
      for (const auto& a : e.args) items.push_back(Eval(*a, frame));
      return Value::List(std::move(items), e.kind == Expr::Kind::kTuple);
    }
    case Expr::Kind::kDict: {
      ValueDict dict;
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        Value key = Eval(*e.args[i], frame);
        dict.Set(key, Eval(*e.args[i + 1], frame));
      }
      return Value::Dict(std::move(dict));
    }
    case Expr::Kind::kGetAttr:
      return GetAttr(Eval(*e.args[0], frame), e.name);
    case Expr::Kind::kGetItem:
      return GetItem(Eval(*e.args[0], frame), Eval(*e.args[1], frame));
    case Expr::Kind::kSlice:
      return EvalSlice(e, frame);
    case Expr::Kind::kCall:
      return EvalCall(e, frame);
    case Expr::Kind::kFilter: {
      CallArgs args = EvalArgs(e, 1, frame);
      args.positional.insert(args.positional.begin(), Eval(*e.args[0], frame));
      return ApplyFilter(*this, e.name, args);
    }
    case Expr::Kind::kTest: {
      Value value = Eval(*e.args[0], frame);
      CallArgs args = EvalArgs(e, 1, frame);
      return Value(ApplyTest(*this, e.name, value, args) != e.negated);
    }
    case Expr::Kind::kUnary: {
      Value v = Eval(*e.args[0], frame);
      if (e.name == "not") return Value(!v.Truthy());
      if (v.IsUndefined()) v.ThrowUndefined();
      if (!IsNumeric(v))
        ThrowType("bad operand type for unary " + e.name + ": '" + v.TypeName() + "'");
      if (e.name == "+") return IsIntLike(v) ? Value(IntOf(v)) : v;
      if (IsIntLike(v) && IntOf(v) != INT64_MIN) return Value(-IntOf(v));
      return Value(-v.AsDouble());
    }
    case Expr::Kind::kBinary:
      return EvalBinary(e, frame);
    case Expr::Kind::kCond:
      if (Eval(*e.args[1], frame).Truthy()) return Eval(*e.args[0], frame);
      if (e.args[2]) return Eval(*e.args[2], frame);
      return Value::Undefined("the inline if-expression on line " + std::to_string(e.line) +
                              " evaluated to false and no else section was defined.");
  }
  return Value();
}

Value Evaluator::EvalBinary(const Expr& e, const FramePtr& frame) {
  const std::string& op = e.name;
  Value a = Eval(*e.args[0], frame);
  if (op == "and") return a.Truthy() ? Eval(*e.args[1], frame) : a;
  if (op == "or") return a.Truthy() ? a : Eval(*e.args[1], frame);
  Value b = Eval(*e.args[1], frame);
  if (op == "~") return Value(a.Str() + b.Str());
  if (op == "==") return Value(Equal(a, b));
  if (op == "!=") return Value(!Equal(a, b));
  if (op == "in") return Value(Contains(b, a));
  if (op == "not in") return Value(!Contains(b, a));
  if (op == "<" || op == ">" || op == "<=" || op == ">=") {
    if (a.IsUndefined()) a.ThrowUndefined();
    if (b.IsUndefined()) b.ThrowUndefined();
    if (op == "<") return Value(Less(a, b));
    if (op == ">") return Value(Less(b, a));
    if (op == "<=") return Value(!Less(b, a));
    return Value(!Less(a, b));
  }
  return Arithmetic(op, a, b);
}

CallArgs Evaluator::EvalArgs(const Expr& e, size_t first, const FramePtr& frame) {
  CallArgs args;
  for (size_t i = first; i < e.args.size(); ++i) args.positional.push_back(Eval(*e.args[i], frame));
  for (const auto& [k, v] : e.kwargs) args.keyword.emplace_back(k, Eval(*v, frame));
  if (e.star) {
    for (auto& v : Eval(*e.star, frame).Iterate()) args.positional.push_back(std::move(v));
  }
  if (e.star_star) {
    Value kw = Eval(*e.star_star, frame);
    if (!kw.IsDict()) ThrowType("argument after ** must be a mapping");
    for (const auto& [k, v] : kw.AsDict().items) args.keyword.emplace_back(k.Str(), v);
  }
  return args;
}

Value Evaluator::EvalCall(const Expr& e, const FramePtr& frame) {
  Value callee = Eval(*e.args[0], frame);
  CallArgs args = EvalArgs(e, 1, frame);
  return CallValue(callee, args);
}

Value Evaluator::CallValue(const Value& callee, CallArgs& args) {
  if (callee.IsUndefined()) callee.ThrowUndefined();
  return callee.Call(args);
}

// jinja2's sandbox getattr: a Python attribute (a method of str/list/dict) first, then the item;
// attributes it deems unsafe (mutating methods, dunders) give an Undefined that raises
// SecurityError when used.
Value Evaluator::GetAttr(const Value& object, const std::string& name) {
  if (object.IsUndefined()) object.ThrowUndefined();
  if (object.IsNamespace()) {
    if (const Value* v = object.AsDict().Find(name)) return *v;
    return Value::Undefined("'" + object.ObjectTypeRepr() + "' has no attribute '" + name + "'");
  }
  Value method = GetMethod(object, name);
  if (!method.IsUndefined() || !method.UndefinedHint().empty()) return method;
  if (object.IsDict()) {
    if (const Value* v = object.AsDict().Find(name)) return *v;
  }
  return Value::Undefined("'" + object.ObjectTypeRepr() + "' has no attribute '" + name + "'");
}

// jinja2's sandbox getitem: the item first, then (for a string key) the attribute.
Value Evaluator::GetItem(const Value& object, const Value& key) {
  if (object.IsUndefined()) object.ThrowUndefined();
  if (object.IsDict() && !object.IsNamespace()) {
    if (const Value* v = object.AsDict().FindKey(key)) return *v;
  }
  if ((object.IsPlainSequence() || object.IsString()) && IsIntLike(key)) {
    bool is_str = object.IsString();
    std::vector<std::string> cps;
    if (is_str) cps = SplitCodepoints(object.AsString());
    auto n = static_cast<int64_t>(is_str ? cps.size() : object.AsList().size());
    int64_t i = NormalizeIndex(IntOf(key), n);
    if (i >= 0 && i < n) return is_str ? Value(cps[i]) : object.AsList()[i];
    return Value::Undefined(object.ObjectTypeRepr() + " has no element " + key.Repr());
  }
  if (key.IsString()) return GetAttr(object, key.AsString());
  return Value::Undefined(object.ObjectTypeRepr() + " has no element " + key.Repr());
}

Value Evaluator::EvalSlice(const Expr& e, const FramePtr& frame) {
  Value object = Eval(*e.args[0], frame);
  if (object.IsUndefined()) object.ThrowUndefined();
  auto bound = [&](size_t i) -> std::optional<int64_t> {
    if (!e.args[i]) return std::nullopt;
    Value v = Eval(*e.args[i], frame);
    if (v.IsNone()) return std::nullopt;
    if (!IsIntLike(v))
      ThrowType("slice indices must be integers or None or have an __index__ method");
    return IntOf(v);
  };
  std::optional<int64_t> start = bound(1), stop = bound(2), step_opt = bound(3);
  int64_t step = step_opt.value_or(1);
  if (step == 0) ThrowType("slice step cannot be zero");
  std::vector<std::string> cps;
  bool is_str = object.IsString();
  if (is_str) cps = SplitCodepoints(object.AsString());
  if (!is_str && !object.IsPlainSequence())
    return Value::Undefined(object.ObjectTypeRepr() + " has no element slice");
  auto n = static_cast<int64_t>(is_str ? cps.size() : object.AsList().size());
  auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v < 0 ? *v + n : *v;
    if (step > 0) return std::clamp<int64_t>(x, 0, n);
    return std::clamp<int64_t>(x, -1, n - 1);
  };
  int64_t lo = clamp(start, step > 0 ? 0 : n - 1);
  int64_t hi = clamp(stop, step > 0 ? n : -1);
  std::string s;
  ValueList items;
  for (int64_t i = lo; step > 0 ? i < hi : i > hi; i += step) {
    if (is_str) {
      s += cps[i];
    } else {
      items.push_back(object.AsList()[i]);
    }
  }
  return is_str ? Value(std::move(s)) : Value::List(std::move(items), object.IsTuple());
}

}  // namespace ribbon::chat
