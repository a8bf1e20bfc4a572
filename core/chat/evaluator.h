// Evaluator: walks a TemplateProgram over a context and writes the output, with jinja2's
// runtime semantics (scoping, Undefined, the sandbox's rules, loop variables, macros).
//
// Contract:
// - One Evaluator per render; it is not shared between threads. The program is read-only.
// - Scoping follows jinja2: `for` bodies and macro bodies get their own frame, freshly per
//   iteration (a `set` inside a loop is gone at the next iteration and after the loop, hence
//   namespace()); `if` and `filter`/`set` blocks do not open a scope.
// - Errors are thrown as TemplateError (value.h); ChatTemplate::Render catches them.
// - Every statement and expression counts a step; past RenderOptions::max_steps, or past
//   max_output_bytes of output, the render stops with a kResource error.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/chat/ast.h"
#include "core/chat/chat_template.h"
#include "core/chat/value.h"

namespace ribbon::chat {

struct Frame {
  std::shared_ptr<Frame> parent;
  std::unordered_map<std::string, Value> vars;
};
using FramePtr = std::shared_ptr<Frame>;

class Evaluator {
 public:
  explicit Evaluator(const RenderOptions& options) : options_(options) {}
  // Breaks the reference cycles a render can create (a macro held by the frame it closes over,
  // a namespace stored inside itself) so nothing outlives the render.
  ~Evaluator();
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  std::string Render(const TemplateProgram& program, const nlohmann::ordered_json& context);

  Value Eval(const Expr& expr, const FramePtr& frame);
  // The attribute / item lookups of jinja2's sandbox (see evaluator.cpp for the order).
  Value GetAttr(const Value& object, const std::string& name);
  Value GetItem(const Value& object, const Value& key);
  // Renders a callable's result the way `{{ f() }}` would see it.
  Value CallValue(const Value& callee, CallArgs& args);
  void Step();
  const RenderOptions& options() const { return options_; }

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  Flow ExecBody(const Body& body, const FramePtr& frame, std::string& out);
  Flow Exec(const Stmt& stmt, const FramePtr& frame, std::string& out);
  Flow ExecFor(const Stmt& stmt, const FramePtr& frame, std::string& out);
  void ExecSet(const Stmt& stmt, const FramePtr& frame);
  void ExecMacro(const Stmt& stmt, const FramePtr& frame);
  void ExecCallBlock(const Stmt& stmt, const FramePtr& frame, std::string& out);
  Value ApplyFilterChain(const Expr& chain, Value input, const FramePtr& frame);
  Value MakeMacro(const Stmt& stmt, const FramePtr& frame, std::string name);
  void Write(std::string& out, std::string_view text);

  // Expressions (eval_expr.cpp).
  Value Lookup(const std::string& name, const FramePtr& frame);
  Value EvalBinary(const Expr& expr, const FramePtr& frame);
  Value EvalCall(const Expr& expr, const FramePtr& frame);
  Value EvalSlice(const Expr& expr, const FramePtr& frame);
  CallArgs EvalArgs(const Expr& expr, size_t first, const FramePtr& frame);

  FramePtr MakeGlobals(const nlohmann::ordered_json& context);

  const RenderOptions& options_;
  uint64_t steps_ = 0;
  int call_depth_ = 0;
  std::vector<FramePtr> macro_frames_;  // frames holding macros that capture them
  std::vector<Value> namespaces_;  // every namespace() created  // macro calls in progress; bounded
                                   // like Python's recursion limit
  size_t output_bytes_ = 0;
};

void Assign(const FramePtr& frame, const std::vector<std::string>& targets, const Value& value);

}  // namespace ribbon::chat
