// StatusIs on absl::Status and absl::StatusOr<T> (built into domain_tests).

#include "tests/util/status_matchers.h"

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sequencer::testing {
namespace {

using ::testing::DescribeMatcher;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

template <typename T, typename M>
std::string Explain(const M& matcher, const T& value) {
  ::testing::StringMatchResultListener listener;
  ::testing::ExplainMatchResult(matcher, value, &listener);
  return listener.str();
}

TEST(StatusIsTest, MatchesTheCodeOfAStatus) {
  EXPECT_THAT(absl::OkStatus(), StatusIs(absl::StatusCode::kOk));
  EXPECT_THAT(absl::NotFoundError("no such recipient"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(absl::NotFoundError("no such recipient"),
              Not(StatusIs(absl::StatusCode::kAborted)));
  EXPECT_THAT(absl::OkStatus(), Not(StatusIs(absl::StatusCode::kInternal)));
}

TEST(StatusIsTest, MatchesTheMessageWithAStringOrAMatcher) {
  const absl::Status status =
      absl::InvalidArgumentError("steps[0].delay: negative");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               "steps[0].delay: negative"));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               std::string("steps[0].delay: negative")));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("negative")));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               StartsWith("steps[0]")));
  EXPECT_THAT(status,
              Not(StatusIs(absl::StatusCode::kInvalidArgument, "negative")));
  EXPECT_THAT(status, Not(StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("positive"))));
  // The message only counts when the code matches.
  EXPECT_THAT(status, Not(StatusIs(absl::StatusCode::kNotFound,
                                   HasSubstr("negative"))));
}

TEST(StatusIsTest, MatchesTheStatusOfAStatusOr) {
  const absl::StatusOr<int> value = 7;
  const absl::StatusOr<int> error = absl::FailedPreconditionError("paused");
  EXPECT_THAT(value, StatusIs(absl::StatusCode::kOk));
  EXPECT_THAT(value, Not(StatusIs(absl::StatusCode::kFailedPrecondition)));
  EXPECT_THAT(error, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(error, StatusIs(absl::StatusCode::kFailedPrecondition, "paused"));
  EXPECT_THAT(error, Not(StatusIs(absl::StatusCode::kOk)));
  const absl::StatusOr<std::string> text = absl::AbortedError("version moved");
  EXPECT_THAT(text, StatusIs(absl::StatusCode::kAborted, HasSubstr("version")));
}

TEST(StatusIsTest, DescribesItselfAndWhatItSaw) {
  EXPECT_EQ(
      DescribeMatcher<absl::Status>(StatusIs(absl::StatusCode::kNotFound)),
      "has status code NOT_FOUND");
  EXPECT_EQ(DescribeMatcher<absl::Status>(StatusIs(absl::StatusCode::kNotFound),
                                          /*negation=*/true),
            "does not have status code NOT_FOUND");
  EXPECT_EQ(DescribeMatcher<absl::Status>(
                StatusIs(absl::StatusCode::kNotFound, HasSubstr("ada"))),
            "has status code NOT_FOUND and message that has substring \"ada\"");
  EXPECT_EQ(
      DescribeMatcher<absl::Status>(
          StatusIs(absl::StatusCode::kNotFound, "ada"), /*negation=*/true),
      "does not have status code NOT_FOUND or has a message that isn't "
      "equal to \"ada\"");
  EXPECT_EQ(Explain(StatusIs(absl::StatusCode::kNotFound),
                    absl::AbortedError("version moved")),
            "which has code ABORTED and message \"version moved\"");
  EXPECT_EQ(Explain(StatusIs(absl::StatusCode::kNotFound),
                    absl::StatusOr<int>(absl::NotFoundError("gone"))),
            "which has code NOT_FOUND and message \"gone\"");
}

}  // namespace
}  // namespace sequencer::testing
