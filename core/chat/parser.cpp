#include "core/chat/parser.h"

#include "absl/strings/str_cat.h"
#include "core/chat/parser_impl.h"

namespace ribbon::chat {

ExprPtr MakeExpr(Expr::Kind kind, int line) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->line = line;
  return e;
}

namespace {

StmtPtr MakeStmt(Stmt::Kind kind, int line) {
  auto s = std::make_unique<Stmt>();
  s->kind = kind;
  s->line = line;
  return s;
}

}  // namespace

const Token& Parser::Peek(size_t ahead) const {
  size_t i = pos_ + ahead;
  return i < tokens_.size() ? tokens_[i] : tokens_.back();
}

const Token& Parser::Next() {
  const Token& t = Peek();
  if (pos_ < tokens_.size() - 1) ++pos_;
  return t;
}

bool Parser::IsOp(std::string_view op, size_t ahead) const {
  const Token& t = Peek(ahead);
  return t.type == Token::Type::kOp && t.text == op;
}

bool Parser::IsName(std::string_view name, size_t ahead) const {
  const Token& t = Peek(ahead);
  return t.type == Token::Type::kName && t.text == name;
}

bool Parser::SkipOp(std::string_view op) {
  if (!IsOp(op)) return false;
  Next();
  return true;
}

bool Parser::SkipName(std::string_view name) {
  if (!IsName(name)) return false;
  Next();
  return true;
}

void Parser::ExpectOp(std::string_view op) {
  if (!SkipOp(op)) Fail("expected '" + std::string(op) + "'");
}

std::string Parser::ExpectName() {
  if (Peek().type != Token::Type::kName) Fail("expected a name");
  return Next().text;
}

void Parser::Fail(const std::string& what) const {
  const Token& t = Peek();
  std::string got;
  switch (t.type) {
    case Token::Type::kEof:
      got = "end of template";
      break;
    case Token::Type::kBlockEnd:
      got = "end of statement block";
      break;
    case Token::Type::kVarEnd:
      got = "end of print statement";
      break;
    case Token::Type::kText:
      got = "template text";
      break;
    default:
      got = "'" + t.text + "'";
      break;
  }
  throw ParseError{absl::StrCat("line ", t.line, ": ", what, " (got ", got, ")")};
}

Parser::DepthGuard::DepthGuard(Parser& p) : parser(p) {
  if (++parser.depth_ > 200) parser.Fail("template nested too deeply");
}

void Parser::ExpectBlockEnd() {
  if (Peek().type != Token::Type::kBlockEnd) Fail("expected end of statement block");
  Next();
}

TemplateProgram Parser::Run() {
  TemplateProgram program;
  program.body = ParseBody({});
  if (Peek().type != Token::Type::kEof) Fail("unexpected tag");
  CheckUnknownNames(program.body, false);
  return program;
}

// Statements until `{% <end tag>` (left unconsumed after the tag name) or end of input.
Body Parser::ParseBody(std::initializer_list<std::string_view> end_tags) {
  Body body;
  while (true) {
    const Token& t = Peek();
    if (t.type == Token::Type::kEof) {
      if (end_tags.size() != 0) {
        Fail("missing '{% " + std::string(*(end_tags.end() - 1)) + " %}'");
      }
      return body;
    }
    if (t.type == Token::Type::kText) {
      auto s = MakeStmt(Stmt::Kind::kText, t.line);
      s->text = Next().text;
      body.push_back(std::move(s));
    } else if (t.type == Token::Type::kVarBegin) {
      auto s = MakeStmt(Stmt::Kind::kOutput, Next().line);
      s->expr = ParseTuple();
      if (Peek().type != Token::Type::kVarEnd) Fail("expected end of print statement");
      Next();
      body.push_back(std::move(s));
    } else if (t.type == Token::Type::kBlockBegin) {
      const Token& name = Peek(1);
      for (std::string_view end : end_tags) {
        if (name.type == Token::Type::kName && name.text == end) {
          Next();
          return body;
        }
      }
      Next();
      body.push_back(ParseStatement());
    } else {
      Fail("unexpected token");
    }
  }
}

StmtPtr Parser::ParseStatement() {
  DepthGuard guard(*this);
  const Token& t = Peek();
  if (t.type != Token::Type::kName) Fail("expected a tag name");
  std::string tag = t.text;
  int line = t.line;
  if (tag == "if") return ParseIf();
  if (tag == "for") return ParseFor();
  if (tag == "set") return ParseSet();
  if (tag == "macro") return ParseMacro();
  if (tag == "call") return ParseCallBlock();
  if (tag == "filter") return ParseFilterBlock();
  if (tag == "break" || tag == "continue") {
    Next();
    ExpectBlockEnd();
    return MakeStmt(tag == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue, line);
  }
  if (tag == "generation") {
    Next();
    ExpectBlockEnd();
    auto s = MakeStmt(Stmt::Kind::kGeneration, line);
    s->body = ParseBody({"endgeneration"});
    Next();
    ExpectBlockEnd();
    return s;
  }
  throw ParseError{absl::StrCat("line ", line, ": unsupported tag '", tag, "'")};
}

StmtPtr Parser::ParseIf() {
  auto s = MakeStmt(Stmt::Kind::kIf, Next().line);
  while (true) {
    ExprPtr cond = ParseTuple(false);
    ExpectBlockEnd();
    Body body = ParseBody({"elif", "else", "endif"});
    s->branches.emplace_back(std::move(cond), std::move(body));
    std::string tag = Next().text;
    if (tag == "elif") continue;
    if (tag == "else") {
      ExpectBlockEnd();
      s->else_body = ParseBody({"endif"});
      Next();
    }
    ExpectBlockEnd();
    return s;
  }
}

StmtPtr Parser::ParseFor() {
  auto s = MakeStmt(Stmt::Kind::kFor, Next().line);
  do {
    s->targets.push_back(ExpectName());
  } while (SkipOp(","));
  if (!SkipName("in")) Fail("expected 'in'");
  s->expr = ParseTuple(false);
  if (SkipName("if")) s->condition = ParseExpression();
  if (SkipName("recursive")) s->recursive = true;
  ExpectBlockEnd();
  s->body = ParseBody({"else", "endfor"});
  if (Next().text == "else") {
    ExpectBlockEnd();
    s->else_body = ParseBody({"endfor"});
    Next();
  }
  ExpectBlockEnd();
  return s;
}

StmtPtr Parser::ParseSet() {
  int line = Next().line;
  std::string first = ExpectName();
  if (SkipOp(".")) {
    auto s = MakeStmt(Stmt::Kind::kSet, line);
    s->name = first;
    s->attr = ExpectName();
    ExpectOp("=");
    s->expr = ParseTuple();
    ExpectBlockEnd();
    return s;
  }
  std::vector<std::string> targets{first};
  while (SkipOp(",")) targets.push_back(ExpectName());
  if (SkipOp("=")) {
    auto s = MakeStmt(Stmt::Kind::kSet, line);
    s->targets = std::move(targets);
    s->expr = ParseTuple();
    ExpectBlockEnd();
    return s;
  }
  if (targets.size() != 1) Fail("expected '='");
  auto s = MakeStmt(Stmt::Kind::kSetBlock, line);
  s->targets = std::move(targets);
  if (IsOp("|")) s->filters = ParseFilterChain(nullptr, false);
  ExpectBlockEnd();
  s->body = ParseBody({"endset"});
  Next();
  ExpectBlockEnd();
  return s;
}

std::vector<Param> Parser::ParseParams() {
  std::vector<Param> params;
  ExpectOp("(");
  while (!IsOp(")")) {
    if (!params.empty()) ExpectOp(",");
    if (IsOp(")")) break;
    Param p;
    p.name = ExpectName();
    if (SkipOp("=")) p.default_value = ParseExpression();
    params.push_back(std::move(p));
  }
  ExpectOp(")");
  return params;
}

StmtPtr Parser::ParseMacro() {
  auto s = MakeStmt(Stmt::Kind::kMacro, Next().line);
  s->name = ExpectName();
  s->params = ParseParams();
  ExpectBlockEnd();
  s->body = ParseBody({"endmacro"});
  Next();
  if (Peek().type == Token::Type::kName && Peek().text == s->name) Next();
  ExpectBlockEnd();
  return s;
}

StmtPtr Parser::ParseCallBlock() {
  auto s = MakeStmt(Stmt::Kind::kCallBlock, Next().line);
  if (IsOp("(")) s->params = ParseParams();
  s->expr = ParseExpression();
  if (s->expr->kind != Expr::Kind::kCall) Fail("expected a call in '{% call %}'");
  ExpectBlockEnd();
  s->body = ParseBody({"endcall"});
  Next();
  ExpectBlockEnd();
  return s;
}

StmtPtr Parser::ParseFilterBlock() {
  auto s = MakeStmt(Stmt::Kind::kFilterBlock, Next().line);
  s->filters = ParseFilterChain(nullptr, true);
  ExpectBlockEnd();
  s->body = ParseBody({"endfilter"});
  Next();
  ExpectBlockEnd();
  return s;
}

absl::StatusOr<TemplateProgram> ParseTemplate(std::string_view source) {
  auto tokens = Tokenize(source);
  if (!tokens.ok()) return tokens.status();
  try {
    return Parser(*std::move(tokens)).Run();
  } catch (const ParseError& e) {
    return absl::InvalidArgumentError("chat template: " + e.message);
  } catch (const std::exception& e) {  // defensive: nothing throws out of the library
    return absl::InvalidArgumentError(std::string("chat template: ") + e.what());
  }
}

}  // namespace ribbon::chat
