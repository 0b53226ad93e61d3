// StatusIs on grpc::Status, and with grpc::StatusCode arguments (built into
// server_tests).

#include "tests/util/grpc_status_matchers.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "grpcpp/support/status.h"
#include "gtest/gtest.h"

namespace sequencer::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(GrpcStatusIsTest, MatchesTheErrorCodeOfAGrpcStatus) {
  const grpc::Status not_found(grpc::StatusCode::NOT_FOUND,
                               "recipient ada not found");
  EXPECT_THAT(grpc::Status::OK, StatusIs(grpc::StatusCode::OK));
  EXPECT_THAT(not_found, StatusIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_THAT(not_found, Not(StatusIs(grpc::StatusCode::ABORTED)));
  EXPECT_THAT(grpc::Status::OK, Not(StatusIs(grpc::StatusCode::INTERNAL)));
  // gRPC's codes have Abseil's values.
  EXPECT_THAT(not_found, StatusIs(absl::StatusCode::kNotFound));
}

TEST(GrpcStatusIsTest, MatchesTheErrorMessage) {
  const grpc::Status status(grpc::StatusCode::INVALID_ARGUMENT,
                            "request_id: empty");
  EXPECT_THAT(status, StatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                               "request_id: empty"));
  EXPECT_THAT(status, StatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                               HasSubstr("request_id")));
  EXPECT_THAT(status,
              Not(StatusIs(grpc::StatusCode::INVALID_ARGUMENT, "empty")));
  EXPECT_THAT(status,
              Not(StatusIs(grpc::StatusCode::NOT_FOUND, HasSubstr("empty"))));
}

TEST(GrpcStatusIsTest, GrpcCodesAlsoMatchAbseilStatuses) {
  EXPECT_THAT(absl::UnavailableError("store refuses writes"),
              StatusIs(grpc::StatusCode::UNAVAILABLE, HasSubstr("refuses")));
}

TEST(GrpcStatusIsTest, ExplainsWhatItSaw) {
  ::testing::StringMatchResultListener listener;
  ::testing::ExplainMatchResult(
      StatusIs(grpc::StatusCode::OK),
      grpc::Status(grpc::StatusCode::ABORTED, "moved"), &listener);
  EXPECT_EQ(listener.str(), "which has code ABORTED and message \"moved\"");
}

}  // namespace
}  // namespace sequencer::testing
