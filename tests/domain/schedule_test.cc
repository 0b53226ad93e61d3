// domain::Schedule: what each state of a recipient waits for, and that
// MarkStepDue acts exactly when Schedule says the recipient is due.

#include "domain/schedule.h"

#include <string>
#include <vector>

#include "domain/recipient.h"
#include "gtest/gtest.h"
#include "tests/domain/domain_test_helpers.h"

namespace sequencer::domain {

// How gtest prints a schedule (found by argument-dependent lookup).
void PrintTo(const RecipientSchedule& s, std::ostream* os) {
  *os << (s.kind == ScheduleKind::kNone  ? "none"
          : s.kind == ScheduleKind::kDue ? "due at "
                                         : "ready since ");
  if (s.kind != ScheduleKind::kNone) *os << absl::FormatTime(s.at);
  if (s.kind == ScheduleKind::kReadyForDelivery) {
    *os << " on " << StepTypeName(s.channel);
  }
}

namespace test {
namespace {

constexpr absl::Duration kDeadline = absl::Minutes(15);

RecipientSchedule None() { return {}; }
RecipientSchedule DueAt(absl::Time at) { return {ScheduleKind::kDue, at}; }
RecipientSchedule ReadySince(absl::Time at, StepType channel) {
  return {ScheduleKind::kReadyForDelivery, at, channel};
}

RecipientSchedule Of(const Life& life) {
  return Schedule(life.recipient, life.sequence);
}

// An email after one day, then an SMS after two.
Life TwoSteps() {
  return Enrolled(MakeSequence({Email(Days(1)), Sms(Days(2))}));
}

// The first step queued for delivery at kT0 + 1 day.
Life Queued() {
  Life life = TwoSteps();
  life.Do(MarkStepDue{}, kT0 + Days(1));
  return life;
}

// The first step's send begun at kT0 + 1 day.
Life Begun() {
  Life life = Queued();
  life.Do(BeginSend{"L1", life.recipient.version, kDeadline}, kT0 + Days(1));
  return life;
}

TEST(ScheduleTest, ADelayRunningIsDueWhenItElapses) {
  EXPECT_EQ(Of(TwoSteps()), DueAt(kT0 + Days(1)));
}

TEST(ScheduleTest, AnAutomaticStepDueIsReadyOnItsChannel) {
  EXPECT_EQ(Of(Queued()), ReadySince(kT0 + Days(1), StepType::kEmail));
  Life sms = Enrolled(MakeSequence({Sms(absl::ZeroDuration())}));
  EXPECT_EQ(Of(sms), DueAt(kT0));
  sms.Do(MarkStepDue{}, kT0 + absl::Minutes(3));
  EXPECT_EQ(Of(sms), ReadySince(kT0, StepType::kSms));
  Life social = Enrolled(MakeSequence({Social(absl::Hours(1))}));
  social.Do(MarkStepDue{}, kT0 + absl::Hours(1));
  EXPECT_EQ(Of(social),
            ReadySince(kT0 + absl::Hours(1), StepType::kSocialMessage));
}

TEST(ScheduleTest, AManualStepIsDueButNeverReadyForDelivery) {
  Life life = Enrolled(MakeSequence({Task(Days(1)), Email(Days(1))}));
  EXPECT_EQ(Of(life), DueAt(kT0 + Days(1)));
  life.Do(MarkStepDue{}, kT0 + Days(1));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kPendingAction);
  EXPECT_EQ(Of(life), None());
  life.Do(CompleteManualStep{}, kT0 + Days(2));
  EXPECT_EQ(Of(life), DueAt(kT0 + Days(3)));

  StepDefinition manual_email = Email(absl::ZeroDuration());
  manual_email.mode = StepMode::kManual;
  Life at_once = Enrolled(MakeSequence({manual_email}));
  EXPECT_EQ(at_once.recipient.status, RecipientStatus::kPendingAction);
  EXPECT_EQ(Of(at_once), None());
}

TEST(ScheduleTest, ABegunSendIsDueAtItsDeadline) {
  Life life = Begun();
  EXPECT_EQ(Of(life), DueAt(kT0 + Days(1) + kDeadline));
  life.Do(ReportDelivery{"L1", DeliveryOutcome::kSent, "m-1", ""},
          kT0 + Days(1) + absl::Minutes(1));
  EXPECT_EQ(Of(life), DueAt(kT0 + Days(1) + absl::Minutes(1) + Days(2)));
}

TEST(ScheduleTest, ABegunSendKeepsItsDeadlineWhilePaused) {
  Life life = Begun();
  life.Do(PauseRecipient{}, kT0 + Days(1) + absl::Minutes(1));
  EXPECT_EQ(Of(life), DueAt(kT0 + Days(1) + kDeadline));
  life.sequence = PauseSequence(life.sequence, kT0 + Days(1));
  EXPECT_EQ(Of(life), DueAt(kT0 + Days(1) + kDeadline));
}

TEST(ScheduleTest, ABegunSendOfAFinalRecipientWaitsForNothing) {
  Life life = Begun();
  life.Do(StopRecipient{}, kT0 + Days(1) + absl::Minutes(1));
  EXPECT_EQ(Of(life), None());
}

TEST(ScheduleTest, ASendWithoutADeadlineWaitsForItsReport) {
  Life life = Begun();
  life.recipient.send_deadline.reset();  // Begun before sends had deadlines.
  EXPECT_EQ(Of(life), None());
}

TEST(ScheduleTest, ATimedOutSendIsAnErrorWithNothingScheduled) {
  Life life = Begun();
  life.Do(MarkStepDue{}, kT0 + Days(1) + kDeadline);
  EXPECT_EQ(life.recipient.status, RecipientStatus::kError);
  EXPECT_EQ(Of(life), None());
}

TEST(ScheduleTest, PausedByTheRecipientOrTheSequenceIsNone) {
  Life paused = TwoSteps();
  paused.Do(PauseRecipient{}, kT0 + absl::Hours(1));
  EXPECT_EQ(Of(paused), None());
  paused.Do(ResumeRecipient{}, kT0 + absl::Hours(5));
  EXPECT_EQ(Of(paused), DueAt(kT0 + Days(1) + absl::Hours(4)));

  Life queued = Queued();
  queued.Do(PauseRecipient{}, kT0 + Days(1));
  EXPECT_EQ(Of(queued), None());

  Life by_sequence = TwoSteps();
  by_sequence.sequence = PauseSequence(by_sequence.sequence, kT0);
  by_sequence.Do(PauseBySequence{}, kT0 + absl::Hours(2));
  EXPECT_TRUE(by_sequence.recipient.paused_by_sequence);
  EXPECT_EQ(Of(by_sequence), None());

  Life enrolled_paused =
      Enrolled(PauseSequence(MakeSequence({Email(Days(1))}), kT0));
  EXPECT_EQ(enrolled_paused.recipient.status, RecipientStatus::kPaused);
  EXPECT_EQ(Of(enrolled_paused), None());
}

TEST(ScheduleTest, AnErroredStepIsNoneUntilRequeued) {
  Life life = Enrolled(MakeSequence({Email(Days(1), "Hi {{nickname}}")}));
  life.Do(MarkStepDue{}, kT0 + Days(1));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kError);
  EXPECT_EQ(Of(life), None());
  EditContent edit;
  edit.step_index = 0;
  edit.edit.subject = "Hi {{first_name}}";
  life.Do(edit, kT0 + Days(2));
  EXPECT_EQ(Of(life), DueAt(kT0 + Days(2)));
}

TEST(ScheduleTest, RunningRespondedKeepsItsScheduleAndStoppedByRuleHasNone) {
  Life running =
      Enrolled(MakeSequence({Email(Days(1))}, /*stop_on_response=*/false));
  running.Do(RecordSignal{SignalType::kReply, ""}, kT0 + absl::Hours(1));
  EXPECT_EQ(running.recipient.status, RecipientStatus::kResponded);
  EXPECT_EQ(Of(running), DueAt(kT0 + Days(1)));

  Life stopped = TwoSteps();
  stopped.Do(RecordSignal{SignalType::kMeetingBooked, ""},
             kT0 + absl::Hours(1));
  EXPECT_TRUE(stopped.recipient.stopped_by_rule);
  EXPECT_EQ(Of(stopped), None());
}

TEST(ScheduleTest, FinalDeletedAndUnknownRecipientsHaveNone) {
  Life finished = Enrolled(MakeSequence({Task(absl::ZeroDuration())}));
  finished.Do(CompleteManualStep{}, kT0);
  EXPECT_EQ(finished.recipient.status, RecipientStatus::kFinished);
  EXPECT_EQ(Of(finished), None());

  for (const RecipientCommand& command : std::vector<RecipientCommand>{
           StopRecipient{}, DeleteRecipient{},
           RecordSignal{SignalType::kBounce, ""},
           RecordSignal{SignalType::kUnsubscribe, ""}}) {
    Life life = Queued();
    life.Do(command, kT0 + Days(1));
    EXPECT_EQ(Of(life), None()) << command.index();
  }
  EXPECT_EQ(Schedule(Recipient{}, MakeSequence({Email(Days(1))})), None());
}

// MarkStepDue gives events exactly when Schedule is kDue and its time has
// come: before it, and for any other kind, it gives none.
TEST(ScheduleTest, MarkStepDueActsExactlyWhenScheduleIsDue) {
  std::vector<Life> lives = {TwoSteps(), Queued(), Begun()};
  Life manual = Enrolled(MakeSequence({Task(Days(1))}));
  lives.push_back(manual);
  manual.Do(MarkStepDue{}, kT0 + Days(1));
  lives.push_back(manual);
  Life paused = TwoSteps();
  paused.Do(PauseRecipient{}, kT0);
  lives.push_back(paused);
  for (const Life& life : lives) {
    const RecipientSchedule schedule = Of(life);
    for (absl::Time now :
         {kT0, kT0 + Days(1), kT0 + Days(1) + kDeadline, kT0 + Days(30)}) {
      absl::StatusOr<std::vector<RecipientEvent>> events =
          life.Try(MarkStepDue{}, now);
      ASSERT_TRUE(events.ok()) << events.status();
      const bool due =
          schedule.kind == ScheduleKind::kDue && schedule.at <= now;
      EXPECT_EQ(!events->empty(), due) << testing::PrintToString(schedule)
                                       << " at " << absl::FormatTime(now);
    }
  }
}

// MarkStepDue does not act while the sequence is paused, though a recipient
// running then (none is: the pause pauses them) would be due.
TEST(ScheduleTest, MarkStepDueWaitsWhileTheSequenceIsPaused) {
  Life life = TwoSteps();
  life.sequence = PauseSequence(life.sequence, kT0);
  EXPECT_EQ(Of(life), DueAt(kT0 + Days(1)));
  EXPECT_TRUE(life.Try(MarkStepDue{}, kT0 + Days(2))->empty());
}

// BeginSend is allowed only for a recipient Schedule calls ready.
TEST(ScheduleTest, BeginSendNeedsAStepReadyForDelivery) {
  Life waiting = TwoSteps();
  EXPECT_FALSE(
      waiting.Try(BeginSend{"L1", waiting.recipient.version, kDeadline}, kT0)
          .ok());
  Life queued = Queued();
  EXPECT_TRUE(
      queued.Try(BeginSend{"L1", queued.recipient.version, kDeadline}, kT0)
          .ok());
}

}  // namespace
}  // namespace test
}  // namespace sequencer::domain
