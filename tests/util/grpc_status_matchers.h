// StatusIs (tests/util/status_matchers.h) for grpc::Status: matches its
// error_code (gRPC's codes have Abseil's values) and error_message, and takes
// grpc::StatusCode arguments:
//
//   EXPECT_THAT(stub->GetRecipient(&ctx, req, &resp),
//   StatusIs(grpc::StatusCode::NOT_FOUND));

#ifndef SEQUENCER_TESTS_UTIL_GRPC_STATUS_MATCHERS_H_
#define SEQUENCER_TESTS_UTIL_GRPC_STATUS_MATCHERS_H_

#include <string>
#include <utility>

#include "grpcpp/support/status.h"
#include "tests/util/status_matchers.h"

namespace sequencer::testing {
namespace internal_status {

template <>
struct StatusAccess<grpc::Status> {
  static absl::StatusCode Code(const grpc::Status& s) {
    return static_cast<absl::StatusCode>(s.error_code());
  }
  static std::string Message(const grpc::Status& s) {
    return s.error_message();
  }
};

}  // namespace internal_status

inline ::testing::PolymorphicMatcher<internal_status::StatusIsMatcherImpl>
StatusIs(grpc::StatusCode code) {
  return StatusIs(static_cast<absl::StatusCode>(code));
}

template <typename MessageMatcher>
::testing::PolymorphicMatcher<internal_status::StatusIsMatcherImpl> StatusIs(
    grpc::StatusCode code, MessageMatcher&& message) {
  return StatusIs(static_cast<absl::StatusCode>(code),
                  std::forward<MessageMatcher>(message));
}

}  // namespace sequencer::testing

#endif  // SEQUENCER_TESTS_UTIL_GRPC_STATUS_MATCHERS_H_
