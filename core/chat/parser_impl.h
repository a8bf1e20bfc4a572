// Private to the parser: the recursive-descent state shared by parser.cpp (statements) and
// parser_expr.cpp (expressions). Errors are thrown as ParseError and become a Status in
// ParseTemplate.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "core/chat/ast.h"
#include "core/chat/lexer.h"

namespace ribbon::chat {

struct ParseError {
  std::string message;
};

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  TemplateProgram Run();

  // Expressions (parser_expr.cpp).
  ExprPtr ParseExpression(bool with_condexpr = true);
  ExprPtr ParseTuple(bool with_condexpr = true, bool explicit_parens = false);
  ExprPtr ParseFilterChain(ExprPtr value, bool start_inline);

 private:
  // Statements (parser.cpp).
  Body ParseBody(std::initializer_list<std::string_view> end_tags);
  StmtPtr ParseStatement();
  StmtPtr ParseIf();
  StmtPtr ParseFor();
  StmtPtr ParseSet();
  StmtPtr ParseMacro();
  StmtPtr ParseCallBlock();
  StmtPtr ParseFilterBlock();
  std::vector<Param> ParseParams();
  void ExpectBlockEnd();

  // Expressions.
  ExprPtr ParseOr();
  ExprPtr ParseAnd();
  ExprPtr ParseNot();
  ExprPtr ParseCompare();
  ExprPtr ParseMath1();
  ExprPtr ParseConcat();
  ExprPtr ParseMath2();
  ExprPtr ParsePow();
  ExprPtr ParseUnary(bool with_filter = true);
  ExprPtr ParsePrimary();
  ExprPtr ParsePostfix(ExprPtr node);
  ExprPtr ParseFilterExpr(ExprPtr node);
  ExprPtr ParseSubscript(ExprPtr node);
  ExprPtr ParseTest(ExprPtr node);
  void ParseCallArgs(Expr& call);
  ExprPtr ParseListOrDict(bool dict);

  // Token stream.
  const Token& Peek(size_t ahead = 0) const;
  const Token& Next();
  bool IsOp(std::string_view op, size_t ahead = 0) const;
  bool IsName(std::string_view name, size_t ahead = 0) const;
  bool SkipOp(std::string_view op);
  bool SkipName(std::string_view name);
  void ExpectOp(std::string_view op);
  std::string ExpectName();
  [[noreturn]] void Fail(const std::string& what) const;

  // Bounds recursion so a hostile template cannot overflow the stack (jinja2 would hit
  // Python's recursion limit instead).
  struct DepthGuard {
    explicit DepthGuard(Parser& p);
    ~DepthGuard() { --parser.depth_; }
    Parser& parser;
  };

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

ExprPtr MakeExpr(Expr::Kind kind, int line);

// Throws ParseError for an unknown filter or test outside an if statement or inline if (see
// Expr::unknown).
void CheckUnknownNames(const Body& body, bool soft);

}  // namespace ribbon::chat
