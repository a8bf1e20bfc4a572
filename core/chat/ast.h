// The parsed template: expression and statement nodes the parser builds and the evaluator walks.
// Plain data, immutable after parsing (a TemplateProgram is shared by concurrent renders).
// Each node is one generic struct with a kind; the fields a kind uses are listed beside it.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/chat/value.h"

namespace ribbon::chat {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,  // literal
    kName,     // name
    kList,     // args = items
    kTuple,    // args = items
    kDict,     // args = key0, value0, key1, value1...
    kGetAttr,  // args[0] = object, name = attribute
    kGetItem,  // args[0] = object, args[1] = key
    kSlice,    // args[0] = object, args[1..3] = start, stop, step (null when absent)
    kCall,     // args[0] = callee, args[1..] positional, kwargs, star/star_star
    kFilter,   // name, args[0] = value (null in a filter block), args[1..] positional, kwargs
    kTest,     // name, args[0] = value, args[1..] positional, negated
    kUnary,    // name = "not" | "-" | "+", args[0]
    kBinary,   // name = operator ("or", "and", "+", "in", "not in", "==", ...), args[0..1]
    kCond,     // args[0] = value if true, args[1] = condition, args[2] = else (or null)
  };
  Kind kind;
  int line = 0;
  std::string name;
  Value literal;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  ExprPtr star, star_star;
  bool negated = false;
  // kFilter / kTest naming no known filter or test. jinja2 accepts that only where its
  // compiler's frame is "soft" (inside an if statement or an inline if), failing at runtime if
  // reached; CheckUnknownNames rejects the template otherwise.
  bool unknown = false;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Param {
  std::string name;
  ExprPtr default_value;  // null when required
};

struct Stmt {
  enum class Kind {
    kText,         // text
    kOutput,       // expr
    kIf,           // branches (condition, body), else_body
    kFor,          // targets, expr = iterable, condition (or null), body, else_body, recursive
    kSet,          // targets (one name, or several to unpack) or name.attr, expr
    kSetBlock,     // targets[0], filters (kFilter chain on a null value, or null), body
    kMacro,        // name, params, body
    kCallBlock,    // expr = the call, params = caller's parameters, body = caller's body
    kFilterBlock,  // filters, body
    kBreak,
    kContinue,
    kGeneration,  // body (transformers' {% generation %}: renders its body)
  };
  Kind kind;
  int line = 0;
  std::string text;
  std::string name, attr;  // kSet on a namespace: name.attr
  ExprPtr expr, condition, filters;
  std::vector<std::string> targets;
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body, else_body;
  std::vector<Param> params;
  bool recursive = false;
};

struct TemplateProgram {
  Body body;
};

}  // namespace ribbon::chat
