// The action-by-status table of the product contract (shared/spec/product.md),
// cell by cell, for AvailableActions, CheckActionAvailable and the decisions
// themselves; and the sequence-paused rule for every status. Each status is
// reached by folding the events decisions produce.

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "domain/recipient.h"
#include "domain/refusal.h"
#include "gtest/gtest.h"
#include "tests/domain/domain_test_helpers.h"
#include "tests/util/status_matchers.h"
#include "tests/util/test_util.h"

namespace sequencer::domain::test {
namespace {

using ::sequencer::testing::StatusIs;

// Step 0: email after 1 day; step 1: a task due at once; step 2: email after 2
// days.
Sequence TableSequence(bool stop_on_response) {
  return MakeSequence(
      {Email(Days(1)), Task(absl::ZeroDuration()), Email(Days(2))},
      stop_on_response);
}

const absl::Time kLater = kT0 + absl::Hours(3);

Life InProgress() { return Enrolled(TableSequence(true)); }
Life PendingAction() {
  Life life = Enrolled(TableSequence(true));
  life.Do(SkipStep{}, kT0 + absl::Hours(1));
  return life;
}
Life PausedLife() {
  Life life = Enrolled(TableSequence(true));
  life.Do(PauseRecipient{}, kT0 + absl::Hours(1));
  return life;
}
Life ErrorLife() {
  Life life = Enrolled(TableSequence(true));
  life.Apply(
      {At(kT0 + Days(1), StepFailed{0, "missing variable {{company}}", ""})});
  return life;
}
Life FinishedLife() {
  Life life = Enrolled(TableSequence(true));
  life.Apply(
      {At(kT0 + Days(1),
          StepCompleted{
              0, StepContent{"Hi Alice", "Hello", "", ""}, "msg-1",
              Advance{1, RecipientStatus::kPendingAction, std::nullopt, true},
              ""})});
  life.Do(CompleteManualStep{}, kT0 + Days(2));
  life.Apply(
      {At(kT0 + Days(4),
          StepCompleted{
              2, StepContent{"Hi", "Again", "", ""}, "msg-2",
              Advance{3, RecipientStatus::kFinished, std::nullopt, false}, ""}),
       At(kT0 + Days(4), Finished{})});
  return life;
}
Life Signalled(bool stop_on_response, SignalType signal) {
  Life life = Enrolled(TableSequence(stop_on_response));
  life.Do(RecordSignal{signal, "signal detail"}, kT0 + absl::Hours(2));
  return life;
}
Life StoppedLife() {
  Life life = Enrolled(TableSequence(true));
  life.Do(StopRecipient{}, kT0 + absl::Hours(1));
  return life;
}

// The seven columns of the table, in order.
constexpr Action kColumns[] = {Action::kPause,       Action::kResume,
                               Action::kSkipStep,    Action::kEditContent,
                               Action::kViewContent, Action::kStop,
                               Action::kDelete};

struct Row {
  std::string name;
  std::function<Life()> make;
  RecipientStatus status;
  bool stopped_by_rule;
  // Pause, Resume, Skip, Edit, View, Stop, Delete.
  std::vector<bool> allowed;
  // CompleteManualStep: available, else its reason.
  bool can_complete;
  std::optional<RefusalReason> complete_reason;
};

void PrintTo(const Row& row, std::ostream* os) { *os << row.name; }

std::vector<Row> Rows() {
  const std::vector<bool> running = {true,  false, true, true,
                                     false, true,  true};
  const std::vector<bool> final_row = {false, false, false, false,
                                       true,  false, true};
  const std::vector<bool> running_signal = {true, false, true, true,
                                            true, true,  true};
  return {
      {"InProgress", InProgress, RecipientStatus::kInProgress, false, running,
       false, RefusalReason::kNotAPendingManualStep},
      {"PendingAction", PendingAction, RecipientStatus::kPendingAction, false,
       running, true, std::nullopt},
      {"Paused",
       PausedLife,
       RecipientStatus::kPaused,
       false,
       {false, true, false, false, true, true, true},
       false,
       RefusalReason::kActionNotAvailable},
      {"Error", ErrorLife, RecipientStatus::kError, false, running, false,
       RefusalReason::kNotAPendingManualStep},
      {"Finished", FinishedLife, RecipientStatus::kFinished, false, final_row,
       false, RefusalReason::kActionNotAvailable},
      {"RespondedStoppedByRule",
       [] { return Signalled(true, SignalType::kReply); },
       RecipientStatus::kResponded, true, final_row, false,
       RefusalReason::kActionNotAvailable},
      {"MeetingBookedStoppedByRule",
       [] { return Signalled(true, SignalType::kMeetingBooked); },
       RecipientStatus::kMeetingBooked, true, final_row, false,
       RefusalReason::kActionNotAvailable},
      {"RespondedRunning", [] { return Signalled(false, SignalType::kReply); },
       RecipientStatus::kResponded, false, running_signal, false,
       RefusalReason::kNotAPendingManualStep},
      {"MeetingBookedRunning",
       [] { return Signalled(false, SignalType::kMeetingBooked); },
       RecipientStatus::kMeetingBooked, false, running_signal, false,
       RefusalReason::kNotAPendingManualStep},
      {"Bounced", [] { return Signalled(true, SignalType::kBounce); },
       RecipientStatus::kBounced, false, final_row, false,
       RefusalReason::kActionNotAvailable},
      {"Stopped", StoppedLife, RecipientStatus::kStopped, false, final_row,
       false, RefusalReason::kActionNotAvailable},
      {"Unsubscribed", [] { return Signalled(true, SignalType::kUnsubscribe); },
       RecipientStatus::kUnsubscribed, false, final_row, false,
       RefusalReason::kActionNotAvailable},
  };
}

// Runs `action` through its decision (View: ViewContent); the status and the
// first event's name.
struct Outcome {
  absl::Status status;
  std::string first_event;
};
Outcome Attempt(Action action, const Life& life, const Sequence& sequence,
                absl::Time now) {
  if (action == Action::kViewContent) {
    absl::StatusOr<std::vector<StepView>> views =
        ViewContent(life.recipient, sequence, now);
    return {views.status(), views.ok() ? "views" : ""};
  }
  RecipientCommand command;
  switch (action) {
    case Action::kPause:
      command = PauseRecipient{};
      break;
    case Action::kResume:
      command = ResumeRecipient{};
      break;
    case Action::kSkipStep:
      command = SkipStep{};
      break;
    case Action::kEditContent: {
      EditContent edit;
      edit.step_index = 2;
      edit.edit.subject = "A better subject for {{first_name}}";
      command = edit;
      break;
    }
    case Action::kStop:
      command = StopRecipient{};
      break;
    case Action::kDelete:
      command = DeleteRecipient{};
      break;
    case Action::kCompleteManualStep:
      command = CompleteManualStep{};
      break;
    case Action::kViewContent:
      break;
  }
  absl::StatusOr<std::vector<RecipientEvent>> events =
      Decide(command, life.recipient, sequence, Ctx(now));
  if (!events.ok()) return {events.status(), ""};
  if (events->empty()) return {absl::OkStatus(), "<none>"};
  return {absl::OkStatus(), std::string(EventName(events->front().payload))};
}

std::string ExpectedEvent(Action action) {
  switch (action) {
    case Action::kPause:
      return "Paused";
    case Action::kResume:
      return "Resumed";
    case Action::kSkipStep:
      return "StepSkipped";
    case Action::kEditContent:
      return "ContentEdited";
    case Action::kViewContent:
      return "views";
    case Action::kStop:
      return "Stopped";
    case Action::kDelete:
      return "Deleted";
    case Action::kCompleteManualStep:
      return "ManualStepCompleted";
  }
  return "";
}

void ExpectRefusal(const absl::Status& status, RefusalReason reason,
                   const Row& row, Action action) {
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition))
      << status;
  std::optional<Refusal> refusal = GetRefusal(status);
  ASSERT_TRUE(refusal.has_value()) << status;
  EXPECT_EQ(refusal->reason, reason);
  EXPECT_EQ(refusal->metadata["status"], std::string(StatusName(row.status)));
  EXPECT_EQ(refusal->metadata["action"], std::string(ActionName(action)));
  if (row.stopped_by_rule) {
    EXPECT_EQ(refusal->metadata["stopped_by_rule"], "true");
  } else {
    EXPECT_EQ(refusal->metadata.count("stopped_by_rule"), 0u);
  }
}

class ActionTableTest : public ::testing::TestWithParam<Row> {};

TEST_P(ActionTableTest, StatusIsReachedByFoldingEvents) {
  const Row& row = GetParam();
  Life life = row.make();
  EXPECT_EQ(life.recipient.status, row.status);
  EXPECT_EQ(life.recipient.stopped_by_rule, row.stopped_by_rule);
  EXPECT_EQ(Fold(Recipient{}, life.events).status, row.status);
}

TEST_P(ActionTableTest, AvailableActionsMatchesEveryCell) {
  const Row& row = GetParam();
  Life life = row.make();
  std::vector<ActionAvailability> actions =
      AvailableActions(life.recipient, life.sequence);
  ASSERT_EQ(actions.size(), std::size(kAllActions));
  for (size_t i = 0; i < std::size(kColumns); ++i) {
    SCOPED_TRACE(std::string(ActionName(kColumns[i])));
    EXPECT_EQ(actions[i].action, kColumns[i]);
    EXPECT_EQ(actions[i].available, row.allowed[i]);
    if (row.allowed[i]) {
      EXPECT_FALSE(actions[i].reason.has_value());
    } else {
      EXPECT_EQ(actions[i].reason, RefusalReason::kActionNotAvailable);
      EXPECT_NE(actions[i].message.find(std::string(StatusName(row.status))),
                std::string::npos)
          << actions[i].message;
    }
  }
  const ActionAvailability& complete = actions.back();
  EXPECT_EQ(complete.action, Action::kCompleteManualStep);
  EXPECT_EQ(complete.available, row.can_complete);
  EXPECT_EQ(complete.reason, row.complete_reason);
}

TEST_P(ActionTableTest, DecideMatchesEveryCell) {
  const Row& row = GetParam();
  Life life = row.make();
  for (size_t i = 0; i < std::size(kColumns); ++i) {
    const Action action = kColumns[i];
    SCOPED_TRACE(std::string(ActionName(action)));
    Outcome outcome = Attempt(action, life, life.sequence, kLater);
    SEQ_EXPECT_OK(
        CheckActionAvailable(action, life.recipient, life.sequence).ok() ==
                row.allowed[i]
            ? absl::OkStatus()
            : absl::InternalError(
                  "CheckActionAvailable disagrees with the table"));
    if (row.allowed[i]) {
      SEQ_EXPECT_OK(outcome.status);
      EXPECT_EQ(outcome.first_event, ExpectedEvent(action));
    } else {
      ExpectRefusal(outcome.status, RefusalReason::kActionNotAvailable, row,
                    action);
      EXPECT_EQ(CheckActionAvailable(action, life.recipient, life.sequence),
                outcome.status);
    }
  }
  Outcome complete =
      Attempt(Action::kCompleteManualStep, life, life.sequence, kLater);
  if (row.can_complete) {
    SEQ_EXPECT_OK(complete.status);
    EXPECT_EQ(complete.first_event, "ManualStepCompleted");
  } else {
    ASSERT_TRUE(row.complete_reason.has_value());
    ExpectRefusal(complete.status, *row.complete_reason, row,
                  Action::kCompleteManualStep);
  }
}

TEST_P(ActionTableTest, RefusalMessageNamesActionAndStatus) {
  const Row& row = GetParam();
  Life life = row.make();
  absl::Status status =
      CheckActionAvailable(Action::kResume, life.recipient, life.sequence);
  if (row.status == RecipientStatus::kPaused) {
    SEQ_EXPECT_OK(status);
    return;
  }
  EXPECT_NE(status.message().find(
                "Resume is not available for a recipient in status " +
                std::string(StatusName(row.status))),
            absl::string_view::npos)
      << status;
}

TEST_P(ActionTableTest, SequencePausedRule) {
  const Row& row = GetParam();
  Life life = row.make();
  const Sequence paused = PauseSequence(life.sequence, kT0 + absl::Hours(2));
  ASSERT_TRUE(paused.paused);
  std::vector<ActionAvailability> actions =
      AvailableActions(life.recipient, paused);
  for (size_t i = 0; i < std::size(kColumns); ++i) {
    const Action action = kColumns[i];
    SCOPED_TRACE(std::string(ActionName(action)));
    Outcome outcome = Attempt(action, life, paused, kLater);
    const bool blocked_by_sequence = action == Action::kPause ||
                                     action == Action::kResume ||
                                     action == Action::kSkipStep;
    if (blocked_by_sequence) {
      EXPECT_FALSE(actions[i].available);
      EXPECT_EQ(actions[i].reason, RefusalReason::kSequencePaused);
      EXPECT_NE(
          actions[i].message.find("not available while the sequence is paused"),
          std::string::npos)
          << actions[i].message;
      ExpectRefusal(outcome.status, RefusalReason::kSequencePaused, row,
                    action);
    } else {
      EXPECT_EQ(actions[i].available, row.allowed[i]);
      if (row.allowed[i]) {
        SEQ_EXPECT_OK(outcome.status);
        EXPECT_EQ(outcome.first_event, ExpectedEvent(action));
      } else {
        ExpectRefusal(outcome.status, RefusalReason::kActionNotAvailable, row,
                      action);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryStatus, ActionTableTest,
                         ::testing::ValuesIn(Rows()),
                         [](const ::testing::TestParamInfo<Row>& info) {
                           return info.param.name;
                         });

TEST(ActionTableExtraTest, RunningRespondedWithDueManualStepCanCompleteIt) {
  Life life = Enrolled(TableSequence(false));
  life.Do(RecordSignal{SignalType::kReply, ""}, kT0 + absl::Hours(1));
  life.Do(SkipStep{}, kT0 + absl::Hours(2));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kResponded);
  EXPECT_TRUE(life.recipient.awaiting_manual_action);
  EXPECT_TRUE(life.recipient.IsRunning());
  SEQ_EXPECT_OK(CheckActionAvailable(Action::kCompleteManualStep,
                                     life.recipient, life.sequence));
  life.Do(CompleteManualStep{1}, kT0 + absl::Hours(3));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kResponded);
  EXPECT_EQ(life.recipient.current_step, 2);
  EXPECT_EQ(life.recipient.due_at, kT0 + absl::Hours(3) + Days(2));
}

TEST(ActionTableExtraTest, CompleteManualStepWithWrongIndexIsRefused) {
  Life life = PendingAction();
  absl::StatusOr<std::vector<RecipientEvent>> events =
      Decide(CompleteManualStep{2}, life.recipient, life.sequence, Ctx(kLater));
  EXPECT_THAT(events.status(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(ReasonOf(events.status()), RefusalReason::kNotAPendingManualStep);
}

TEST(ActionTableExtraTest, DeletedOrUnknownRecipientIsNotFound) {
  Life life = InProgress();
  life.Do(DeleteRecipient{}, kLater);
  EXPECT_TRUE(life.recipient.deleted);
  for (const Recipient& gone : {life.recipient, Recipient{}}) {
    EXPECT_THAT(
        Decide(PauseRecipient{}, gone, life.sequence, Ctx(kLater)).status(),
        StatusIs(absl::StatusCode::kNotFound));
    EXPECT_THAT(
        Decide(DeleteRecipient{}, gone, life.sequence, Ctx(kLater)).status(),
        StatusIs(absl::StatusCode::kNotFound));
    EXPECT_THAT(ViewContent(gone, life.sequence, kLater).status(),
                StatusIs(absl::StatusCode::kNotFound));
    EXPECT_THAT(PreviewSkip(gone, life.sequence, kLater).status(),
                StatusIs(absl::StatusCode::kNotFound));
    EXPECT_THAT(CheckActionAvailable(Action::kDelete, gone, life.sequence),
                StatusIs(absl::StatusCode::kNotFound));
    for (const ActionAvailability& a : AvailableActions(gone, life.sequence)) {
      EXPECT_FALSE(a.available);
    }
  }
}

}  // namespace
}  // namespace sequencer::domain::test
