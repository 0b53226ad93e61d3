// Time and duration conversions of app/storage/event_codec.h over their whole
// range (the request fuzzer found durations that came back from an
// encode/decode round trip changed: the encoders went through int64
// nanoseconds, which end 292 years from 1970).

#include "app/storage/event_codec.h"

#include <string>

#include "absl/time/time.h"
#include "domain/limits.h"
#include "gtest/gtest.h"
#include "tests/util/status_matchers.h"

namespace sequencer::app {
namespace {

using ::sequencer::testing::StatusIs;

TEST(CodecTest, TimesRoundTripExactly) {
  const absl::Time times[] = {
      absl::UnixEpoch(),
      absl::UnixEpoch() - absl::Nanoseconds(1),
      absl::FromUnixSeconds(1767600000) + absl::Nanoseconds(123456789),
      absl::FromCivil(absl::CivilSecond(2500, 1, 1, 0, 0, 0),
                      absl::UTCTimeZone()),
      absl::FromCivil(absl::CivilSecond(9999, 12, 31, 23, 59, 59),
                      absl::UTCTimeZone()) +
          absl::Nanoseconds(999999999),
      absl::FromCivil(absl::CivilSecond(1, 1, 1, 0, 0, 0), absl::UTCTimeZone()),
  };
  for (absl::Time time : times) {
    const google::protobuf::Timestamp proto = app::ToProtoTime(time);
    EXPECT_GE(proto.nanos(), 0) << time;
    EXPECT_LT(proto.nanos(), 1000000000) << time;
    EXPECT_EQ(app::FromProtoTime(proto), time) << time;
  }
}

TEST(CodecTest, DurationsRoundTripExactlyOverTheProtobufRange) {
  const absl::Duration durations[] = {
      absl::ZeroDuration(),
      absl::Nanoseconds(-1),
      absl::Milliseconds(-1500),
      absl::Hours(24 * 365),
      absl::Hours(24 * 365 * 300),
      -absl::Hours(24 * 365 * 300) - absl::Nanoseconds(7),
      absl::Seconds(domain::kMaxDurationSeconds) + absl::Nanoseconds(999999999),
      -absl::Seconds(domain::kMaxDurationSeconds) -
          absl::Nanoseconds(999999999),
  };
  for (absl::Duration duration : durations) {
    const google::protobuf::Duration proto = app::ToProtoDuration(duration);
    EXPECT_FALSE((proto.seconds() > 0 && proto.nanos() < 0) ||
                 (proto.seconds() < 0 && proto.nanos() > 0))
        << duration;
    auto back = app::FromProtoDuration("d", proto);
    ASSERT_TRUE(back.ok()) << duration << ": " << back.status();
    EXPECT_EQ(*back, duration);
  }
}

TEST(CodecTest, DurationsBeyondTheProtobufRangeAreRefused) {
  google::protobuf::Duration proto;
  proto.set_seconds(domain::kMaxDurationSeconds + 1);
  EXPECT_THAT(app::FromProtoDuration("d", proto).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  proto.set_seconds(-domain::kMaxDurationSeconds - 1);
  EXPECT_THAT(app::FromProtoDuration("d", proto).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  proto.set_seconds(domain::kMaxDurationSeconds);
  proto.set_nanos(999999999);
  EXPECT_TRUE(app::FromProtoDuration("d", proto).ok());
}

TEST(CodecTest, ReportContributionsRoundTripAndEqualOnesEncodeAlike) {
  domain::ReportContribution contribution;
  contribution.status = domain::RecipientStatus::kMeetingBooked;
  contribution.steps.resize(4);
  contribution.steps[0].sent = 1;
  contribution.steps[0].replies = 2;
  contribution.steps[2].waiting = 1;
  contribution.steps[2].meetings = 1;
  contribution.before_first_send.bounced = 1;
  const std::string bytes = EncodeReportContribution(contribution);
  absl::StatusOr<domain::ReportContribution> decoded =
      DecodeReportContribution(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(*decoded == contribution);
  // Trailing empty steps are not stored: the same bytes without them.
  domain::ReportContribution trimmed = contribution;
  trimmed.steps.resize(3);
  EXPECT_EQ(EncodeReportContribution(trimmed), bytes);
  EXPECT_EQ(EncodeReportContribution(*decoded), bytes);
  // Bytes that are no contribution are DATA_LOSS.
  EXPECT_THAT(DecodeReportContribution("\xff\xff"),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(DecodeReportContribution(""),
              StatusIs(absl::StatusCode::kDataLoss));  // No status.
}

}  // namespace
}  // namespace sequencer::app
