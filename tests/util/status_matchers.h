// gMock matchers for statuses (Abseil 20220623 ships none):
//
//   EXPECT_THAT(store.Append(batch), StatusIs(absl::StatusCode::kAborted));
//   EXPECT_THAT(Decide(...), StatusIs(absl::StatusCode::kFailedPrecondition,
//                                     HasSubstr("paused")));
//
// They match absl::Status and absl::StatusOr<T>;
// tests/util/grpc_status_matchers.h adds grpc::Status (and grpc::StatusCode
// arguments) without pulling gRPC into tests that do not need it. A failure
// prints the code and message the status had.

#ifndef SEQUENCER_TESTS_UTIL_STATUS_MATCHERS_H_
#define SEQUENCER_TESTS_UTIL_STATUS_MATCHERS_H_

#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace sequencer::testing {
namespace internal_status {

// How a status type exposes its code and message. Specialized here for Abseil
// and in grpc_status_matchers.h for grpc::Status; the matcher looks it up when
// it is used.
template <typename T>
struct StatusAccess;

template <>
struct StatusAccess<absl::Status> {
  static absl::StatusCode Code(const absl::Status& s) { return s.code(); }
  static std::string Message(const absl::Status& s) {
    return std::string(s.message());
  }
};

template <typename T>
struct StatusAccess<absl::StatusOr<T>> {
  static absl::StatusCode Code(const absl::StatusOr<T>& s) {
    return s.status().code();
  }
  static std::string Message(const absl::StatusOr<T>& s) {
    return std::string(s.status().message());
  }
};

class StatusIsMatcherImpl {
 public:
  // Without a message matcher, any message matches.
  explicit StatusIsMatcherImpl(absl::StatusCode code)
      : code_(code), message_(::testing::A<const std::string&>()) {}
  StatusIsMatcherImpl(absl::StatusCode code,
                      ::testing::Matcher<const std::string&> message)
      : code_(code), message_(std::move(message)), has_message_(true) {}

  template <typename T>
  bool MatchAndExplain(const T& value,
                       ::testing::MatchResultListener* listener) const {
    using Access = StatusAccess<T>;
    const absl::StatusCode code = Access::Code(value);
    const std::string message = Access::Message(value);
    *listener << "which has code " << absl::StatusCodeToString(code)
              << " and message \"" << message << "\"";
    if (code != code_) return false;
    ::testing::StringMatchResultListener message_listener;
    if (!message_.MatchAndExplain(message, &message_listener)) {
      const std::string why = message_listener.str();
      if (!why.empty()) *listener << ", " << why;
      return false;
    }
    return true;
  }

  void DescribeTo(std::ostream* os) const {
    *os << "has status code " << code_;
    if (!has_message_) return;
    *os << " and message that ";
    message_.DescribeTo(os);
  }

  void DescribeNegationTo(std::ostream* os) const {
    *os << "does not have status code " << code_;
    if (!has_message_) return;
    *os << " or has a message that ";
    message_.DescribeNegationTo(os);
  }

 private:
  absl::StatusCode code_;
  ::testing::Matcher<const std::string&> message_;
  bool has_message_ = false;
};

}  // namespace internal_status

// Matches a status whose code is `code`, whatever its message.
inline ::testing::PolymorphicMatcher<internal_status::StatusIsMatcherImpl>
StatusIs(absl::StatusCode code) {
  return ::testing::MakePolymorphicMatcher(
      internal_status::StatusIsMatcherImpl(code));
}

// Matches a status whose code is `code` and whose message matches `message` (a
// string, which must be equal, or a matcher such as HasSubstr).
template <typename MessageMatcher>
::testing::PolymorphicMatcher<internal_status::StatusIsMatcherImpl> StatusIs(
    absl::StatusCode code, MessageMatcher&& message) {
  return ::testing::MakePolymorphicMatcher(internal_status::StatusIsMatcherImpl(
      code, ::testing::MatcherCast<const std::string&>(
                std::forward<MessageMatcher>(message))));
}

}  // namespace sequencer::testing

#endif  // SEQUENCER_TESTS_UTIL_STATUS_MATCHERS_H_
