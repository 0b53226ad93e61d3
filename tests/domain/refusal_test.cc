// Refusals ride on absl::Status payloads and survive a round trip; event and
// status names.

#include "domain/refusal.h"

#include "domain/events.h"
#include "domain/model.h"
#include "gtest/gtest.h"
#include "tests/util/status_matchers.h"

namespace sequencer::domain {
namespace {

using ::sequencer::testing::StatusIs;

TEST(RefusalTest, RoundTripsThroughStatus) {
  Refusal refusal{
      kReasonSequencePaused,
      {{"status", "PAUSED"}, {"action", "RESUME"}, {"odd:key", "va:l9:ue\n"}}};
  absl::Status status = RefuseAction("Resume is not available", refusal);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(status.message(), "Resume is not available");
  std::optional<Refusal> back = GetRefusal(status);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->reason, refusal.reason);
  EXPECT_EQ(back->metadata, refusal.metadata);
}

TEST(RefusalTest, WithRefusalKeepsCodeAndIgnoresOk) {
  absl::Status status = WithRefusal(absl::InvalidArgumentError("bad"),
                                    {kReasonInvalidArgument, {}});
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_TRUE(GetRefusal(status).has_value());
  EXPECT_EQ(GetRefusal(status)->reason, kReasonInvalidArgument);
  EXPECT_TRUE(WithRefusal(absl::OkStatus(), {kReasonInvalidArgument, {}}).ok());
  EXPECT_FALSE(GetRefusal(absl::InternalError("x")).has_value());
}

TEST(NamesTest, StatusActionAndEventNames) {
  EXPECT_EQ(StatusName(RecipientStatus::kPendingAction),
            "RECIPIENT_STATUS_PENDING_ACTION");
  EXPECT_EQ(StatusName(RecipientStatus::kMeetingBooked),
            "RECIPIENT_STATUS_MEETING_BOOKED");
  EXPECT_EQ(ActionName(Action::kSkipStep), "ACTION_SKIP_STEP");
  EXPECT_EQ(ActionName(Action::kCompleteManualStep),
            "ACTION_COMPLETE_MANUAL_STEP");
  EXPECT_EQ(StepTypeName(StepType::kSocialMessage), "SOCIAL_MESSAGE");
  EXPECT_EQ(EventName(RecipientEventPayload{RecipientEnrolled{}}),
            "RecipientEnrolled");
  EXPECT_EQ(EventName(RecipientEventPayload{ManualStepCompleted{}}),
            "ManualStepCompleted");
  EXPECT_EQ(EventName(RecipientEventPayload{Deleted{}}), "Deleted");
  EXPECT_EQ(EventName(SequenceEventPayload{SequencePaused{}}),
            "SequencePaused");
}

}  // namespace
}  // namespace sequencer::domain
