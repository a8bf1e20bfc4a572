#include "core/chat/evaluator.h"

#include <ctime>

#include "absl/strings/str_cat.h"
#include "core/chat/builtins.h"

namespace ribbon::chat {
namespace {

using Kind = TemplateError::Kind;

Value MakeLoop(const ValueList& items, size_t i, int64_t depth) {
  auto n = static_cast<int64_t>(items.size());
  auto idx = static_cast<int64_t>(i);
  ValueDict loop;
  loop.Set("index0", Value(idx));
  loop.Set("index", Value(idx + 1));
  loop.Set("revindex0", Value(n - idx - 1));
  loop.Set("revindex", Value(n - idx));
  loop.Set("first", Value(i == 0));
  loop.Set("last", Value(idx == n - 1));
  loop.Set("length", Value(n));
  loop.Set("depth", Value(depth));
  loop.Set("depth0", Value(depth - 1));
  loop.Set("previtem", i > 0 ? items[i - 1] : Value::Undefined("there is no previous item"));
  loop.Set("nextitem", idx + 1 < n ? items[i + 1] : Value::Undefined("there is no next item"));
  loop.Set("cycle", Value::Func("cycle", [idx](CallArgs& args) {
             if (args.positional.empty()) ThrowType("no items for cycling given");
             return args.positional[idx % args.positional.size()];
           }));
  return Value::Namespace(std::move(loop));
}

std::string StrftimeNow(const RenderOptions& options, const std::string& format) {
  std::time_t t = options.now_unix_seconds ? static_cast<std::time_t>(*options.now_unix_seconds)
                                           : std::time(nullptr);
  std::tm tm{};
  if (options.now_unix_seconds) {
    gmtime_r(&t, &tm);
  } else {
    localtime_r(&t, &tm);
  }
  if (format.empty()) return "";
  std::string buf(format.size() * 8 + 64, '\0');
  size_t n = std::strftime(buf.data(), buf.size(), format.c_str(), &tm);
  buf.resize(n);
  return buf;
}

Value RangeFn(CallArgs& args) {
  int64_t start = 0, stop = 0, step = 1;
  auto arg = [&](size_t i) {
    if (args.positional[i].kind() != Value::Kind::kInt &&
        args.positional[i].kind() != Value::Kind::kBool) {
      ThrowType("'" + args.positional[i].TypeName() +
                "' object cannot be interpreted as an integer");
    }
    return args.positional[i].kind() == Value::Kind::kBool ? int64_t{args.positional[i].AsBool()}
                                                           : args.positional[i].AsInt();
  };
  size_t n = args.positional.size();
  if (n == 0 || n > 3) ThrowType("range expected 1 to 3 arguments");
  if (n == 1) stop = arg(0);
  if (n >= 2) start = arg(0), stop = arg(1);
  if (n == 3) step = arg(2);
  if (step == 0) ThrowType("range() arg 3 must not be zero");
  ValueList items;
  for (int64_t v = start; step > 0 ? v < stop : v > stop;) {
    if (items.size() >= 100000) {
      Throw(Kind::kSecurity,
            "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    }
    items.emplace_back(v);
    if (__builtin_add_overflow(v, step, &v)) break;
  }
  return Value::List(std::move(items));
}

// dict(...) and namespace(...): an optional mapping positional plus keyword arguments.
ValueDict DictFromArgs(const CallArgs& args, bool check_names) {
  ValueDict dict;
  if (!args.positional.empty()) {
    const Value& first = args.positional[0];
    if (!first.IsDict()) ThrowType("dict() argument must be a mapping");
    dict = first.AsDict();
  }
  for (const auto& [k, v] : args.keyword) dict.Set(k, v);
  if (check_names) {
    for (const auto& [k, v] : dict.items) {
      if (k.IsString() && !k.AsString().empty() && k.AsString()[0] == '_') {
        Throw(
            Kind::kSecurity,
            "Chat templates cannot store underscore-prefixed attributes on a namespace, but got '" +
                k.AsString() + "'. Please rename the attribute.");
      }
    }
  }
  return dict;
}

}  // namespace

Evaluator::~Evaluator() {
  for (const auto& frame : macro_frames_) frame->vars.clear();
  for (const auto& ns : namespaces_) ns.AsDict().items.clear();
}

FramePtr Evaluator::MakeGlobals(const nlohmann::ordered_json& context) {
  auto globals = std::make_shared<Frame>();
  auto& g = globals->vars;
  g["range"] = Value::Func("range", RangeFn);
  g["dict"] = Value::Func("dict", [](CallArgs& a) { return Value::Dict(DictFromArgs(a, false)); });
  g["namespace"] = Value::Func("namespace", [this](CallArgs& a) {
    namespaces_.push_back(Value::Namespace(DictFromArgs(a, true)));
    return namespaces_.back();
  });
  g["raise_exception"] = Value::Func("raise_exception", [](CallArgs& a) -> Value {
    Throw(Kind::kRaise, a.positional.empty() ? "" : a.positional[0].Str());
  });
  g["strftime_now"] = Value::Func("strftime_now", [this](CallArgs& a) {
    if (a.positional.empty()) ThrowType("strftime_now() missing 1 required positional argument");
    return Value(StrftimeNow(options_, a.positional[0].Str()));
  });
  auto root = std::make_shared<Frame>();
  root->parent = globals;
  if (context.is_object()) {
    for (const auto& [k, v] : context.items()) root->vars[k] = Value::FromJson(v);
  }
  return root;
}

std::string Evaluator::Render(const TemplateProgram& program,
                              const nlohmann::ordered_json& context) {
  FramePtr root = MakeGlobals(context);
  std::string out;
  ExecBody(program.body, root, out);
  return out;
}

void Evaluator::Step() {
  if (options_.max_steps != 0 && ++steps_ > options_.max_steps) {
    Throw(Kind::kResource, "chat template exceeded its step limit");
  }
}

void Evaluator::Write(std::string& out, std::string_view text) {
  output_bytes_ += text.size();
  if (options_.max_output_bytes != 0 && output_bytes_ > options_.max_output_bytes) {
    Throw(Kind::kResource, "chat template output exceeded its size limit");
  }
  out.append(text);
}

Evaluator::Flow Evaluator::ExecBody(const Body& body, const FramePtr& frame, std::string& out) {
  for (const auto& stmt : body) {
    Flow flow = Exec(*stmt, frame, out);
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

Evaluator::Flow Evaluator::Exec(const Stmt& stmt, const FramePtr& frame, std::string& out) {
  Step();
  switch (stmt.kind) {
    case Stmt::Kind::kText:
      Write(out, stmt.text);
      return Flow::kNormal;
    case Stmt::Kind::kOutput:
      Write(out, Eval(*stmt.expr, frame).Str());
      return Flow::kNormal;
    case Stmt::Kind::kIf:
      for (const auto& [cond, body] : stmt.branches) {
        if (Eval(*cond, frame).Truthy()) return ExecBody(body, frame, out);
      }
      return ExecBody(stmt.else_body, frame, out);
    case Stmt::Kind::kFor:
      return ExecFor(stmt, frame, out);
    case Stmt::Kind::kSet:
    case Stmt::Kind::kSetBlock:
      ExecSet(stmt, frame);
      return Flow::kNormal;
    case Stmt::Kind::kMacro:
      ExecMacro(stmt, frame);
      return Flow::kNormal;
    case Stmt::Kind::kCallBlock:
      ExecCallBlock(stmt, frame, out);
      return Flow::kNormal;
    case Stmt::Kind::kFilterBlock: {
      std::string body;
      Flow flow = ExecBody(stmt.body, frame, body);
      Write(out, ApplyFilterChain(*stmt.filters, Value(body), frame).Str());
      return flow;
    }
    case Stmt::Kind::kBreak:
      return Flow::kBreak;
    case Stmt::Kind::kContinue:
      return Flow::kContinue;
    case Stmt::Kind::kGeneration:
      return ExecBody(stmt.body, frame, out);
  }
  return Flow::kNormal;
}

void Assign(const FramePtr& frame, const std::vector<std::string>& targets, const Value& value) {
  if (targets.size() == 1) {
    frame->vars[targets[0]] = value;
    return;
  }
  ValueList items = value.Iterate();
  if (items.size() != targets.size()) {
    ThrowType(items.size() < targets.size()
                  ? absl::StrCat("not enough values to unpack (expected ", targets.size(), ", got ",
                                 items.size(), ")")
                  : absl::StrCat("too many values to unpack (expected ", targets.size(), ")"));
  }
  for (size_t i = 0; i < targets.size(); ++i) frame->vars[targets[i]] = items[i];
}

Evaluator::Flow Evaluator::ExecFor(const Stmt& stmt, const FramePtr& frame, std::string& out) {
  Value iterable = Eval(*stmt.expr, frame);
  ValueList items = iterable.Iterate();
  if (stmt.condition) {
    ValueList kept;
    for (const auto& item : items) {
      auto probe = std::make_shared<Frame>();
      probe->parent = frame;
      Assign(probe, stmt.targets, item);
      if (Eval(*stmt.condition, probe).Truthy()) kept.push_back(item);
    }
    items = std::move(kept);
  }
  for (size_t i = 0; i < items.size(); ++i) {
    auto body_frame = std::make_shared<Frame>();
    body_frame->parent = frame;
    Assign(body_frame, stmt.targets, items[i]);
    body_frame->vars["loop"] = MakeLoop(items, i, 1);
    if (ExecBody(stmt.body, body_frame, out) == Flow::kBreak) break;
  }
  if (items.empty()) ExecBody(stmt.else_body, frame, out);
  return Flow::kNormal;
}

void Evaluator::ExecSet(const Stmt& stmt, const FramePtr& frame) {
  if (stmt.kind == Stmt::Kind::kSetBlock) {
    std::string body;
    ExecBody(stmt.body, frame, body);
    Value value(body);
    if (stmt.filters) value = ApplyFilterChain(*stmt.filters, value, frame);
    frame->vars[stmt.targets[0]] = value;
    return;
  }
  Value value = Eval(*stmt.expr, frame);
  if (stmt.attr.empty()) {
    Assign(frame, stmt.targets, value);
    return;
  }
  Value target = Lookup(stmt.name, frame);
  if (!target.IsNamespace()) ThrowType("cannot assign attribute on non-namespace object");
  if (!stmt.attr.empty() && stmt.attr[0] == '_') {
    Throw(Kind::kSecurity,
          "Chat templates cannot store underscore-prefixed attributes on a namespace, but got '" +
              stmt.attr + "'. Please rename the attribute.");
  }
  target.AsDict().Set(stmt.attr, value);
}

// A filter chain parsed on a null value (set and filter blocks): applies it to `input`.
Value Evaluator::ApplyFilterChain(const Expr& chain, Value input, const FramePtr& frame) {
  Value base =
      chain.args[0] ? ApplyFilterChain(*chain.args[0], std::move(input), frame) : std::move(input);
  CallArgs args = EvalArgs(chain, 1, frame);
  args.positional.insert(args.positional.begin(), base);
  return ApplyFilter(*this, chain.name, args);
}

Value Evaluator::MakeMacro(const Stmt& stmt, const FramePtr& frame, std::string name) {
  const Stmt* macro = &stmt;
  return Value::Func(std::move(name), [this, macro, frame](CallArgs& args) {
    if (call_depth_ >= 100) ThrowType("maximum recursion depth exceeded");
    struct DepthScope {
      int& depth;
      explicit DepthScope(int& d) : depth(++d) {}
      ~DepthScope() { --depth; }
    } scope(call_depth_);
    auto local = std::make_shared<Frame>();
    local->parent = frame;
    const auto& params = macro->params;
    if (args.positional.size() > params.size()) {
      ThrowType(absl::StrCat("macro '", macro->name, "' takes not more than ", params.size(),
                             " argument(s)"));
    }
    ValueDict extra;
    for (const auto& [k, v] : args.keyword) {
      bool known = false;
      for (const auto& p : params) known = known || p.name == k;
      if (known) {
        local->vars[k] = v;
      } else if (k == "caller") {
        local->vars["caller"] = v;
      } else {
        extra.Set(k, v);
      }
    }
    for (size_t i = 0; i < params.size(); ++i) {
      if (i < args.positional.size()) {
        local->vars[params[i].name] = args.positional[i];
      } else if (!local->vars.count(params[i].name)) {
        local->vars[params[i].name] =
            params[i].default_value
                ? Eval(*params[i].default_value, local)
                : Value::Undefined("parameter '" + params[i].name + "' was not provided");
      }
    }
    local->vars["kwargs"] = Value::Dict(std::move(extra));
    local->vars["varargs"] = Value::List({}, true);
    std::string out;
    ExecBody(macro->body, local, out);
    return Value(std::move(out));
  });
}

void Evaluator::ExecMacro(const Stmt& stmt, const FramePtr& frame) {
  frame->vars[stmt.name] = MakeMacro(stmt, frame, stmt.name);
  macro_frames_.push_back(frame);
}

void Evaluator::ExecCallBlock(const Stmt& stmt, const FramePtr& frame, std::string& out) {
  Value caller = MakeMacro(stmt, frame, "caller");
  const Expr& call = *stmt.expr;
  Value callee = Eval(*call.args[0], frame);
  CallArgs args = EvalArgs(call, 1, frame);
  args.keyword.emplace_back("caller", caller);
  Write(out, CallValue(callee, args).Str());
}

}  // namespace ribbon::chat
