// Small status macros (Abseil 20220623 ships none).

#ifndef SEQUENCER_APP_STATUS_MACROS_H_
#define SEQUENCER_APP_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define SEQ_RETURN_IF_ERROR(expr)                               \
  do {                                                          \
    if (absl::Status seq_status_ = (expr); !seq_status_.ok()) { \
      return seq_status_;                                       \
    }                                                           \
  } while (0)

#define SEQ_STATUS_CONCAT_INNER(a, b) a##b
#define SEQ_STATUS_CONCAT(a, b) SEQ_STATUS_CONCAT_INNER(a, b)

// SEQ_ASSIGN_OR_RETURN(auto x, StatusOrExpr): returns the error, or assigns the
// value.
#define SEQ_ASSIGN_OR_RETURN(lhs, expr)                                      \
  SEQ_ASSIGN_OR_RETURN_IMPL(SEQ_STATUS_CONCAT(seq_statusor_, __LINE__), lhs, \
                            expr)
#define SEQ_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return std::move(tmp).status();  \
  lhs = std::move(tmp).value()

#endif  // SEQUENCER_APP_STATUS_MACROS_H_
