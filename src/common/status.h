// Status helpers used across module boundaries (STYLE.md section 4).
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define NORN_STATUS_CONCAT_INNER_(a, b) a##b
#define NORN_STATUS_CONCAT_(a, b) NORN_STATUS_CONCAT_INNER_(a, b)

// Returns from the current function when `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                   \
  do {                                          \
    ::absl::Status norn_status_ = (expr);       \
    if (!norn_status_.ok()) return norn_status_; \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): evaluates the StatusOr `expr`; on error returns its status,
// otherwise moves the value into `lhs` (which may be a declaration: `auto x`).
#define ASSIGN_OR_RETURN(lhs, expr) \
  NORN_ASSIGN_OR_RETURN_IMPL_(NORN_STATUS_CONCAT_(norn_statusor_, __LINE__), lhs, expr)
#define NORN_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return std::move(tmp).status();    \
  lhs = std::move(tmp).value()
