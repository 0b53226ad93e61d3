// Recipient decisions and state: the delay clock, skipping, editing, signals,
// enrollment, sequence-wide pause, views, folding and determinism.

#include "domain/recipient.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "domain/refusal.h"
#include "gtest/gtest.h"
#include "tests/domain/domain_test_helpers.h"
#include "tests/util/status_matchers.h"
#include "tests/util/test_util.h"

namespace sequencer::domain::test {
namespace {

using ::sequencer::testing::StatusIs;

std::string Describe(const Advance& a) {
  return absl::StrCat("{", a.next_step, ",",
                      std::string(StatusName(a.next_status)), ",",
                      a.next_due_at ? absl::FormatTime(*a.next_due_at) : "-",
                      ",", a.awaiting_manual_action, "}");
}

// A text form of an event with every field, to compare decisions.
std::string Describe(const RecipientEvent& event) {
  std::string out =
      absl::StrCat(std::string(EventName(event.payload)), "@",
                   absl::FormatTime(event.metadata.occurred_at), " by ",
                   event.metadata.actor, " req ", event.metadata.request_id,
                   " in ", event.metadata.tenant_id, ": ");
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, RecipientEnrolled>) {
          absl::StrAppend(&out, e.recipient_id, " ", e.step_count, " ",
                          Describe(e.start), " ", e.paused_by_sequence, " ",
                          absl::FormatDuration(e.remaining_delay));
        } else if constexpr (std::is_same_v<T, Paused>) {
          absl::StrAppend(&out, std::string(StatusName(e.paused_from)), " ",
                          absl::FormatDuration(e.remaining_delay), " ",
                          e.by_sequence);
        } else if constexpr (std::is_same_v<T, Resumed>) {
          absl::StrAppend(
              &out, std::string(StatusName(e.status)), " ",
              e.next_due_at ? absl::FormatTime(*e.next_due_at) : "-", " ",
              e.awaiting_manual_action);
        } else if constexpr (std::is_same_v<T, StepSkipped> ||
                             std::is_same_v<T, ManualStepCompleted>) {
          absl::StrAppend(&out, e.step_index, " ", Describe(e.advance));
        } else if constexpr (std::is_same_v<T, ContentEdited>) {
          absl::StrAppend(&out, e.step_index, " ", e.edit.subject.value_or("-"),
                          " ", e.edit.body.value_or("-"), " ", e.requeued);
        } else if constexpr (std::is_same_v<T, ReplyReceived> ||
                             std::is_same_v<T, MeetingBooked>) {
          absl::StrAppend(&out, e.detail, " ", e.stops_sequence, " ",
                          e.recorded_only);
        }
      },
      event.payload);
  return out;
}

std::vector<std::string> DescribeAll(
    const std::vector<RecipientEvent>& events) {
  std::vector<std::string> out;
  for (const RecipientEvent& event : events) out.push_back(Describe(event));
  return out;
}

// Step 0: email after 3 days; step 1: SMS after 2 days; step 2: a task due at
// once.
Sequence Three(bool stop_on_response = true) {
  return MakeSequence(
      {Email(Days(3)), Sms(Days(2)), Task(absl::ZeroDuration())},
      stop_on_response);
}

// ---- Delay clock.

TEST(DelayClockTest, PauseFreezesAndResumeContinues) {
  Life life = Enrolled(Three());
  EXPECT_EQ(life.recipient.due_at, kT0 + Days(3));
  const absl::Time pause_at = kT0 + Days(1);
  life.Do(PauseRecipient{}, pause_at);
  EXPECT_EQ(life.recipient.status, RecipientStatus::kPaused);
  EXPECT_EQ(life.recipient.paused_from, RecipientStatus::kInProgress);
  EXPECT_EQ(life.recipient.remaining_delay, Days(2));
  EXPECT_FALSE(life.recipient.due_at.has_value());
  const absl::Time resume_at = pause_at + Days(5);
  life.Do(ResumeRecipient{}, resume_at);
  EXPECT_EQ(life.recipient.status, RecipientStatus::kInProgress);
  EXPECT_EQ(life.recipient.due_at, resume_at + Days(2));
  EXPECT_EQ(life.recipient.remaining_delay, absl::ZeroDuration());
  EXPECT_EQ(life.recipient.current_step, 0);
}

TEST(DelayClockTest, PausePastDueFreezesZero) {
  Life life = Enrolled(Three());
  life.Do(PauseRecipient{}, kT0 + Days(4));
  EXPECT_EQ(life.recipient.remaining_delay, absl::ZeroDuration());
  life.Do(ResumeRecipient{}, kT0 + Days(10));
  EXPECT_EQ(life.recipient.due_at, kT0 + Days(10));
}

TEST(DelayClockTest, PendingActionPausesAndResumesAwaiting) {
  Life life = Enrolled(Three());
  life.Do(SkipStep{}, kT0 + absl::Hours(1));
  life.Do(SkipStep{}, kT0 + absl::Hours(2));
  ASSERT_EQ(life.recipient.status, RecipientStatus::kPendingAction);
  life.Do(PauseRecipient{}, kT0 + absl::Hours(3));
  EXPECT_EQ(life.recipient.paused_from, RecipientStatus::kPendingAction);
  EXPECT_EQ(life.recipient.remaining_delay, absl::ZeroDuration());
  EXPECT_TRUE(life.recipient.awaiting_manual_action);
  life.Do(ResumeRecipient{}, kT0 + Days(3));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kPendingAction);
  EXPECT_TRUE(life.recipient.awaiting_manual_action);
  EXPECT_FALSE(life.recipient.due_at.has_value());
}

TEST(DelayClockTest, ResumeFromErrorRetriesTheErroredStepNow) {
  Life life = Enrolled(Three());
  life.Apply(
      {At(kT0 + Days(3), StepFailed{0, "missing variable company", ""})});
  ASSERT_EQ(life.recipient.status, RecipientStatus::kError);
  EXPECT_EQ(life.recipient.error_message, "missing variable company");
  EXPECT_FALSE(life.recipient.due_at.has_value());
  life.Do(PauseRecipient{}, kT0 + Days(4));
  EXPECT_EQ(life.recipient.paused_from, RecipientStatus::kError);
  life.Do(ResumeRecipient{}, kT0 + Days(6));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kInProgress);
  EXPECT_EQ(life.recipient.current_step, 0);
  EXPECT_EQ(life.recipient.due_at, kT0 + Days(6));
  EXPECT_TRUE(life.recipient.error_message.empty());
}

TEST(DelayClockTest, RunningRespondedPausesAndResumesAsResponded) {
  Life life = Enrolled(Three(/*stop_on_response=*/false));
  life.Do(RecordSignal{SignalType::kReply, "thanks"}, kT0 + absl::Hours(1));
  life.Do(PauseRecipient{}, kT0 + Days(1));
  EXPECT_EQ(life.recipient.paused_from, RecipientStatus::kResponded);
  EXPECT_EQ(life.recipient.remaining_delay, Days(2));
  life.Do(ResumeRecipient{}, kT0 + Days(2));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kResponded);
  EXPECT_TRUE(life.recipient.IsRunning());
  EXPECT_EQ(life.recipient.due_at, kT0 + Days(4));
}

// ---- Skip.

TEST(SkipTest, SkipMovesToNextStepWithDelayFromNow) {
  Life life = Enrolled(Three());
  const absl::Time now = kT0 + absl::Hours(5);
  life.Do(SkipStep{}, now);
  EXPECT_EQ(life.recipient.steps[0].state, StepState::kSkipped);
  EXPECT_EQ(life.recipient.current_step, 1);
  EXPECT_EQ(life.recipient.status, RecipientStatus::kInProgress);
  EXPECT_EQ(life.recipient.due_at, now + Days(2));
}

TEST(SkipTest, SkipIntoManualStepWithoutDelayIsPendingAction) {
  Life life = Enrolled(Three());
  life.Do(SkipStep{}, kT0 + absl::Hours(1));
  life.Do(SkipStep{}, kT0 + absl::Hours(2));
  EXPECT_EQ(life.recipient.current_step, 2);
  EXPECT_EQ(life.recipient.status, RecipientStatus::kPendingAction);
  EXPECT_TRUE(life.recipient.awaiting_manual_action);
  EXPECT_FALSE(life.recipient.due_at.has_value());
}

TEST(SkipTest, SkippingTheLastStepFinishes) {
  Life life = Enrolled(Three());
  life.Do(SkipStep{}, kT0 + absl::Hours(1));
  life.Do(SkipStep{}, kT0 + absl::Hours(2));
  absl::StatusOr<std::vector<RecipientEvent>> events = Decide(
      SkipStep{}, life.recipient, life.sequence, Ctx(kT0 + absl::Hours(3)));
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 2u);
  const auto& skipped = std::get<StepSkipped>((*events)[0].payload);
  EXPECT_EQ(skipped.step_index, 2);
  EXPECT_EQ(skipped.advance.next_step, 3);
  EXPECT_TRUE(std::holds_alternative<Finished>((*events)[1].payload));
  life.Apply(*events);
  EXPECT_EQ(life.recipient.status, RecipientStatus::kFinished);
  EXPECT_EQ(life.recipient.current_step, 3);
  EXPECT_TRUE(life.recipient.IsFinal());
}

TEST(SkipTest, SkipFromErrorSkipsTheErroredStep) {
  Life life = Enrolled(Three());
  life.Apply({At(kT0 + Days(3), StepFailed{0, "missing variable", ""})});
  life.Do(SkipStep{}, kT0 + Days(4));
  EXPECT_EQ(life.recipient.steps[0].state, StepState::kSkipped);
  EXPECT_EQ(life.recipient.status, RecipientStatus::kInProgress);
  EXPECT_EQ(life.recipient.current_step, 1);
  EXPECT_EQ(life.recipient.due_at, kT0 + Days(6));
  EXPECT_TRUE(life.recipient.error_message.empty());
}

TEST(SkipTest, PreviewShowsNextStepWithoutChangingAnything) {
  Life life = Enrolled(Three());
  const Recipient before = life.recipient;
  const absl::Time now = kT0 + absl::Hours(7);
  ASSIGN_OR_FAIL(SkipPreview preview,
                 PreviewSkip(life.recipient, life.sequence, now));
  EXPECT_EQ(preview.skipped_step_index, 0);
  EXPECT_FALSE(preview.finishes);
  ASSERT_TRUE(preview.next_step.has_value());
  EXPECT_EQ(preview.next_step->step_index, 1);
  EXPECT_EQ(preview.next_step->type, StepType::kSms);
  EXPECT_EQ(preview.next_step->content.body, "Hi Alice");
  EXPECT_EQ(preview.next_step->due_at, now + Days(2));
  ExpectSameRecipient(life.recipient, before);
  // The decision agrees with the preview.
  life.Do(SkipStep{}, now);
  EXPECT_EQ(life.recipient.due_at, preview.next_step->due_at);
}

TEST(SkipTest, PreviewOfLastStepFinishesAndIsRefusedLikeSkip) {
  Life life = Enrolled(Three());
  life.Do(SkipStep{}, kT0);
  life.Do(SkipStep{}, kT0);
  ASSIGN_OR_FAIL(SkipPreview preview,
                 PreviewSkip(life.recipient, life.sequence, kT0));
  EXPECT_TRUE(preview.finishes);
  EXPECT_FALSE(preview.next_step.has_value());
  life.Do(PauseRecipient{}, kT0);
  absl::StatusOr<SkipPreview> refused =
      PreviewSkip(life.recipient, life.sequence, kT0);
  EXPECT_THAT(refused.status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(ReasonOf(refused.status()), RefusalReason::kActionNotAvailable);
}

// ---- Edit content.

EditContent Edit(int step, std::optional<std::string> subject,
                 std::optional<std::string> body,
                 std::optional<std::string> message = std::nullopt,
                 std::optional<std::string> details = std::nullopt) {
  EditContent edit;
  edit.step_index = step;
  edit.edit.subject = std::move(subject);
  edit.edit.body = std::move(body);
  edit.edit.message = std::move(message);
  edit.edit.details = std::move(details);
  return edit;
}

TEST(EditTest, FittingEditOverridesForThisRecipientOnly) {
  Life alice = Enrolled(Three());
  EnrollRecipient bob_command = Alice();
  bob_command.recipient_id = "rcpt-bob";
  bob_command.variables["first_name"] = "Bob";
  Life bob = Enrolled(Three(), kT0, bob_command);
  const Sequence sequence_before = alice.sequence;

  alice.Do(Edit(1, std::nullopt, "Yo {{first_name}}"), kT0 + absl::Hours(1));
  alice.Do(Edit(0, "New subject", std::nullopt), kT0 + absl::Hours(1));
  EXPECT_EQ(alice.recipient.steps[1].override_content.body,
            "Yo {{first_name}}");
  EXPECT_EQ(alice.recipient.steps[0].override_content.subject, "New subject");
  EXPECT_FALSE(alice.recipient.steps[0].override_content.body.has_value());
  EXPECT_EQ(alice.recipient.status, RecipientStatus::kInProgress);

  std::vector<StepView> views =
      DescribeSteps(alice.recipient, alice.sequence, kT0);
  EXPECT_EQ(views[1].content.body, "Yo Alice");
  EXPECT_TRUE(views[1].overridden);
  EXPECT_EQ(views[0].content.subject, "New subject");
  EXPECT_EQ(views[0].content.body, "Hello Alice from Corp");
  // The sequence and the other recipient are untouched.
  EXPECT_EQ(alice.sequence.steps[1].content.body,
            sequence_before.steps[1].content.body);
  EXPECT_EQ(alice.sequence.version, sequence_before.version);
  std::vector<StepView> bob_views =
      DescribeSteps(bob.recipient, bob.sequence, kT0);
  EXPECT_EQ(bob_views[1].content.body, "Hi Bob");
  EXPECT_FALSE(bob_views[1].overridden);
}

TEST(EditTest, FieldThatDoesNotFitTheStepTypeIsInvalid) {
  Life life = Enrolled(Three());
  struct Case {
    EditContent edit;
    std::string field;
    std::string type;
  } cases[] = {
      {Edit(1, "Subject", std::nullopt), "subject", "SMS"},
      {Edit(0, std::nullopt, std::nullopt, "msg"), "message", "EMAIL"},
      {Edit(2, std::nullopt, "body"), "body", "TASK"},
      {Edit(0, std::nullopt, std::nullopt, std::nullopt, "details"), "details",
       "EMAIL"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::vector<RecipientEvent>> events =
        Decide(c.edit, life.recipient, life.sequence, Ctx(kT0));
    EXPECT_THAT(events.status(), StatusIs(absl::StatusCode::kInvalidArgument))
        << c.field;
    EXPECT_NE(events.status().message().find(c.field), absl::string_view::npos)
        << events.status();
    EXPECT_NE(events.status().message().find(c.type), absl::string_view::npos)
        << events.status();
  }
}

TEST(EditTest, BadInputIsInvalid) {
  Life life = Enrolled(Three());
  auto status = [&](const EditContent& edit) {
    return Decide(edit, life.recipient, life.sequence, Ctx(kT0)).status();
  };
  EXPECT_THAT(status(Edit(3, "x", std::nullopt)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(status(Edit(-1, "x", std::nullopt)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(status(Edit(0, std::nullopt, std::nullopt)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(status(Edit(0, "Hi {{Nickname}}", std::nullopt)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      status(Edit(1, std::nullopt, std::string(kMaxSmsBodyLength + 1, 'x'))),
      StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      status(Edit(1, std::nullopt, std::string(kMaxSmsBodyLength, 'x'))),
      StatusIs(absl::StatusCode::kOk));
}

TEST(EditTest, CompletedOrSkippedStepIsNotEditable) {
  Life life = Enrolled(Three());
  life.Apply(
      {At(kT0 + Days(3),
          StepCompleted{
              0, StepContent{"Hi Alice", "Hello", "", ""}, "m1",
              Advance{1, RecipientStatus::kInProgress, kT0 + Days(5), false},
              ""})});
  absl::StatusOr<std::vector<RecipientEvent>> events =
      Decide(Edit(0, "late", std::nullopt), life.recipient, life.sequence,
             Ctx(kT0 + Days(4)));
  EXPECT_THAT(events.status(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(ReasonOf(events.status()), RefusalReason::kStepNotEditable);
  life.Do(SkipStep{}, kT0 + Days(4));
  events = Decide(Edit(1, std::nullopt, "late"), life.recipient, life.sequence,
                  Ctx(kT0 + Days(4)));
  EXPECT_EQ(ReasonOf(events.status()), RefusalReason::kStepNotEditable);
  // The current step is not reached yet and stays editable.
  life.Do(Edit(2, std::nullopt, std::nullopt, std::nullopt, "Call soon"),
          kT0 + Days(4));
}

TEST(EditTest, EditingTheErroredStepRequeuesIt) {
  Life life = Enrolled(Three());
  life.Apply({At(kT0 + Days(3), StepFailed{0, "missing variable title", ""})});
  const absl::Time now = kT0 + Days(4);
  absl::StatusOr<std::vector<RecipientEvent>> events = Decide(
      Edit(0, std::nullopt, "Hello"), life.recipient, life.sequence, Ctx(now));
  ASSERT_TRUE(events.ok()) << events.status();
  const auto& edited = std::get<ContentEdited>(events->at(0).payload);
  EXPECT_TRUE(edited.requeued);
  EXPECT_EQ(edited.next_due_at, now);
  life.Apply(*events);
  EXPECT_EQ(life.recipient.status, RecipientStatus::kInProgress);
  EXPECT_EQ(life.recipient.due_at, now);
  EXPECT_EQ(life.recipient.current_step, 0);
  EXPECT_TRUE(life.recipient.error_message.empty());
}

TEST(EditTest, EditingALaterStepInErrorDoesNotRequeue) {
  Life life = Enrolled(Three());
  life.Apply({At(kT0 + Days(3), StepFailed{0, "boom", ""})});
  life.Do(Edit(1, std::nullopt, "Later"), kT0 + Days(4));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kError);
  EXPECT_EQ(life.recipient.error_message, "boom");
}

// ---- Signals.

TEST(SignalTest, ReplyWithStopOnResponseEndsTheSequence) {
  for (const auto& [name, prepare] :
       std::vector<std::pair<std::string, std::function<void(Life&)>>>{
           {"in progress", [](Life&) {}},
           {"paused", [](Life& l) { l.Do(PauseRecipient{}, kT0); }},
           {"pending",
            [](Life& l) {
              l.Do(SkipStep{}, kT0);
              l.Do(SkipStep{}, kT0);
            }},
           {"error",
            [](Life& l) {
              l.Apply({At(kT0, StepFailed{0, "x", ""})});
            }},
       }) {
    SCOPED_TRACE(name);
    Life life = Enrolled(Three(true));
    prepare(life);
    life.Do(RecordSignal{SignalType::kReply, "interested"}, kT0 + Days(1));
    EXPECT_EQ(life.recipient.status, RecipientStatus::kResponded);
    EXPECT_TRUE(life.recipient.stopped_by_rule);
    EXPECT_TRUE(life.recipient.IsFinal());
    EXPECT_FALSE(life.recipient.due_at.has_value());
    EXPECT_FALSE(life.recipient.awaiting_manual_action);
    EXPECT_EQ(life.recipient.steps.back().state, StepState::kCancelled);
    const auto& reply = std::get<ReplyReceived>(life.events.back().payload);
    EXPECT_TRUE(reply.stops_sequence);
    EXPECT_FALSE(reply.recorded_only);
  }
}

TEST(SignalTest, MeetingWithStopOnResponseEndsAsMeetingBooked) {
  Life life = Enrolled(Three(true));
  life.Do(RecordSignal{SignalType::kMeetingBooked, "Tue 10:00"}, kT0 + Days(1));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kMeetingBooked);
  EXPECT_TRUE(life.recipient.stopped_by_rule);
  EXPECT_EQ(life.recipient.steps[0].state, StepState::kCancelled);
}

TEST(SignalTest, WithStopOnResponseOffRecipientKeepsRunningAndMeetingWins) {
  Life life = Enrolled(Three(false));
  life.Do(RecordSignal{SignalType::kReply, ""}, kT0 + absl::Hours(1));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kResponded);
  EXPECT_TRUE(life.recipient.responded);
  EXPECT_FALSE(life.recipient.stopped_by_rule);
  EXPECT_TRUE(life.recipient.IsRunning());
  EXPECT_EQ(life.recipient.due_at, kT0 + Days(3));
  life.Do(RecordSignal{SignalType::kMeetingBooked, ""}, kT0 + absl::Hours(2));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kMeetingBooked);
  life.Do(RecordSignal{SignalType::kReply, ""}, kT0 + absl::Hours(3));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kMeetingBooked);
  EXPECT_TRUE(life.recipient.meeting_booked);
  EXPECT_TRUE(life.recipient.responded);
  // Steps go on: skipping keeps the signal status.
  life.Do(SkipStep{}, kT0 + absl::Hours(4));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kMeetingBooked);
  EXPECT_EQ(life.recipient.due_at, kT0 + absl::Hours(4) + Days(2));
}

TEST(SignalTest, OffModeReplyInOtherStatuses) {
  {
    Life life = Enrolled(Three(false));
    life.Do(SkipStep{}, kT0);
    life.Do(SkipStep{}, kT0);
    life.Do(RecordSignal{SignalType::kReply, ""}, kT0 + absl::Hours(1));
    EXPECT_EQ(life.recipient.status, RecipientStatus::kResponded);
    EXPECT_TRUE(life.recipient.awaiting_manual_action);
    SEQ_EXPECT_OK(CheckActionAvailable(Action::kCompleteManualStep,
                                       life.recipient, life.sequence));
  }
  {
    Life life = Enrolled(Three(false));
    life.Do(PauseRecipient{}, kT0 + Days(1));
    life.Do(RecordSignal{SignalType::kMeetingBooked, ""}, kT0 + Days(2));
    EXPECT_EQ(life.recipient.status, RecipientStatus::kPaused);
    EXPECT_EQ(life.recipient.paused_from, RecipientStatus::kMeetingBooked);
    life.Do(ResumeRecipient{}, kT0 + Days(3));
    EXPECT_EQ(life.recipient.status, RecipientStatus::kMeetingBooked);
    EXPECT_EQ(life.recipient.due_at, kT0 + Days(5));
  }
  {
    Life life = Enrolled(Three(false));
    life.Apply({At(kT0 + Days(3), StepFailed{0, "boom", ""})});
    life.Do(RecordSignal{SignalType::kReply, ""}, kT0 + Days(4));
    EXPECT_EQ(life.recipient.status, RecipientStatus::kError);
    EXPECT_TRUE(life.recipient.responded);
    life.Do(SkipStep{}, kT0 + Days(5));
    EXPECT_EQ(life.recipient.status, RecipientStatus::kResponded);
  }
}

TEST(SignalTest, BounceAndUnsubscribeEndFromAnyNonFinalStatus) {
  for (SignalType signal : {SignalType::kBounce, SignalType::kUnsubscribe}) {
    const RecipientStatus expected = signal == SignalType::kBounce
                                         ? RecipientStatus::kBounced
                                         : RecipientStatus::kUnsubscribed;
    Life running = Enrolled(Three(false));
    running.Do(RecordSignal{SignalType::kReply, ""}, kT0);
    running.Do(RecordSignal{signal, "550"}, kT0 + absl::Hours(1));
    EXPECT_EQ(running.recipient.status, expected);
    EXPECT_TRUE(running.recipient.IsFinal());
    EXPECT_EQ(running.recipient.steps[0].state, StepState::kCancelled);

    Life paused = Enrolled(Three());
    paused.Do(PauseRecipient{}, kT0);
    paused.Do(RecordSignal{signal, "550"}, kT0 + absl::Hours(1));
    EXPECT_EQ(paused.recipient.status, expected);
    EXPECT_FALSE(paused.recipient.paused_by_sequence);
  }
}

TEST(SignalTest, SignalsForFinalRecipientsAreRecordedOnly) {
  std::vector<Life> finals;
  finals.push_back(Enrolled(Three()));
  finals.back().Do(StopRecipient{}, kT0);
  finals.push_back(Enrolled(Three()));
  finals.back().Do(RecordSignal{SignalType::kReply, ""}, kT0);
  finals.push_back(Enrolled(Three()));
  finals.back().Do(RecordSignal{SignalType::kBounce, ""}, kT0);
  finals.push_back(Enrolled(Three()));
  for (int i = 0; i < 3; ++i) finals.back().Do(SkipStep{}, kT0);
  for (Life& life : finals) {
    SCOPED_TRACE(std::string(StatusName(life.recipient.status)));
    ASSERT_TRUE(life.recipient.IsFinal());
    for (SignalType signal : {SignalType::kReply, SignalType::kMeetingBooked,
                              SignalType::kBounce, SignalType::kUnsubscribe}) {
      const Recipient before = life.recipient;
      absl::StatusOr<std::vector<RecipientEvent>> events =
          Decide(RecordSignal{signal, "late"}, life.recipient, life.sequence,
                 Ctx(kT0 + Days(9)));
      ASSERT_TRUE(events.ok()) << events.status();
      ASSERT_EQ(events->size(), 1u);
      const bool recorded_only = std::visit(
          [](const auto& e) {
            if constexpr (std::is_same_v<std::decay_t<decltype(e)>,
                                         ReplyReceived> ||
                          std::is_same_v<std::decay_t<decltype(e)>,
                                         MeetingBooked> ||
                          std::is_same_v<std::decay_t<decltype(e)>, Bounced> ||
                          std::is_same_v<std::decay_t<decltype(e)>,
                                         Unsubscribed>) {
              return e.recorded_only;
            }
            return false;
          },
          events->front().payload);
      EXPECT_TRUE(recorded_only);
      life.Apply(*events);
      EXPECT_EQ(life.recipient.status, before.status);
      EXPECT_EQ(life.recipient.responded, before.responded);
      EXPECT_EQ(life.recipient.meeting_booked, before.meeting_booked);
      EXPECT_EQ(life.recipient.version, before.version + 1);
    }
  }
}

TEST(SignalTest, OversizedDetailIsInvalid) {
  Life life = Enrolled(Three());
  EXPECT_THAT(Decide(RecordSignal{SignalType::kReply,
                                  std::string(kMaxSignalDetailLength + 1, 'x')},
                     life.recipient, life.sequence, Ctx(kT0))
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// ---- Stop and delete.

TEST(StopDeleteTest, StopCancelsRemainingSteps) {
  Life life = Enrolled(Three());
  life.Do(SkipStep{}, kT0);
  life.Do(StopRecipient{}, kT0 + absl::Hours(1));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kStopped);
  EXPECT_EQ(life.recipient.steps[0].state, StepState::kSkipped);
  EXPECT_EQ(life.recipient.steps[1].state, StepState::kCancelled);
  EXPECT_EQ(life.recipient.steps[2].state, StepState::kCancelled);
  EXPECT_FALSE(life.recipient.due_at.has_value());
}

TEST(StopDeleteTest, DeleteErasesPersonalDataKeepingIds) {
  Life life = Enrolled(Three());
  life.Do(Edit(1, std::nullopt, "Yo"), kT0);
  life.Apply(
      {At(kT0 + Days(3),
          StepCompleted{
              0, StepContent{"Hi Alice", "Hello Alice", "", ""}, "m1",
              Advance{1, RecipientStatus::kInProgress, kT0 + Days(5), false},
              ""})});
  life.Do(DeleteRecipient{}, kT0 + Days(4));
  const Recipient& r = life.recipient;
  EXPECT_TRUE(r.exists);
  EXPECT_TRUE(r.deleted);
  EXPECT_EQ(r.recipient_id, "rcpt-alice");
  EXPECT_EQ(r.sequence_id, "seq-1");
  EXPECT_EQ(r.contact, Contact{});
  EXPECT_TRUE(r.variables.empty());
  for (const RecipientStep& step : r.steps) {
    EXPECT_FALSE(step.sent_content.has_value());
    EXPECT_EQ(step.override_content, ContentEdit{});
  }
}

// ---- Sequence-wide pause.

TEST(SequencePauseTest, PausesProgressingRecipientsAndResumesExactlyThose) {
  Sequence sequence = Three(false);
  Life progressing = Enrolled(sequence);
  Life responded = Enrolled(sequence);
  responded.Do(RecordSignal{SignalType::kReply, ""}, kT0);
  Life pending = Enrolled(sequence);
  pending.Do(SkipStep{}, kT0);
  pending.Do(SkipStep{}, kT0);
  Life errored = Enrolled(sequence);
  errored.Apply({At(kT0, StepFailed{0, "x", ""})});
  Life individually = Enrolled(sequence);
  individually.Do(PauseRecipient{}, kT0 + Days(1));
  Life stopped = Enrolled(sequence);
  stopped.Do(StopRecipient{}, kT0);

  const absl::Time pause_at = kT0 + Days(1);
  const Sequence paused = PauseSequence(sequence, pause_at);
  for (Life* life : {&progressing, &responded, &pending, &errored,
                     &individually, &stopped}) {
    life->sequence = paused;
    life->Do(PauseBySequence{}, pause_at);
  }
  EXPECT_EQ(progressing.recipient.status, RecipientStatus::kPaused);
  EXPECT_TRUE(progressing.recipient.paused_by_sequence);
  EXPECT_EQ(progressing.recipient.remaining_delay, Days(2));
  EXPECT_EQ(responded.recipient.status, RecipientStatus::kPaused);
  EXPECT_EQ(responded.recipient.paused_from, RecipientStatus::kResponded);
  EXPECT_EQ(pending.recipient.status, RecipientStatus::kPendingAction);
  EXPECT_EQ(errored.recipient.status, RecipientStatus::kError);
  EXPECT_FALSE(individually.recipient.paused_by_sequence);
  EXPECT_EQ(stopped.recipient.status, RecipientStatus::kStopped);
  for (Life* life : {&pending, &errored, &individually, &stopped}) {
    EXPECT_EQ(life->events.back().metadata.occurred_at == pause_at &&
                  std::holds_alternative<Paused>(life->events.back().payload) &&
                  std::get<Paused>(life->events.back().payload).by_sequence,
              false);
  }

  // While paused, a sequence-paused recipient cannot be resumed on its own.
  EXPECT_EQ(ReasonOf(Decide(ResumeRecipient{}, progressing.recipient, paused,
                            Ctx(pause_at))
                         .status()),
            RefusalReason::kSequencePaused);

  const absl::Time resume_at = kT0 + Days(10);
  Sequence resumed = paused;
  {
    absl::StatusOr<std::vector<SequenceEvent>> events =
        DecideResumeSequence(paused, Ctx(resume_at));
    ASSERT_TRUE(events.ok()) << events.status();
    for (const SequenceEvent& e : *events) resumed = Evolve(resumed, e);
  }
  for (Life* life : {&progressing, &responded, &pending, &errored,
                     &individually, &stopped}) {
    life->sequence = resumed;
    life->Do(ResumeBySequence{}, resume_at);
  }
  EXPECT_EQ(progressing.recipient.status, RecipientStatus::kInProgress);
  EXPECT_EQ(progressing.recipient.due_at, resume_at + Days(2));
  EXPECT_FALSE(progressing.recipient.paused_by_sequence);
  EXPECT_EQ(responded.recipient.status, RecipientStatus::kResponded);
  EXPECT_EQ(individually.recipient.status, RecipientStatus::kPaused);
  EXPECT_EQ(pending.recipient.status, RecipientStatus::kPendingAction);
}

TEST(SequencePauseTest, UnaffectedRecipientsGetNoEvents) {
  Life individually = Enrolled(Three());
  individually.Do(PauseRecipient{}, kT0);
  ASSIGN_OR_FAIL(std::vector<RecipientEvent> pause_events,
                 Decide(PauseBySequence{}, individually.recipient,
                        individually.sequence, Ctx(kT0)));
  EXPECT_TRUE(pause_events.empty());
  ASSIGN_OR_FAIL(std::vector<RecipientEvent> resume_events,
                 Decide(ResumeBySequence{}, individually.recipient,
                        individually.sequence, Ctx(kT0)));
  EXPECT_TRUE(resume_events.empty());
}

// ---- Enrollment.

TEST(EnrollTest, FirstStepDueAfterItsDelay) {
  Life life = Enrolled(Three(), kT0);
  const Recipient& r = life.recipient;
  EXPECT_TRUE(r.exists);
  EXPECT_EQ(r.status, RecipientStatus::kInProgress);
  EXPECT_EQ(r.current_step, 0);
  EXPECT_EQ(r.due_at, kT0 + Days(3));
  EXPECT_EQ(r.steps.size(), 3u);
  EXPECT_EQ(r.enrolled_at, kT0);
  EXPECT_EQ(r.tenant_id, "tenant-1");
  EXPECT_EQ(r.recipient_id, "rcpt-alice");
  EXPECT_EQ(r.version, 1u);
}

TEST(EnrollTest, ManualFirstStepWithoutDelayIsPendingAction) {
  Life life =
      Enrolled(MakeSequence({Task(absl::ZeroDuration()), Email(Days(1))}));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kPendingAction);
  EXPECT_TRUE(life.recipient.awaiting_manual_action);
  EXPECT_FALSE(life.recipient.due_at.has_value());
  // A manual step with a delay waits for it first.
  StepDefinition manual_email = Email(Days(1));
  manual_email.mode = StepMode::kManual;
  Life later = Enrolled(MakeSequence({manual_email}));
  EXPECT_EQ(later.recipient.status, RecipientStatus::kInProgress);
  EXPECT_EQ(later.recipient.due_at, kT0 + Days(1));
}

TEST(EnrollTest, InPausedSequenceStartsPausedBySequence) {
  const Sequence paused = PauseSequence(Three(), kT0);
  Life life = Enrolled(paused, kT0 + absl::Hours(1));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kPaused);
  EXPECT_TRUE(life.recipient.paused_by_sequence);
  EXPECT_EQ(life.recipient.paused_from, RecipientStatus::kInProgress);
  EXPECT_EQ(life.recipient.remaining_delay, Days(3));
  EXPECT_FALSE(life.recipient.due_at.has_value());
  life.Do(ResumeBySequence{}, kT0 + Days(2));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kInProgress);
  EXPECT_EQ(life.recipient.due_at, kT0 + Days(5));
}

TEST(EnrollTest, ValidatesInput) {
  const Sequence sequence = Three();
  auto status = [&](const EnrollRecipient& command) {
    return DecideEnroll(command, sequence, Recipient{}, Ctx(kT0)).status();
  };
  EnrollRecipient c = Alice();
  EXPECT_THAT(status(c), StatusIs(absl::StatusCode::kOk));
  c.recipient_id = "";
  EXPECT_THAT(status(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c.recipient_id = std::string(kMaxIdLength, 'a');
  EXPECT_THAT(status(c), StatusIs(absl::StatusCode::kOk));
  c.recipient_id = std::string(kMaxIdLength + 1, 'a');
  EXPECT_THAT(status(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c.recipient_id = "has space";
  EXPECT_THAT(status(c), StatusIs(absl::StatusCode::kInvalidArgument));

  c = Alice();
  c.contact.email = std::string(kMaxContactFieldLength, 'e');
  EXPECT_THAT(status(c), StatusIs(absl::StatusCode::kOk));
  c.contact.email = std::string(kMaxContactFieldLength + 1, 'e');
  EXPECT_THAT(status(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c = Alice();
  c.contact.social_profile = std::string(kMaxContactFieldLength + 1, 's');
  EXPECT_THAT(status(c), StatusIs(absl::StatusCode::kInvalidArgument));

  c = Alice();
  c.variables["aira.opening_line"] = "Loved your talk";
  c.variables["custom.team_size"] = "12";
  EXPECT_THAT(status(c), StatusIs(absl::StatusCode::kOk));
  c.variables["nickname"] = "Al";  // Custom names are free.
  c.variables["crm.deal.stage"] = "open";
  EXPECT_THAT(status(c), StatusIs(absl::StatusCode::kOk));
  c = Alice();
  c.variables["custom.Team"] = "x";
  EXPECT_THAT(status(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c = Alice();
  c.variables["1st"] = "x";
  EXPECT_THAT(status(c), StatusIs(absl::StatusCode::kInvalidArgument));

  c = Alice();
  c.variables["company"] = std::string(kMaxVariableValueBytes, 'v');
  EXPECT_THAT(status(c), StatusIs(absl::StatusCode::kOk));
  c.variables["company"] = std::string(kMaxVariableValueBytes + 1, 'v');
  EXPECT_THAT(status(c), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(EnrollTest, VariablesAreBoundedInNumberAndTotalSize) {
  EnrollRecipient c = Alice();
  c.variables.clear();
  for (size_t i = 0; i < kMaxVariables; ++i) {
    c.variables[absl::StrCat("v", i)] = "x";
  }
  const Sequence sequence = Three();
  auto enroll = [&](const EnrollRecipient& command) {
    return DecideEnroll(command, sequence, Recipient{}, Ctx(kT0)).status();
  };
  SEQ_EXPECT_OK(enroll(c));
  c.variables["one_more"] = "x";
  absl::Status too_many = enroll(c);
  EXPECT_THAT(too_many, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(absl::StrContains(too_many.message(), "variables: at most 100"))
      << too_many;

  // Four values of the largest size fit; a fifth crosses the total.
  c.variables.clear();
  for (int i = 0; i < 3; ++i) {
    c.variables[absl::StrCat("v", i)] =
        std::string(kMaxVariableValueBytes, 'x');
  }
  SEQ_EXPECT_OK(enroll(c));
  c.variables["v3"] = std::string(kMaxVariableValueBytes, 'x');
  c.variables["v4"] = std::string(kMaxVariableValueBytes, 'x');
  absl::Status too_big = enroll(c);
  EXPECT_THAT(too_big, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(absl::StrContains(too_big.message(), "together must be at most"))
      << too_big;
}

TEST(EnrollTest, ExistingOrDeletedIdAlreadyExists) {
  Life life = Enrolled(Three());
  EXPECT_THAT(
      DecideEnroll(Alice(), life.sequence, life.recipient, Ctx(kT0)).status(),
      StatusIs(absl::StatusCode::kAlreadyExists));
  life.Do(DeleteRecipient{}, kT0);
  EXPECT_THAT(
      DecideEnroll(Alice(), life.sequence, life.recipient, Ctx(kT0)).status(),
      StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(DecideEnroll(Alice(), Sequence{}, Recipient{}, Ctx(kT0)).status(),
              StatusIs(absl::StatusCode::kNotFound));
}

// ---- Views.

TEST(ViewTest, DescribesEveryStepWithStateContentAndDueTimes) {
  EnrollRecipient command = Alice();
  command.variables.erase("company");
  Life life = Enrolled(Three(), kT0, command);
  life.Apply(
      {At(kT0 + Days(3),
          StepCompleted{
              0, StepContent{"Hi Alice", "Sent body", "", ""}, "m1",
              Advance{1, RecipientStatus::kInProgress, kT0 + Days(5), false},
              ""})});
  std::vector<StepView> views =
      DescribeSteps(life.recipient, life.sequence, kT0 + Days(4));
  ASSERT_EQ(views.size(), 3u);
  EXPECT_EQ(views[0].state, StepState::kCompleted);
  EXPECT_EQ(views[0].content.body, "Sent body");
  EXPECT_EQ(views[0].completed_at, kT0 + Days(3));
  EXPECT_EQ(views[1].state, StepState::kCurrent);
  EXPECT_EQ(views[1].due_at, kT0 + Days(5));
  EXPECT_EQ(views[2].state, StepState::kUpcoming);
  EXPECT_EQ(views[2].type, StepType::kTask);
  EXPECT_EQ(views[2].mode, StepMode::kManual);
  EXPECT_EQ(views[2].due_at, kT0 + Days(5));  // Zero delay after step 1.
  EXPECT_EQ(views[2].content.details, "Call Alice");

  // Missing variables are listed and left as written.
  life.Do(Edit(2, std::nullopt, std::nullopt, std::nullopt,
               "Ask {{company}} about {{title}}"),
          kT0 + Days(4));
  views = DescribeSteps(life.recipient, life.sequence, kT0 + Days(4));
  EXPECT_EQ(views[2].content.details, "Ask {{company}} about {{title}}");
  EXPECT_EQ(views[2].missing_variables,
            (std::vector<std::string>{"company", "title"}));

  // Paused: the current step is due the remaining delay from now.
  life.Do(PauseRecipient{}, kT0 + Days(4));
  ASSIGN_OR_FAIL(std::vector<StepView> paused_views,
                 ViewContent(life.recipient, life.sequence, kT0 + Days(8)));
  EXPECT_EQ(paused_views[1].state, StepState::kCurrent);
  EXPECT_EQ(paused_views[1].due_at, kT0 + Days(9));

  // Stopped: the rest is cancelled and has no due time.
  life.Do(StopRecipient{}, kT0 + Days(9));
  ASSIGN_OR_FAIL(std::vector<StepView> stopped_views,
                 ViewContent(life.recipient, life.sequence, kT0 + Days(9)));
  EXPECT_EQ(stopped_views[0].state, StepState::kCompleted);
  EXPECT_EQ(stopped_views[1].state, StepState::kCancelled);
  EXPECT_EQ(stopped_views[2].state, StepState::kCancelled);
  EXPECT_FALSE(stopped_views[2].due_at.has_value());
}

TEST(ViewTest, TemplateVariablesIncludeContactFieldsVariablesWin) {
  Recipient r;
  r.contact.email = "a@x.example";
  r.contact.phone = "+100";
  r.variables = {{"phone", "+200"}, {"first_name", "A"}};
  std::map<std::string, std::string> v = TemplateVariables(r);
  EXPECT_EQ(v["email"], "a@x.example");
  EXPECT_EQ(v["phone"], "+200");
  EXPECT_EQ(v["first_name"], "A");
}

// ---- Folding and determinism.

std::vector<RecipientEvent> ALongLife(Life& life) {
  life.Do(Edit(1, std::nullopt, "Yo {{first_name}}"), kT0 + absl::Hours(1));
  life.Do(PauseRecipient{}, kT0 + Days(1));
  life.Do(ResumeRecipient{}, kT0 + Days(2));
  life.Apply(
      {At(kT0 + Days(4),
          StepCompleted{
              0, StepContent{"Hi Alice", "Hello", "", ""}, "m1",
              Advance{1, RecipientStatus::kInProgress, kT0 + Days(6), false},
              ""})});
  life.Do(RecordSignal{SignalType::kReply, "maybe"}, kT0 + Days(5));
  life.Do(SkipStep{}, kT0 + Days(5));
  life.Do(CompleteManualStep{2}, kT0 + Days(6));
  return life.events;
}

TEST(FoldTest, FoldingTheStreamReproducesTheState) {
  Life life = Enrolled(Three(false));
  std::vector<RecipientEvent> events = ALongLife(life);
  EXPECT_EQ(life.recipient.status, RecipientStatus::kFinished);
  EXPECT_TRUE(life.recipient.responded);
  EXPECT_EQ(life.recipient.version, events.size());
  EXPECT_EQ(life.recipient.updated_at, kT0 + Days(6));
  ExpectSameRecipient(Fold(Recipient{}, events), life.recipient);
  // Folding a prefix gives the state at that point.
  std::vector<RecipientEvent> prefix(events.begin(), events.begin() + 3);
  Recipient at_pause = Fold(Recipient{}, prefix);
  EXPECT_EQ(at_pause.status, RecipientStatus::kPaused);
  EXPECT_EQ(at_pause.version, 3u);
}

TEST(FoldTest, SameInputsGiveSameEvents) {
  Life first = Enrolled(Three(false));
  Life second = Enrolled(Three(false));
  EXPECT_EQ(DescribeAll(ALongLife(first)), DescribeAll(ALongLife(second)));
  const Recipient snapshot = first.recipient;
  for (const RecipientCommand& command : std::vector<RecipientCommand>{
           PauseRecipient{}, StopRecipient{}, DeleteRecipient{}}) {
    absl::StatusOr<std::vector<RecipientEvent>> a = Decide(
        command, first.recipient, first.sequence, Ctx(kT0 + Days(7), "r"));
    absl::StatusOr<std::vector<RecipientEvent>> b = Decide(
        command, first.recipient, first.sequence, Ctx(kT0 + Days(7), "r"));
    ASSERT_EQ(a.status(), b.status());
    if (a.ok()) {
      EXPECT_EQ(DescribeAll(*a), DescribeAll(*b));
    }
  }
  ExpectSameRecipient(first.recipient, snapshot);
}

TEST(FoldTest, EventsCarryTheContext) {
  Life life = Enrolled(Three());
  ASSIGN_OR_FAIL(
      std::vector<RecipientEvent> events,
      Decide(PauseRecipient{}, life.recipient, life.sequence,
             DecisionContext{"tenant-9", "bob", "req-42", kT0 + Days(1)}));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].metadata.tenant_id, "tenant-9");
  EXPECT_EQ(events[0].metadata.actor, "bob");
  EXPECT_EQ(events[0].metadata.request_id, "req-42");
  EXPECT_EQ(events[0].metadata.occurred_at, kT0 + Days(1));
  EXPECT_EQ(EventName(events[0].payload), "Paused");
}

}  // namespace
}  // namespace sequencer::domain::test

namespace sequencer::domain::test {
namespace {

// ---- Delivery results that arrive late (a send that had begun).

TEST(LateResultTest, CompletionWhilePausedKeepsPausedAndDelayStartsAtResume) {
  Life life = Enrolled(Three());
  life.Do(PauseRecipient{}, kT0 + Days(3));
  const absl::Time sent = kT0 + Days(3) + absl::Minutes(1);
  life.Apply(
      {At(sent, StepCompleted{0, StepContent{"Hi Alice", "Hello", "", ""}, "m1",
                              Advance{1, RecipientStatus::kInProgress,
                                      sent + Days(2), false},
                              ""})});
  EXPECT_EQ(life.recipient.status, RecipientStatus::kPaused);
  EXPECT_EQ(life.recipient.current_step, 1);
  EXPECT_EQ(life.recipient.steps[0].state, StepState::kCompleted);
  EXPECT_EQ(life.recipient.remaining_delay, Days(2));
  life.Do(ResumeRecipient{}, kT0 + Days(10));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kInProgress);
  EXPECT_EQ(life.recipient.due_at, kT0 + Days(12));
}

TEST(LateResultTest, FailureWhilePausedRetriesAtResume) {
  Life life = Enrolled(Three());
  life.Do(PauseRecipient{}, kT0 + Days(3));
  life.Apply({At(kT0 + Days(3), StepFailed{0, "smtp 451", ""})});
  EXPECT_EQ(life.recipient.status, RecipientStatus::kPaused);
  EXPECT_EQ(life.recipient.paused_from, RecipientStatus::kError);
  life.Do(ResumeRecipient{}, kT0 + Days(4));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kInProgress);
  EXPECT_EQ(life.recipient.due_at, kT0 + Days(4));
  EXPECT_EQ(life.recipient.current_step, 0);
}

TEST(LateResultTest, ResultsAfterStopAreRecordedWithoutChangingStatus) {
  Life life = Enrolled(Three());
  life.Do(StopRecipient{}, kT0 + Days(3));
  life.Apply(
      {At(kT0 + Days(3), StepCompleted{0, StepContent{"Hi", "B", "", ""}, "m1",
                                       Advance{1, RecipientStatus::kInProgress,
                                               kT0 + Days(5), false},
                                       ""})});
  EXPECT_EQ(life.recipient.status, RecipientStatus::kStopped);
  EXPECT_EQ(life.recipient.steps[0].state, StepState::kCompleted);
  EXPECT_EQ(life.recipient.current_step, 0);
  life.Apply({At(kT0 + Days(3), StepFailed{1, "late", ""})});
  EXPECT_EQ(life.recipient.status, RecipientStatus::kStopped);
  ExpectSameRecipient(Fold(Recipient{}, life.events), life.recipient);
}

}  // namespace
}  // namespace sequencer::domain::test
