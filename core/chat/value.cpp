#include "core/chat/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "core/chat/utf8.h"

namespace ribbon::chat {

void Throw(TemplateError::Kind kind, std::string message) {
  throw TemplateError{kind, std::move(message)};
}
void ThrowType(std::string message) { Throw(TemplateError::Kind::kType, std::move(message)); }

const Value* ValueDict::Find(std::string_view key) const {
  for (const auto& [k, v] : items) {
    if (k.IsString() && k.AsString() == key) return &v;
  }
  return nullptr;
}

const Value* ValueDict::FindKey(const Value& key) const {
  if (key.IsString()) return Find(key.AsString());
  for (const auto& [k, v] : items) {
    if (Equal(k, key)) return &v;
  }
  return nullptr;
}

void ValueDict::Set(Value key, Value value) {
  for (auto& [k, v] : items) {
    if (Equal(k, key)) {
      v = std::move(value);
      return;
    }
  }
  items.emplace_back(std::move(key), std::move(value));
}

const Value* CallArgs::Keyword(std::string_view name) const {
  for (const auto& [k, v] : keyword) {
    if (k == name) return &v;
  }
  return nullptr;
}

Value Value::Undefined(std::string hint) {
  Value v;
  v.s_ = std::make_shared<const std::string>(std::move(hint));
  return v;
}
Value Value::UnsafeUndefined(std::string message) {
  Value v = Undefined(std::move(message));
  v.b_ = true;
  return v;
}
const std::string& Value::UndefinedHint() const {
  static const std::string kEmpty;
  return s_ ? *s_ : kEmpty;
}
Value Value::None() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}
Value::Value(bool b) : kind_(Kind::kBool), b_(b) {}
Value::Value(int64_t i) : kind_(Kind::kInt), i_(i) {}
Value::Value(double d) : kind_(Kind::kFloat), d_(d) {}
Value::Value(std::string s)
    : kind_(Kind::kString), s_(std::make_shared<const std::string>(std::move(s))) {}

Value Value::List(ValueList items, bool tuple) {
  return Sequence(std::move(items), tuple ? Seq::kTuple : Seq::kList);
}
namespace {

uint16_t ChildDepth(const Value& child) {
  return child.kind() == Value::Kind::kList || child.kind() == Value::Kind::kDict ? 1 : 0;
}

}  // namespace

Value Value::Sequence(ValueList items, Seq seq) {
  Value v;
  for (const auto& item : items)
    v.depth_ = std::max<uint16_t>(v.depth_, item.depth_ + ChildDepth(item));
  if (v.depth_ > kMaxDepth) ThrowType("list or dict nested too deeply");
  v.kind_ = Kind::kList;
  v.seq_ = seq;
  v.list_ = std::make_shared<const ValueList>(std::move(items));
  if (seq == Seq::kGenerator || seq == Seq::kReverseIterator)
    v.consumed_ = std::make_shared<bool>(false);
  return v;
}
Value Value::Markup(std::string s) {
  Value v(std::move(s));
  v.markup_ = true;
  return v;
}
Value Value::Dict(ValueDict dict) {
  Value v;
  for (const auto& [k, item] : dict.items) {
    v.depth_ = std::max<uint16_t>(v.depth_, item.depth_ + ChildDepth(item));
  }
  if (v.depth_ > kMaxDepth) ThrowType("list or dict nested too deeply");
  v.kind_ = Kind::kDict;
  v.dict_ = std::make_shared<ValueDict>(std::move(dict));
  return v;
}
Value Value::Namespace(ValueDict dict) {
  Value v = Dict(std::move(dict));
  v.namespace_ = true;
  return v;
}
Value Value::Func(std::string name, Function fn) {
  Value v;
  v.kind_ = Kind::kFunction;
  v.s_ = std::make_shared<const std::string>(std::move(name));
  v.fn_ = std::make_shared<const Function>(std::move(fn));
  return v;
}

Value Value::FromJson(const nlohmann::ordered_json& json, int depth) {
  if (depth > kMaxDepth) ThrowType("chat template context nested too deeply");
  switch (json.type()) {
    case nlohmann::json::value_t::null:
      return None();
    case nlohmann::json::value_t::boolean:
      return Value(json.get<bool>());
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
      return Value(json.get<int64_t>());
    case nlohmann::json::value_t::number_float:
      return Value(json.get<double>());
    case nlohmann::json::value_t::string:
      return Value(json.get<std::string>());
    case nlohmann::json::value_t::array: {
      ValueList items;
      for (const auto& item : json) items.push_back(FromJson(item, depth + 1));
      return List(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      ValueDict dict;
      for (const auto& [k, v] : json.items())
        dict.items.emplace_back(Value(k), FromJson(v, depth + 1));
      return Dict(std::move(dict));
    }
    default:
      return None();
  }
}

Value Value::Call(CallArgs& args) const {
  if (kind_ != Kind::kFunction) ThrowType("'" + TypeName() + "' object is not callable");
  return (*fn_)(args);
}

bool Value::Truthy() const {
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone:
      return false;
    case Kind::kBool:
      return b_;
    case Kind::kInt:
      return i_ != 0;
    case Kind::kFloat:
      return d_ != 0;
    case Kind::kString:
      return !s_->empty();
    case Kind::kList:
      return consumed_ || !list_->empty();
    case Kind::kDict:
      return namespace_ || !dict_->items.empty();
    case Kind::kFunction:
      return true;
  }
  return false;
}

bool DoubleToInt(double d, int64_t* out) {
  if (!(d > -9.2e18 && d < 9.2e18)) return false;
  *out = static_cast<int64_t>(d);
  return true;
}

std::string FloatRepr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  size_t e = sci.find('e');
  int exp = std::stoi(sci.substr(e + 1));
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits += c;
  }
  if (exp >= -4 && exp < 16) {
    int decpt = exp + 1;
    if (decpt <= 0) return sign + "0." + std::string(-decpt, '0') + digits;
    if (decpt >= static_cast<int>(digits.size())) {
      return sign + digits + std::string(decpt - digits.size(), '0') + ".0";
    }
    return sign + digits.substr(0, decpt) + "." + digits.substr(decpt);
  }
  std::string out = sign + digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  std::string exp_digits = std::to_string(std::abs(exp));
  if (exp_digits.size() < 2) exp_digits = "0" + exp_digits;
  return out + "e" + (exp < 0 ? "-" : "+") + exp_digits;
}

std::string StringRepr(std::string_view s) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    if (c == quote || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0xa0) {
      char buf[8];  // C1 controls U+0080..U+009F are not printable in Python
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(s[i + 1]));
      out += buf;
      ++i;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += quote;
  return out;
}

std::string Value::Str() const {
  switch (kind_) {
    case Kind::kUndefined:
      return "";
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return b_ ? "True" : "False";
    case Kind::kInt:
      return std::to_string(i_);
    case Kind::kFloat:
      return FloatRepr(d_);
    case Kind::kString:
      return *s_;
    default:
      return Repr();
  }
}

std::string Value::Repr() const {
  switch (kind_) {
    case Kind::kString:
      return StringRepr(*s_);
    case Kind::kList: {
      if (consumed_) return "<" + TypeName() + " object>";
      bool tuple = seq_ == Seq::kTuple;
      std::string out = tuple ? "(" : "[";
      for (size_t i = 0; i < list_->size(); ++i) {
        if (i) out += ", ";
        out += (*list_)[i].Repr();
      }
      if (tuple && list_->size() == 1) out += ",";
      out += tuple ? ")" : "]";
      if (seq_ == Seq::kList || seq_ == Seq::kTuple) return out;
      return TypeName() + "(" + out + ")";
    }
    case Kind::kDict: {
      if (namespace_) return "<Namespace>";
      std::string out = "{";
      bool first = true;
      for (const auto& [k, v] : dict_->items) {
        if (!first) out += ", ";
        first = false;
        out += k.Repr() + ": " + v.Repr();
      }
      return out + "}";
    }
    case Kind::kFunction:
      return "<function " + *s_ + ">";
    default:
      return Str();
  }
}

std::string Value::TypeName() const {
  switch (kind_) {
    case Kind::kUndefined:
      return "Undefined";
    case Kind::kNone:
      return "NoneType";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return markup_ ? "Markup" : "str";
    case Kind::kList:
      switch (seq_) {
        case Seq::kTuple:
          return "tuple";
        case Seq::kGenerator:
          return "generator";
        case Seq::kReverseIterator:
          return "list_reverseiterator";
        case Seq::kDictItems:
          return "dict_items";
        case Seq::kDictKeys:
          return "dict_keys";
        case Seq::kDictValues:
          return "dict_values";
        default:
          return "list";
      }
    case Kind::kDict:
      return namespace_ ? "Namespace" : "dict";
    case Kind::kFunction:
      return "function";
  }
  return "object";
}

std::string Value::ObjectTypeRepr() const {
  if (kind_ == Kind::kNone) return "None";
  return TypeName() + " object";
}

ValueList Value::Iterate() const {
  switch (kind_) {
    case Kind::kList:
      if (consumed_) {
        if (*consumed_) return {};
        *consumed_ = true;
      }
      return *list_;
    case Kind::kDict: {
      if (namespace_) ThrowType("'Namespace' object is not iterable");
      ValueList keys;
      for (const auto& [k, v] : dict_->items) keys.push_back(k);
      return keys;
    }
    case Kind::kString: {
      ValueList chars;
      for (auto& c : SplitCodepoints(*s_)) chars.emplace_back(std::move(c));
      return chars;
    }
    case Kind::kUndefined:
      return {};
    default:
      ThrowType("'" + TypeName() + "' object is not iterable");
  }
}

nlohmann::ordered_json Value::ToJson() const {
  switch (kind_) {
    case Kind::kNone:
      return nullptr;
    case Kind::kBool:
      return b_;
    case Kind::kInt:
      return i_;
    case Kind::kFloat:
      return d_;
    case Kind::kString:
      return *s_;
    case Kind::kList: {
      if (!IsPlainSequence())
        ThrowType("Object of type " + TypeName() + " is not JSON serializable");
      auto out = nlohmann::ordered_json::array();
      for (const auto& item : *list_) out.push_back(item.ToJson());
      return out;
    }
    case Kind::kDict: {
      auto out = nlohmann::ordered_json::object();
      for (const auto& [k, v] : dict_->items)
        out[k.IsString() ? k.AsString() : k.Str()] = v.ToJson();
      return out;
    }
    default:
      ThrowType("Object of type " + TypeName() + " is not JSON serializable");
  }
}

void Value::ThrowUndefined() const {
  Throw(b_ ? TemplateError::Kind::kSecurity : TemplateError::Kind::kUndefined,
        s_ ? *s_ : std::string("undefined value"));
}

bool Equal(const Value& a, const Value& b) {
  using K = Value::Kind;
  bool a_num = a.IsNumber() || a.kind() == K::kBool;
  bool b_num = b.IsNumber() || b.kind() == K::kBool;
  if (a_num && b_num) {
    auto num = [](const Value& v) {
      return v.kind() == K::kBool ? (v.AsBool() ? 1.0 : 0.0) : v.AsDouble();
    };
    if (a.kind() == K::kInt && b.kind() == K::kInt) return a.AsInt() == b.AsInt();
    return num(a) == num(b);
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case K::kUndefined:
    case K::kNone:
      return true;
    case K::kString:
      return a.AsString() == b.AsString();
    case K::kList: {
      if (!a.IsPlainSequence() || !b.IsPlainSequence()) return &a.AsList() == &b.AsList();
      if (a.IsTuple() != b.IsTuple()) return false;
      if (a.AsList().size() != b.AsList().size()) return false;
      for (size_t i = 0; i < a.AsList().size(); ++i) {
        if (!Equal(a.AsList()[i], b.AsList()[i])) return false;
      }
      return true;
    }
    case K::kDict: {
      if (a.IsNamespace() || b.IsNamespace()) return &a.AsDict() == &b.AsDict();
      const auto& x = a.AsDict().items;
      if (x.size() != b.AsDict().items.size()) return false;
      for (const auto& [k, v] : x) {
        const Value* other = b.AsDict().FindKey(k);
        if (!other || !Equal(v, *other)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

bool Less(const Value& a, const Value& b) {
  using K = Value::Kind;
  bool a_num = a.IsNumber() || a.kind() == K::kBool;
  bool b_num = b.IsNumber() || b.kind() == K::kBool;
  if (a_num && b_num) {
    if (a.kind() == K::kInt && b.kind() == K::kInt) return a.AsInt() < b.AsInt();
    auto num = [](const Value& v) {
      return v.kind() == K::kBool ? (v.AsBool() ? 1.0 : 0.0) : v.AsDouble();
    };
    return num(a) < num(b);
  }
  if (a.IsString() && b.IsString()) return a.AsString() < b.AsString();
  if (a.IsList() && b.IsList()) {
    const auto& x = a.AsList();
    const auto& y = b.AsList();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!Equal(x[i], y[i])) return Less(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  ThrowType("'<' not supported between instances of '" + a.TypeName() + "' and '" + b.TypeName() +
            "'");
}

}  // namespace ribbon::chat
