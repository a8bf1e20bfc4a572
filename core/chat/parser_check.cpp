// The compile-time check jinja2 makes on filter and test names, with its one exception: inside
// an if statement (condition and bodies, but not loops, macros or blocks nested in it) and
// inside an inline if, an unknown name is only an error if evaluated.
#include "absl/strings/str_cat.h"
#include "core/chat/parser_impl.h"

namespace ribbon::chat {
namespace {

void CheckExpr(const Expr* e, bool soft) {
  if (!e) return;
  if (e->kind == Expr::Kind::kCond) soft = true;
  if (e->unknown && !soft) {
    const char* what = e->kind == Expr::Kind::kFilter ? "filter" : "test";
    throw ParseError{absl::StrCat("line ", e->line, ": unsupported ", what, " '", e->name, "'")};
  }
  for (const auto& a : e->args) CheckExpr(a.get(), soft);
  for (const auto& [k, v] : e->kwargs) CheckExpr(v.get(), soft);
  CheckExpr(e->star.get(), soft);
  CheckExpr(e->star_star.get(), soft);
}

}  // namespace

void CheckUnknownNames(const Body& body, bool soft) {
  for (const auto& s : body) {
    CheckExpr(s->expr.get(), soft);
    CheckExpr(s->condition.get(), soft);
    CheckExpr(s->filters.get(), soft);
    for (const auto& p : s->params) CheckExpr(p.default_value.get(), false);
    switch (s->kind) {
      case Stmt::Kind::kIf:
        for (const auto& [cond, branch] : s->branches) {
          CheckExpr(cond.get(), true);
          CheckUnknownNames(branch, true);
        }
        CheckUnknownNames(s->else_body, true);
        break;
      default:
        // Loops, macros, call/filter/set blocks and generation blocks get a new frame.
        CheckUnknownNames(s->body, false);
        CheckUnknownNames(s->else_body, false);
        break;
    }
  }
}

}  // namespace ribbon::chat
