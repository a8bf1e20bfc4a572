// Value: what a Jinja expression evaluates to, with Python's semantics for the types a chat
// template sees (None, bool, int, float, str, list, tuple, dict) plus jinja2's Undefined, the
// sandbox's namespace objects and callables (macros, filters bound as methods, globals).
//
// Contract:
// - Lists and dicts are shared by reference, as in Python; the sandbox is immutable, so only
//   namespace objects (and the evaluator's own frames) are ever written after creation.
// - Dicts keep insertion order (Python 3.7+), which tojson and items() expose.
// - Errors are thrown as TemplateError inside core/chat only; ChatTemplate::Render turns them
//   into absl::Status, so nothing throws out of the library.
// - Str() is Python's str(); Repr() is Python's repr(), used when a list or dict is printed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nlohmann/json.hpp"

namespace ribbon::chat {

// Why a render stopped: a template's raise_exception, jinja2's UndefinedError, a sandbox
// SecurityError, a TypeError-like misuse, or a resource limit.
struct TemplateError {
  enum class Kind { kRaise, kUndefined, kSecurity, kType, kResource };
  Kind kind;
  std::string message;
};
[[noreturn]] void Throw(TemplateError::Kind kind, std::string message);
[[noreturn]] void ThrowType(std::string message);

class Value;
using ValueList = std::vector<Value>;
// Keys are Values (templates write `{0: 0, 512: 128}`); lookups compare with Python's ==.
struct ValueDict {
  std::vector<std::pair<Value, Value>> items;
  const Value* Find(std::string_view key) const;
  const Value* FindKey(const Value& key) const;
  void Set(Value key, Value value);
};

struct CallArgs {
  ValueList positional;
  std::vector<std::pair<std::string, Value>> keyword;
  const Value* Keyword(std::string_view name) const;
};
using Function = std::function<Value(CallArgs&)>;

class Value {
 public:
  static constexpr int kMaxDepth = 500;
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kFunction };

  Value() = default;  // Undefined
  static Value Undefined(std::string hint);
  // The sandbox's unsafe_undefined: using it raises SecurityError with `message`.
  static Value UnsafeUndefined(std::string message);
  static Value None();
  Value(bool b);
  Value(int64_t i);
  Value(int i) : Value(static_cast<int64_t>(i)) {}
  Value(double d);
  Value(std::string s);
  Value(const char* s) : Value(std::string(s)) {}
  static Value List(ValueList items, bool tuple = false);
  // What a list-like value really is in Python: jinja2's map/select/... filters return
  // generators (always truthy, no len(), one pass, not JSON), reverse() an iterator, and
  // dict.items()/keys()/values() views (len() works, not subscriptable, not JSON).
  enum class Seq {
    kList,
    kTuple,
    kGenerator,
    kReverseIterator,
    kDictItems,
    kDictKeys,
    kDictValues
  };
  static Value Sequence(ValueList items, Seq seq);
  // markupsafe.Markup (the `safe` filter): `+` with a plain str escapes the str.
  static Value Markup(std::string s);
  static Value Dict(ValueDict dict = {});
  static Value Namespace(ValueDict dict = {});
  static Value Func(std::string name, Function fn);
  // TypeError past kMaxDepth levels of nesting (a request cannot exhaust the stack).
  static Value FromJson(const nlohmann::ordered_json& json, int depth = 0);

  Kind kind() const { return kind_; }
  bool IsUndefined() const { return kind_ == Kind::kUndefined; }
  bool IsNone() const { return kind_ == Kind::kNone; }
  bool IsNumber() const { return kind_ == Kind::kInt || kind_ == Kind::kFloat; }
  bool IsString() const { return kind_ == Kind::kString; }
  bool IsList() const { return kind_ == Kind::kList; }
  bool IsDict() const { return kind_ == Kind::kDict; }
  bool IsTuple() const { return kind_ == Kind::kList && seq_ == Seq::kTuple; }
  Seq seq() const { return seq_; }
  // A plain list or tuple (subscriptable, sized, JSON-serializable).
  bool IsPlainSequence() const {
    return kind_ == Kind::kList && (seq_ == Seq::kList || seq_ == Seq::kTuple);
  }
  bool IsMarkup() const { return kind_ == Kind::kString && markup_; }
  bool IsNamespace() const { return kind_ == Kind::kDict && namespace_; }
  bool IsCallable() const { return kind_ == Kind::kFunction; }

  bool AsBool() const { return b_; }
  int64_t AsInt() const { return i_; }
  double AsDouble() const { return kind_ == Kind::kInt ? static_cast<double>(i_) : d_; }
  const std::string& AsString() const { return *s_; }
  const ValueList& AsList() const { return *list_; }
  ValueDict& AsDict() const { return *dict_; }
  const std::string& UndefinedHint() const;
  const std::string& FunctionName() const { return *s_; }
  Value Call(CallArgs& args) const;

  bool Truthy() const;
  std::string Str() const;
  std::string Repr() const;
  // Python's type name ("str", "dict"...) and jinja2's object_type_repr ("'dict object'").
  std::string TypeName() const;
  std::string ObjectTypeRepr() const;
  // The value's elements when iterated (dict keys, string characters); TypeError otherwise.
  ValueList Iterate() const;
  nlohmann::ordered_json ToJson() const;
  // jinja2's UndefinedError for this Undefined value.
  [[noreturn]] void ThrowUndefined() const;

 private:
  Kind kind_ = Kind::kUndefined;
  bool b_ = false;
  bool markup_ = false;
  // Nesting of lists/dicts below this value; creation fails past kMaxDepth so Repr, tojson,
  // == and destruction never recurse deeper (`{% set ns.x = [ns.x] %}` in a long loop).
  uint16_t depth_ = 0;
  Seq seq_ = Seq::kList;
  std::shared_ptr<bool> consumed_;  // generators and iterators: iterated once already
  bool namespace_ = false;
  int64_t i_ = 0;
  double d_ = 0;
  std::shared_ptr<const std::string> s_;  // string, undefined hint, function name
  std::shared_ptr<const ValueList> list_;
  std::shared_ptr<ValueDict> dict_;
  std::shared_ptr<const Function> fn_;
};

bool Equal(const Value& a, const Value& b);
// Python's <, for numbers, strings and lists; TypeError otherwise.
bool Less(const Value& a, const Value& b);

// Truncates like Python's int(float); false for NaN, infinities and values beyond int64.
bool DoubleToInt(double d, int64_t* out);

// Python float repr (shortest round-trip: 1.0, 0.1, 1e-05, 1e+20, inf, nan).
std::string FloatRepr(double d);
// Python repr() of a str.
std::string StringRepr(std::string_view s);

}  // namespace ribbon::chat
