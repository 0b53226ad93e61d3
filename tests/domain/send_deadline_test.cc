// A send that began and never reported (issue: a worker that dies after
// BeginSend must not strand the recipient), and what happens to a recipient
// while its sequence is paused (no delay clock starts before Resume sequence).

#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "domain/events.h"
#include "domain/model.h"
#include "domain/recipient.h"
#include "domain/refusal.h"
#include "gtest/gtest.h"
#include "tests/domain/domain_test_helpers.h"
#include "tests/util/status_matchers.h"
#include "tests/util/test_util.h"

namespace sequencer::domain::test {
namespace {

using ::sequencer::testing::StatusIs;

using Events = std::vector<RecipientEvent>;

constexpr absl::Duration kDeadline = absl::Minutes(15);

// Step 0: email after 1 day; step 1: SMS after 2 days.
Sequence TwoSends() { return MakeSequence({Email(Days(1)), Sms(Days(2))}); }
const absl::Time kDue = kT0 + Days(1);

ReportDelivery Report(std::string token, DeliveryOutcome outcome) {
  ReportDelivery report;
  report.lease_token = std::move(token);
  report.outcome = outcome;
  report.provider_message_id = "msg-9";
  if (outcome != DeliveryOutcome::kSent) report.error_message = "smtp 550";
  return report;
}

// Alice's step 0 is due and its send began under "L1" at kDue.
Life Begun(Sequence sequence = TwoSends()) {
  Life life = Enrolled(std::move(sequence));
  life.Do(MarkStepDue{}, kDue);
  life.Do(BeginSend{"L1", life.recipient.version, kDeadline}, kDue);
  return life;
}

template <typename T>
const T* Only(const absl::StatusOr<Events>& events) {
  if (!events.ok() || events->size() != 1) return nullptr;
  return std::get_if<T>(&events->front().payload);
}

TEST(SendDeadlineTest, BeginSendRecordsTheDeadline) {
  Life life = Begun();
  const auto* dispatched =
      std::get_if<StepDispatched>(&life.events.back().payload);
  ASSERT_NE(dispatched, nullptr);
  EXPECT_EQ(dispatched->deadline, kDue + kDeadline);
  EXPECT_EQ(life.recipient.send_deadline, kDue + kDeadline);

  Life bad = Enrolled(TwoSends());
  bad.Do(MarkStepDue{}, kDue);
  EXPECT_THAT(
      bad.Try(BeginSend{"L1", bad.recipient.version, absl::ZeroDuration()},
              kDue)
          .status(),
      StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SendDeadlineTest, WithinTheDeadlineSkipSaysUntilWhen) {
  Life life = Begun();
  EXPECT_TRUE(
      life.Try(MarkStepDue{}, kDue + kDeadline - absl::Seconds(1))->empty());
  absl::Status skip = life.Try(SkipStep{}, kDue + absl::Minutes(5)).status();
  EXPECT_EQ(ReasonOf(skip), RefusalReason::kSendInProgress);
  EXPECT_TRUE(absl::StrContains(skip.message(), "if none is reported by"))
      << skip;
  ASSERT_TRUE(GetRefusal(skip).has_value());
  EXPECT_EQ(GetRefusal(skip)->metadata.count("send_deadline"), 1u);
}

TEST(SendDeadlineTest, PastTheDeadlineTheStepGoesToErrorAndCanBeSkipped) {
  Life life = Begun();
  const absl::Time late = kDue + kDeadline;
  absl::StatusOr<Events> decided = life.Try(MarkStepDue{}, late);
  const SendTimedOut* timed_out = Only<SendTimedOut>(decided);
  ASSERT_NE(timed_out, nullptr);
  EXPECT_EQ(timed_out->lease_token, "L1");
  EXPECT_EQ(timed_out->step_index, 0);
  life.Apply(*decided);
  const Recipient& r = life.recipient;
  EXPECT_EQ(r.status, RecipientStatus::kError);
  EXPECT_TRUE(absl::StrContains(r.error_message, "delivery outcome unknown"))
      << r.error_message;
  EXPECT_TRUE(absl::StrContains(r.error_message, "may have been sent"));
  EXPECT_TRUE(r.in_flight_token.empty());
  EXPECT_FALSE(r.send_deadline.has_value());
  EXPECT_EQ(r.unreported_send.lease_token, "L1");
  EXPECT_EQ(r.unreported_send.content.subject, "Hi Alice");
  // Nothing more to expire; the article's way out works.
  EXPECT_TRUE(life.Try(MarkStepDue{}, late + Days(1))->empty());
  life.Do(SkipStep{}, late + absl::Minutes(1));
  EXPECT_EQ(life.recipient.current_step, 1);
  EXPECT_EQ(life.recipient.status, RecipientStatus::kInProgress);
}

TEST(SendDeadlineTest, PausedRecipientTimesOutIntoARetryAtResume) {
  Life life = Begun();
  life.Do(PauseRecipient{}, kDue + absl::Minutes(1));
  life.Do(MarkStepDue{}, kDue + kDeadline);
  EXPECT_EQ(life.recipient.status, RecipientStatus::kPaused);
  EXPECT_EQ(life.recipient.paused_from, RecipientStatus::kError);
  life.Do(ResumeRecipient{}, kDue + Days(1));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kInProgress);
  EXPECT_EQ(life.recipient.due_at, kDue + Days(1));  // Retried now.
}

TEST(SendDeadlineTest, ALateSentReportStillCompletesTheWaitingStep) {
  Life life = Begun();
  life.Do(MarkStepDue{}, kDue + kDeadline);
  const absl::Time reported = kDue + absl::Hours(1);
  absl::StatusOr<Events> decided =
      life.Try(Report("L1", DeliveryOutcome::kSent), reported);
  const StepCompleted* completed = Only<StepCompleted>(decided);
  ASSERT_NE(completed, nullptr);
  EXPECT_EQ(completed->content.subject, "Hi Alice");
  EXPECT_EQ(completed->provider_message_id, "msg-9");
  life.Apply(*decided);
  EXPECT_EQ(life.recipient.status, RecipientStatus::kInProgress);
  EXPECT_EQ(life.recipient.current_step, 1);
  EXPECT_EQ(life.recipient.due_at, reported + Days(2));
  EXPECT_EQ(life.recipient.steps[0].state, StepState::kCompleted);
  EXPECT_TRUE(life.recipient.unreported_send.lease_token.empty());
  // The same report again changes nothing.
  EXPECT_TRUE(
      life.Try(Report("L1", DeliveryOutcome::kSent), reported)->empty());
}

TEST(SendDeadlineTest, ALateReportAfterTheRecipientMovedOnIsRecordedOnly) {
  for (DeliveryOutcome outcome :
       {DeliveryOutcome::kSent, DeliveryOutcome::kFailed}) {
    SCOPED_TRACE(static_cast<int>(outcome));
    Life life = Begun();
    life.Do(MarkStepDue{}, kDue + kDeadline);
    life.Do(SkipStep{}, kDue + absl::Minutes(20));
    const Recipient before = life.recipient;
    absl::StatusOr<Events> decided =
        life.Try(Report("L1", outcome), kDue + absl::Hours(1));
    const DeliveryReportedLate* late = Only<DeliveryReportedLate>(decided);
    ASSERT_NE(late, nullptr);
    EXPECT_EQ(late->outcome, outcome);
    EXPECT_EQ(late->step_index, 0);
    life.Apply(*decided);
    EXPECT_EQ(life.recipient.status, before.status);
    EXPECT_EQ(life.recipient.current_step, 1);
    EXPECT_EQ(life.recipient.due_at, before.due_at);
    EXPECT_EQ(life.recipient.steps[0].state, StepState::kSkipped);
  }
}

TEST(SendDeadlineTest, ALateReportDoesNotTouchTheRetryInFlight) {
  Life life = Begun();
  life.Do(MarkStepDue{}, kDue + kDeadline);
  // Edit the errored step: it is queued again and a new send begins.
  EditContent edit;
  edit.step_index = 0;
  edit.edit.subject = "Hello again {{first_name}}";
  life.Do(edit, kDue + absl::Minutes(30));
  life.Do(MarkStepDue{}, kDue + absl::Minutes(30));
  life.Do(BeginSend{"L2", life.recipient.version, kDeadline},
          kDue + absl::Minutes(31));
  ASSERT_EQ(life.recipient.in_flight_token, "L2");
  life.Do(Report("L1", DeliveryOutcome::kSent), kDue + absl::Minutes(32));
  EXPECT_EQ(life.recipient.in_flight_token, "L2");
  EXPECT_EQ(life.recipient.send_deadline, kDue + absl::Minutes(46));
  life.Do(Report("L2", DeliveryOutcome::kSent), kDue + absl::Minutes(33));
  EXPECT_EQ(life.recipient.current_step, 1);
  EXPECT_EQ(life.recipient.steps[0].sent_content->subject, "Hello again Alice");
}

TEST(SendDeadlineTest, ALateBounceEndsTheRecipient) {
  Life life = Begun();
  life.Do(MarkStepDue{}, kDue + kDeadline);
  life.Do(Report("L1", DeliveryOutcome::kBounced), kDue + absl::Hours(1));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kBounced);
}

TEST(SendDeadlineTest, UnknownTokensStayStale) {
  Life life = Begun();
  life.Do(MarkStepDue{}, kDue + kDeadline);
  EXPECT_EQ(ReasonOf(life.Try(Report("L9", DeliveryOutcome::kSent),
                              kDue + absl::Hours(1))
                         .status()),
            RefusalReason::kStaleLease);
}

TEST(SendDeadlineTest, FoldingTheEventsAgainGivesTheSameRecipient) {
  Life life = Begun();
  life.Do(MarkStepDue{}, kDue + kDeadline);
  life.Do(Report("L1", DeliveryOutcome::kSent), kDue + absl::Hours(1));
  ExpectSameRecipient(Fold(Recipient{}, life.events), life.recipient);
}

// ---- While the sequence is paused, no delay clock starts.

TEST(SequencePauseHoldTest, CompletingATaskStartsTheNextDelayAtResume) {
  Life life =
      Enrolled(MakeSequence({Task(absl::ZeroDuration()), Email(Days(1))}));
  ASSERT_EQ(life.recipient.status, RecipientStatus::kPendingAction);
  life.sequence = PauseSequence(life.sequence, kT0 + absl::Hours(1));
  life.Do(PauseBySequence{}, kT0 + absl::Hours(1));
  ASSERT_EQ(life.recipient.status, RecipientStatus::kPendingAction);

  life.Do(CompleteManualStep{}, kT0 + absl::Hours(2));
  const Recipient& r = life.recipient;
  EXPECT_EQ(r.status, RecipientStatus::kPaused);
  EXPECT_TRUE(r.paused_by_sequence);
  EXPECT_EQ(r.paused_from, RecipientStatus::kInProgress);
  EXPECT_EQ(r.current_step, 1);
  EXPECT_FALSE(r.due_at.has_value());
  EXPECT_EQ(r.remaining_delay, Days(1));
  EXPECT_TRUE(life.Try(MarkStepDue{}, kT0 + Days(5))->empty());

  // A pause longer than the delay: the email is due a day after the resume.
  life.sequence.paused = false;
  const absl::Time resumed = kT0 + Days(3);
  life.Do(ResumeBySequence{}, resumed);
  EXPECT_EQ(life.recipient.status, RecipientStatus::kInProgress);
  EXPECT_EQ(life.recipient.due_at, resumed + Days(1));
  ExpectSameRecipient(Fold(Recipient{}, life.events), life.recipient);
}

TEST(SequencePauseHoldTest, ATaskDueAtOnceOrTheLastStepStartNoClock) {
  {
    Life life = Enrolled(MakeSequence(
        {Task(absl::ZeroDuration()), Task(absl::ZeroDuration(), "Again")}));
    life.sequence = PauseSequence(life.sequence, kT0);
    life.Do(CompleteManualStep{}, kT0 + absl::Hours(1));
    EXPECT_EQ(life.recipient.status, RecipientStatus::kPendingAction);
    EXPECT_EQ(life.recipient.current_step, 1);
  }
  {
    Life life = Enrolled(MakeSequence({Task(absl::ZeroDuration())}));
    life.sequence = PauseSequence(life.sequence, kT0);
    life.Do(CompleteManualStep{}, kT0 + absl::Hours(1));
    EXPECT_EQ(life.recipient.status, RecipientStatus::kFinished);
  }
}

TEST(SequencePauseHoldTest, ASendBegunBeforeThePauseReportsIntoThePause) {
  Life life = Begun();
  life.sequence = PauseSequence(life.sequence, kDue + absl::Minutes(1));
  life.Do(PauseBySequence{}, kDue + absl::Minutes(1));
  life.Do(Report("L1", DeliveryOutcome::kSent), kDue + absl::Minutes(2));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kPaused);
  EXPECT_TRUE(life.recipient.paused_by_sequence);
  EXPECT_EQ(life.recipient.current_step, 1);
  EXPECT_EQ(life.recipient.remaining_delay, Days(2));
}

TEST(SequencePauseHoldTest, EditingTheErroredStepWaitsForTheResume) {
  Life life = Begun();
  life.Do(MarkStepDue{}, kDue + kDeadline);  // ERROR, outcome unknown.
  life.sequence = PauseSequence(life.sequence, kDue + absl::Hours(1));
  life.Do(PauseBySequence{}, kDue + absl::Hours(1));
  ASSERT_EQ(life.recipient.status, RecipientStatus::kError);
  EditContent edit;
  edit.step_index = 0;
  edit.edit.body = "Fixed {{first_name}}";
  life.Do(edit, kDue + absl::Hours(2));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kPaused);
  EXPECT_TRUE(life.recipient.paused_by_sequence);
  EXPECT_FALSE(life.recipient.due_at.has_value());
  life.sequence.paused = false;
  life.Do(ResumeBySequence{}, kDue + Days(2));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kInProgress);
  EXPECT_EQ(life.recipient.due_at, kDue + Days(2));
}

}  // namespace
}  // namespace sequencer::domain::test
