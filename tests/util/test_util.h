// Small helpers shared by the tests: status assertions (Abseil 20220623 has no
// matchers).

#ifndef SEQUENCER_TESTS_UTIL_TEST_UTIL_H_
#define SEQUENCER_TESTS_UTIL_TEST_UTIL_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

#define SEQ_ASSERT_OK(expr)                                                \
  do {                                                                     \
    const absl::Status seq_status_ = ::sequencer::testing::ToStatus(expr); \
    ASSERT_TRUE(seq_status_.ok()) << seq_status_;                          \
  } while (0)

#define SEQ_EXPECT_OK(expr)                                                \
  do {                                                                     \
    const absl::Status seq_status_ = ::sequencer::testing::ToStatus(expr); \
    EXPECT_TRUE(seq_status_.ok()) << seq_status_;                          \
  } while (0)

#define SEQ_CONCAT_INNER(a, b) a##b
#define SEQ_CONCAT(a, b) SEQ_CONCAT_INNER(a, b)

// ASSIGN_OR_FAIL(auto x, StatusOrExpr): fails the test (fatally) when not OK.
#define ASSIGN_OR_FAIL(lhs, expr) \
  ASSIGN_OR_FAIL_IMPL(SEQ_CONCAT(seq_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_FAIL_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                        \
  ASSERT_TRUE(tmp.ok()) << tmp.status();    \
  lhs = std::move(tmp).value()

namespace sequencer::testing {

inline absl::Status ToStatus(const absl::Status& s) { return s; }
template <typename T>
absl::Status ToStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

}  // namespace sequencer::testing

#endif  // SEQUENCER_TESTS_UTIL_TEST_UTIL_H_
