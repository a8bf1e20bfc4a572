// Status helpers used across ribbon. Errors cross module boundaries as absl::Status / StatusOr;
// these macros keep the early-return pattern short. Header-only; any thread.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define RIBBON_CONCAT_INNER(a, b) a##b
#define RIBBON_CONCAT(a, b) RIBBON_CONCAT_INNER(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::absl::Status ribbon_status_ = (expr);          \
    if (!ribbon_status_.ok()) return ribbon_status_; \
  } while (0)

// `lhs = value of expr` (an absl::StatusOr<T>), or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(RIBBON_CONCAT(ribbon_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
