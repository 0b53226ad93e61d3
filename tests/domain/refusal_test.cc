// Refusals ride on absl::Status payloads and survive a round trip; event and
// status names.

#include "domain/refusal.h"

#include <set>
#include <string>

#include "absl/strings/cord.h"
#include "domain/events.h"
#include "domain/model.h"
#include "gtest/gtest.h"
#include "tests/util/status_matchers.h"

namespace sequencer::domain {
namespace {

using ::sequencer::testing::StatusIs;

TEST(RefusalTest, RoundTripsThroughStatus) {
  Refusal refusal{
      RefusalReason::kSequencePaused,
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
                                    {RefusalReason::kInvalidArgument, {}});
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_TRUE(GetRefusal(status).has_value());
  EXPECT_EQ(GetRefusal(status)->reason, RefusalReason::kInvalidArgument);
  EXPECT_TRUE(
      WithRefusal(absl::OkStatus(), {RefusalReason::kInvalidArgument, {}})
          .ok());
  EXPECT_FALSE(GetRefusal(absl::InternalError("x")).has_value());
}

TEST(RefusalTest, ReasonNamesAreTheWireSpellingAndRoundTrip) {
  EXPECT_EQ(RefusalReasonName(RefusalReason::kActionNotAvailable),
            "ACTION_NOT_AVAILABLE");
  EXPECT_EQ(RefusalReasonName(RefusalReason::kNotAPendingManualStep),
            "NOT_A_PENDING_MANUAL_STEP");
  EXPECT_EQ(RefusalReasonName(RefusalReason::kBulkPauseNeedsInProgressOrError),
            "BULK_PAUSE_NEEDS_IN_PROGRESS_OR_ERROR");
  std::set<std::string> names;
  for (RefusalReason reason : kAllRefusalReasons) {
    const std::string name(RefusalReasonName(reason));
    EXPECT_TRUE(names.insert(name).second) << name;
    EXPECT_EQ(RefusalReasonFromName(name), reason) << name;
  }
  EXPECT_FALSE(RefusalReasonFromName("UNKNOWN").has_value());
  EXPECT_FALSE(RefusalReasonFromName("").has_value());
}

TEST(RefusalTest, AnUnknownReasonInThePayloadIsNoRefusal) {
  absl::Status status = absl::FailedPreconditionError("x");
  status.SetPayload("type.sequencer.dev/sequencer.domain.Refusal",
                    absl::Cord("7:NOT_ONE"));
  EXPECT_FALSE(GetRefusal(status).has_value());
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
