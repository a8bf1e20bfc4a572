// Expression grammar, jinja2 3.1's precedence from loosest to tightest:
// conditional (x if c else y) < or < and < not < comparisons/in < + - < ~ < * / // % < ** <
// unary - + < primary with postfix (.attr, [key], (call)) and then filters (|f) and tests (is t).
#include "absl/strings/str_cat.h"
#include "core/chat/builtins.h"
#include "core/chat/parser_impl.h"

namespace ribbon::chat {
namespace {

ExprPtr Binary(std::string op, ExprPtr lhs, ExprPtr rhs) {
  auto e = MakeExpr(Expr::Kind::kBinary, lhs->line);
  e->name = std::move(op);
  e->args.push_back(std::move(lhs));
  e->args.push_back(std::move(rhs));
  return e;
}

}  // namespace

ExprPtr Parser::ParseExpression(bool with_condexpr) {
  DepthGuard guard(*this);
  ExprPtr node = ParseOr();
  if (!with_condexpr) return node;
  while (SkipName("if")) {
    auto cond = MakeExpr(Expr::Kind::kCond, node->line);
    ExprPtr test = ParseOr();
    ExprPtr otherwise = SkipName("else") ? ParseExpression() : nullptr;
    cond->args.push_back(std::move(node));
    cond->args.push_back(std::move(test));
    cond->args.push_back(std::move(otherwise));
    node = std::move(cond);
  }
  return node;
}

// One expression, or a tuple when commas separate several (`a, b`).
ExprPtr Parser::ParseTuple(bool with_condexpr, bool explicit_parens) {
  int line = Peek().line;
  std::vector<ExprPtr> items;
  bool comma = false;
  while (true) {
    if (!items.empty()) {
      if (!SkipOp(",")) break;
      comma = true;
    }
    const Token& t = Peek();
    bool at_end = t.type == Token::Type::kVarEnd || t.type == Token::Type::kBlockEnd || IsOp(")") ||
                  IsName("recursive") || IsName("if") || IsName("in");
    if (at_end && !items.empty()) break;
    if (at_end && explicit_parens) break;
    items.push_back(ParseExpression(with_condexpr));
  }
  if (!comma && items.size() == 1) return std::move(items[0]);
  if (items.empty() && !explicit_parens) Fail("expected an expression");
  auto tuple = MakeExpr(Expr::Kind::kTuple, line);
  tuple->args = std::move(items);
  return tuple;
}

ExprPtr Parser::ParseOr() {
  ExprPtr node = ParseAnd();
  while (SkipName("or")) node = Binary("or", std::move(node), ParseAnd());
  return node;
}

ExprPtr Parser::ParseAnd() {
  ExprPtr node = ParseNot();
  while (SkipName("and")) node = Binary("and", std::move(node), ParseNot());
  return node;
}

ExprPtr Parser::ParseNot() {
  DepthGuard guard(*this);
  if (IsName("not")) {
    auto e = MakeExpr(Expr::Kind::kUnary, Next().line);
    e->name = "not";
    e->args.push_back(ParseNot());
    return e;
  }
  return ParseCompare();
}

ExprPtr Parser::ParseCompare() {
  ExprPtr node = ParseMath1();
  static const char* const kOps[] = {"==", "!=", "<", "<=", ">", ">="};
  while (true) {
    std::string op;
    for (const char* candidate : kOps) {
      if (IsOp(candidate)) op = candidate;
    }
    if (!op.empty()) {
      Next();
    } else if (SkipName("in")) {
      op = "in";
    } else if (IsName("not") && IsName("in", 1)) {
      Next();
      Next();
      op = "not in";
    } else {
      return node;
    }
    node = Binary(op, std::move(node), ParseMath1());
  }
}

ExprPtr Parser::ParseMath1() {
  ExprPtr node = ParseConcat();
  while (IsOp("+") || IsOp("-")) {
    std::string op = Next().text;
    node = Binary(op, std::move(node), ParseConcat());
  }
  return node;
}

ExprPtr Parser::ParseConcat() {
  ExprPtr node = ParseMath2();
  while (SkipOp("~")) node = Binary("~", std::move(node), ParseMath2());
  return node;
}

ExprPtr Parser::ParseMath2() {
  ExprPtr node = ParsePow();
  while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%")) {
    std::string op = Next().text;
    node = Binary(op, std::move(node), ParsePow());
  }
  return node;
}

ExprPtr Parser::ParsePow() {
  ExprPtr node = ParseUnary();
  while (SkipOp("**")) node = Binary("**", std::move(node), ParseUnary());
  return node;
}

ExprPtr Parser::ParseUnary(bool with_filter) {
  DepthGuard guard(*this);
  ExprPtr node;
  if (IsOp("-") || IsOp("+")) {
    node = MakeExpr(Expr::Kind::kUnary, Peek().line);
    node->name = Next().text;
    node->args.push_back(ParseUnary(false));
  } else {
    node = ParsePostfix(ParsePrimary());
  }
  return with_filter ? ParseFilterExpr(std::move(node)) : std::move(node);
}

ExprPtr Parser::ParsePrimary() {
  const Token& t = Peek();
  int line = t.line;
  if (t.type == Token::Type::kName) {
    std::string name = Next().text;
    auto e = MakeExpr(Expr::Kind::kLiteral, line);
    if (name == "true" || name == "True") {
      e->literal = Value(true);
    } else if (name == "false" || name == "False") {
      e->literal = Value(false);
    } else if (name == "none" || name == "None") {
      e->literal = Value::None();
    } else {
      e->kind = Expr::Kind::kName;
      e->name = name;
    }
    return e;
  }
  if (t.type == Token::Type::kString) {
    std::string value;
    while (Peek().type == Token::Type::kString) value += Next().text;
    auto e = MakeExpr(Expr::Kind::kLiteral, line);
    e->literal = Value(std::move(value));
    return e;
  }
  if (t.type == Token::Type::kInt || t.type == Token::Type::kFloat) {
    auto e = MakeExpr(Expr::Kind::kLiteral, line);
    const std::string& text = Next().text;
    try {
      e->literal = t.type == Token::Type::kInt ? Value(static_cast<int64_t>(std::stoll(text)))
                                               : Value(std::stod(text));
    } catch (const std::exception&) {
      Fail("number out of range");
    }
    return e;
  }
  if (SkipOp("(")) {
    ExprPtr node = ParseTuple(true, true);
    ExpectOp(")");
    return node;
  }
  if (IsOp("[") || IsOp("{")) return ParseListOrDict(Next().text == "{");
  Fail("unexpected token in expression");
}

ExprPtr Parser::ParseListOrDict(bool dict) {
  auto e = MakeExpr(dict ? Expr::Kind::kDict : Expr::Kind::kList, Peek().line);
  const char* close = dict ? "}" : "]";
  while (!IsOp(close)) {
    if (!e->args.empty()) {
      ExpectOp(",");
      if (IsOp(close)) break;
    }
    e->args.push_back(ParseExpression());
    if (dict) {
      ExpectOp(":");
      e->args.push_back(ParseExpression());
    }
  }
  ExpectOp(close);
  return e;
}

ExprPtr Parser::ParsePostfix(ExprPtr node) {
  while (true) {
    if (IsOp(".") || IsOp("[")) {
      node = ParseSubscript(std::move(node));
    } else if (IsOp("(")) {
      auto call = MakeExpr(Expr::Kind::kCall, node->line);
      call->args.push_back(std::move(node));
      ParseCallArgs(*call);
      node = std::move(call);
    } else {
      return node;
    }
  }
}

ExprPtr Parser::ParseFilterExpr(ExprPtr node) {
  while (true) {
    if (IsOp("|")) {
      node = ParseFilterChain(std::move(node), false);
    } else if (IsName("is")) {
      node = ParseTest(std::move(node));
    } else if (IsOp("(")) {
      auto call = MakeExpr(Expr::Kind::kCall, node->line);
      call->args.push_back(std::move(node));
      ParseCallArgs(*call);
      node = std::move(call);
    } else {
      return node;
    }
  }
}

ExprPtr Parser::ParseSubscript(ExprPtr node) {
  int line = Peek().line;
  if (SkipOp(".")) {
    if (Peek().type == Token::Type::kInt) {
      auto e = MakeExpr(Expr::Kind::kGetItem, line);
      auto key = MakeExpr(Expr::Kind::kLiteral, line);
      const std::string& digits = Next().text;
      if (digits.size() > 18) Fail("index out of range");
      key->literal = Value(static_cast<int64_t>(std::stoll(digits)));
      e->args.push_back(std::move(node));
      e->args.push_back(std::move(key));
      return e;
    }
    auto e = MakeExpr(Expr::Kind::kGetAttr, line);
    e->name = ExpectName();
    e->args.push_back(std::move(node));
    return e;
  }
  ExpectOp("[");
  std::vector<ExprPtr> parts(1);
  bool slice = false;
  while (!IsOp("]")) {
    if (SkipOp(":")) {
      slice = true;
      parts.emplace_back();
      if (parts.size() > 3) Fail("too many ':' in slice");
      continue;
    }
    if (parts.back()) Fail("expected ']'");
    parts.back() = ParseExpression();
  }
  Next();
  if (!slice && !parts[0]) Fail("expected a subscript");
  auto e = MakeExpr(slice ? Expr::Kind::kSlice : Expr::Kind::kGetItem, line);
  e->args.push_back(std::move(node));
  parts.resize(slice ? 3 : 1);
  for (auto& p : parts) e->args.push_back(std::move(p));
  return e;
}

ExprPtr Parser::ParseFilterChain(ExprPtr value, bool start_inline) {
  while (IsOp("|") || start_inline) {
    if (!start_inline) Next();
    start_inline = false;
    int line = Peek().line;
    std::string name = ExpectName();
    while (SkipOp(".")) name += "." + ExpectName();
    auto f = MakeExpr(Expr::Kind::kFilter, line);
    f->name = name;
    f->unknown = !IsFilter(name);
    f->args.push_back(std::move(value));
    if (IsOp("(")) ParseCallArgs(*f);
    value = std::move(f);
  }
  return value;
}

ExprPtr Parser::ParseTest(ExprPtr node) {
  int line = Next().line;
  bool negated = SkipName("not");
  std::string name = ExpectName();
  while (SkipOp(".")) name += "." + ExpectName();
  auto t = MakeExpr(Expr::Kind::kTest, line);
  t->name = name;
  t->unknown = !IsTest(name);
  t->negated = negated;
  t->args.push_back(std::move(node));
  const Token& next = Peek();
  bool arg_start = next.type == Token::Type::kName || next.type == Token::Type::kString ||
                   next.type == Token::Type::kInt || next.type == Token::Type::kFloat ||
                   IsOp("[") || IsOp("{");
  if (IsOp("(")) {
    ParseCallArgs(*t);
  } else if (arg_start && !IsName("else") && !IsName("or") && !IsName("and")) {
    if (IsName("is")) Fail("you cannot chain multiple tests with is");
    t->args.push_back(ParsePostfix(ParsePrimary()));
  }
  return t;
}

// `(a, b, key=c, *rest, **more)` appended to a call, filter or test node.
void Parser::ParseCallArgs(Expr& call) {
  ExpectOp("(");
  bool first = true;
  while (!IsOp(")")) {
    if (!first) {
      ExpectOp(",");
      if (IsOp(")")) break;
    }
    first = false;
    if (SkipOp("*")) {
      call.star = ParseExpression();
    } else if (SkipOp("**")) {
      call.star_star = ParseExpression();
    } else if (Peek().type == Token::Type::kName && IsOp("=", 1)) {
      std::string name = Next().text;
      Next();
      call.kwargs.emplace_back(name, ParseExpression());
    } else {
      if (!call.kwargs.empty()) Fail("positional argument after keyword argument");
      call.args.push_back(ParseExpression());
    }
  }
  ExpectOp(")");
}

}  // namespace ribbon::chat
