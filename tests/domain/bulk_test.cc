// DecideBulk: one action on many recipients of one sequence, all or nothing.
// Every action; every offender listed with its status and reason; the bulk-only
// Pause rule (PENDING_ACTION and running RESPONDED/MEETING_BOOKED refused);
// the sequence-paused rule; NOT_FOUND for deleted or unknown recipients;
// count_by_status; invalid edits. States are reached by folding the events
// real decisions produce.

#include "domain/bulk.h"

#include <map>
#include <string>
#include <variant>
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
Sequence BulkSequence(bool stop_on_response = true) {
  return MakeSequence(
      {Email(Days(1)), Task(absl::ZeroDuration()), Email(Days(2))},
      stop_on_response);
}

EnrollRecipient Person(const std::string& id) {
  EnrollRecipient command = Alice();
  command.recipient_id = id;
  command.contact.email = id + "@corp.example";
  return command;
}

const absl::Time kNow = kT0 + absl::Hours(5);

Life InProgress(const std::string& id, const Sequence& seq) {
  return Enrolled(seq, kT0, Person(id));
}
Life PendingAction(const std::string& id, const Sequence& seq) {
  Life life = Enrolled(seq, kT0, Person(id));
  life.Do(SkipStep{}, kT0 + absl::Hours(1));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kPendingAction);
  return life;
}
Life PausedLife(const std::string& id, const Sequence& seq) {
  Life life = Enrolled(seq, kT0, Person(id));
  life.Do(PauseRecipient{}, kT0 + absl::Hours(1));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kPaused);
  return life;
}
Life ErrorLife(const std::string& id, const Sequence& seq) {
  Life life = Enrolled(seq, kT0, Person(id));
  life.Apply({At(kT0 + Days(1), StepFailed{0, "provider said no", ""})});
  EXPECT_EQ(life.recipient.status, RecipientStatus::kError);
  return life;
}
Life FinishedLife(const std::string& id, const Sequence& seq) {
  Life life = Enrolled(seq, kT0, Person(id));
  life.Apply(
      {At(kT0 + Days(1),
          StepCompleted{
              0, StepContent{"Hi Alice", "Hello", "", ""}, "msg-1",
              Advance{1, RecipientStatus::kPendingAction, std::nullopt, true},
              ""})});
  life.Do(CompleteManualStep{}, kT0 + Days(1));
  life.Apply(
      {At(kT0 + Days(3),
          StepCompleted{
              2, StepContent{"Hi", "Again", "", ""}, "msg-2",
              Advance{3, RecipientStatus::kFinished, std::nullopt, false}, ""}),
       At(kT0 + Days(3), domain::Finished{})});
  EXPECT_EQ(life.recipient.status, RecipientStatus::kFinished);
  return life;
}
Life Signalled(const std::string& id, const Sequence& seq, SignalType signal) {
  Life life = Enrolled(seq, kT0, Person(id));
  life.Do(RecordSignal{signal, "detail"}, kT0 + absl::Hours(2));
  return life;
}
Life StoppedLife(const std::string& id, const Sequence& seq) {
  Life life = Enrolled(seq, kT0, Person(id));
  life.Do(StopRecipient{}, kT0 + absl::Hours(1));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kStopped);
  return life;
}
Life DeletedLife(const std::string& id, const Sequence& seq) {
  Life life = Enrolled(seq, kT0, Person(id));
  life.Do(DeleteRecipient{}, kT0 + absl::Hours(1));
  EXPECT_TRUE(life.recipient.deleted);
  return life;
}
Recipient Ghost(const std::string& id) {
  Recipient ghost;
  ghost.recipient_id = id;
  return ghost;
}

std::vector<Recipient> States(const std::vector<Life>& lives) {
  std::vector<Recipient> out;
  for (const Life& life : lives) out.push_back(life.recipient);
  return out;
}

BulkCommand Command(BulkAction action) {
  BulkCommand command;
  command.action = action;
  return command;
}

BulkCommand EditCommand(int step_index, ContentEdit edit) {
  BulkCommand command;
  command.action = BulkAction::kEditContent;
  command.edit.step_index = step_index;
  command.edit.edit = std::move(edit);
  return command;
}

std::map<std::string, BulkOffender> ById(const BulkDecision& decision) {
  std::map<std::string, BulkOffender> out;
  for (const BulkOffender& offender : decision.offenders) {
    EXPECT_TRUE(out.emplace(offender.recipient_id, offender).second)
        << "listed twice: " << offender.recipient_id;
  }
  return out;
}

template <typename T>
bool HasEvent(const std::vector<RecipientEvent>& events) {
  for (const RecipientEvent& event : events) {
    if (std::holds_alternative<T>(event.payload)) return true;
  }
  return false;
}

// Every per-recipient event list, folded over the recipient's state, gives
// the same state the single action gives.
void ExpectEventsLikeSingle(const BulkDecision& decision,
                            const std::vector<Life>& lives,
                            const RecipientCommand& single,
                            const Sequence& sequence) {
  ASSERT_EQ(decision.events.size(), lives.size());
  for (size_t i = 0; i < lives.size(); ++i) {
    SCOPED_TRACE(lives[i].recipient.recipient_id);
    absl::StatusOr<std::vector<RecipientEvent>> alone =
        Decide(single, lives[i].recipient, sequence, Ctx(kNow));
    ASSERT_TRUE(alone.ok()) << alone.status();
    ASSERT_FALSE(decision.events[i].empty());
    ExpectSameRecipient(Fold(lives[i].recipient, decision.events[i]),
                        Fold(lives[i].recipient, *alone));
    for (const RecipientEvent& event : decision.events[i]) {
      EXPECT_EQ(event.metadata.request_id, "req-1");
      EXPECT_EQ(event.metadata.occurred_at, kNow);
      EXPECT_EQ(event.metadata.tenant_id, "tenant-1");
    }
  }
}

TEST(BulkTest, NamesAndConfirmation) {
  EXPECT_EQ(BulkActionName(BulkAction::kPause), "BULK_ACTION_TYPE_PAUSE");
  EXPECT_EQ(BulkActionName(BulkAction::kResume), "BULK_ACTION_TYPE_RESUME");
  EXPECT_EQ(BulkActionName(BulkAction::kSkipStep),
            "BULK_ACTION_TYPE_SKIP_STEP");
  EXPECT_EQ(BulkActionName(BulkAction::kStop), "BULK_ACTION_TYPE_STOP");
  EXPECT_EQ(BulkActionName(BulkAction::kDelete), "BULK_ACTION_TYPE_DELETE");
  EXPECT_EQ(BulkActionName(BulkAction::kEditContent),
            "BULK_ACTION_TYPE_EDIT_CONTENT");
  EXPECT_TRUE(NeedsConfirmation(BulkAction::kStop));
  EXPECT_TRUE(NeedsConfirmation(BulkAction::kDelete));
  EXPECT_FALSE(NeedsConfirmation(BulkAction::kPause));
  EXPECT_FALSE(NeedsConfirmation(BulkAction::kResume));
  EXPECT_FALSE(NeedsConfirmation(BulkAction::kSkipStep));
  EXPECT_FALSE(NeedsConfirmation(BulkAction::kEditContent));
}

TEST(BulkTest, PauseOfInProgressAndErrorPausesEach) {
  const Sequence seq = BulkSequence();
  const std::vector<Life> lives = {InProgress("a", seq), ErrorLife("b", seq),
                                   InProgress("c", seq)};
  ASSIGN_OR_FAIL(
      BulkDecision decision,
      DecideBulk(Command(BulkAction::kPause), States(lives), seq, Ctx(kNow)));
  EXPECT_TRUE(decision.offenders.empty());
  ExpectEventsLikeSingle(decision, lives, PauseRecipient{}, seq);
  for (size_t i = 0; i < lives.size(); ++i) {
    const Recipient after = Fold(lives[i].recipient, decision.events[i]);
    EXPECT_EQ(after.status, RecipientStatus::kPaused);
    EXPECT_FALSE(after.paused_by_sequence);
    EXPECT_TRUE(HasEvent<domain::Paused>(decision.events[i]));
  }
  EXPECT_EQ(Fold(lives[1].recipient, decision.events[1]).paused_from,
            RecipientStatus::kError);
  EXPECT_EQ(decision.count_by_status,
            (std::map<std::string, int>{{"RECIPIENT_STATUS_IN_PROGRESS", 2},
                                        {"RECIPIENT_STATUS_ERROR", 1}}));
}

TEST(BulkTest, PauseRefusesPendingActionThoughTheSingleActionAllowsIt) {
  const Sequence seq = BulkSequence();
  const std::vector<Life> lives = {
      InProgress("a", seq), PendingAction("p", seq), InProgress("c", seq)};
  // The single action allows it.
  SEQ_ASSERT_OK(lives[1].Try(PauseRecipient{}, kNow));

  ASSIGN_OR_FAIL(
      BulkDecision decision,
      DecideBulk(Command(BulkAction::kPause), States(lives), seq, Ctx(kNow)));
  EXPECT_TRUE(decision.events.empty()) << "all or nothing";
  ASSERT_EQ(decision.offenders.size(), 1u);
  const BulkOffender& offender = decision.offenders[0];
  EXPECT_EQ(offender.recipient_id, "p");
  EXPECT_TRUE(offender.exists);
  EXPECT_EQ(offender.status, RecipientStatus::kPendingAction);
  EXPECT_EQ(offender.reason, RefusalReason::kBulkPauseNeedsInProgressOrError);
  EXPECT_FALSE(offender.message.empty());
  EXPECT_EQ(
      decision.count_by_status,
      (std::map<std::string, int>{{"RECIPIENT_STATUS_IN_PROGRESS", 2},
                                  {"RECIPIENT_STATUS_PENDING_ACTION", 1}}));
}

TEST(BulkTest, PauseRefusesRunningRespondedAndMeetingBooked) {
  const Sequence seq = BulkSequence(/*stop_on_response=*/false);
  const std::vector<Life> lives = {
      InProgress("a", seq), Signalled("r", seq, SignalType::kReply),
      Signalled("m", seq, SignalType::kMeetingBooked)};
  ASSERT_EQ(lives[1].recipient.status, RecipientStatus::kResponded);
  ASSERT_FALSE(lives[1].recipient.stopped_by_rule);
  ASSERT_EQ(lives[2].recipient.status, RecipientStatus::kMeetingBooked);
  SEQ_ASSERT_OK(lives[1].Try(PauseRecipient{}, kNow));
  SEQ_ASSERT_OK(lives[2].Try(PauseRecipient{}, kNow));

  ASSIGN_OR_FAIL(
      BulkDecision decision,
      DecideBulk(Command(BulkAction::kPause), States(lives), seq, Ctx(kNow)));
  EXPECT_TRUE(decision.events.empty());
  std::map<std::string, BulkOffender> offenders = ById(decision);
  ASSERT_EQ(offenders.size(), 2u);
  EXPECT_EQ(offenders["r"].status, RecipientStatus::kResponded);
  EXPECT_FALSE(offenders["r"].stopped_by_rule);
  EXPECT_EQ(offenders["r"].reason,
            RefusalReason::kBulkPauseNeedsInProgressOrError);
  EXPECT_EQ(offenders["m"].status, RecipientStatus::kMeetingBooked);
  EXPECT_EQ(offenders["m"].reason,
            RefusalReason::kBulkPauseNeedsInProgressOrError);
}

TEST(BulkTest, PauseListsEveryOffenderWithStatusAndReason) {
  const Sequence seq = BulkSequence();
  std::vector<Life> lives = {InProgress("ok1", seq),
                             PausedLife("paused", seq),
                             PendingAction("pending", seq),
                             FinishedLife("finished", seq),
                             StoppedLife("stopped", seq),
                             Signalled("bounced", seq, SignalType::kBounce),
                             Signalled("replied", seq, SignalType::kReply),
                             DeletedLife("deleted", seq),
                             ErrorLife("ok2", seq)};
  std::vector<Recipient> states = States(lives);
  states.push_back(Ghost("ghost"));

  ASSIGN_OR_FAIL(BulkDecision decision, DecideBulk(Command(BulkAction::kPause),
                                                   states, seq, Ctx(kNow)));
  EXPECT_TRUE(decision.events.empty());
  std::map<std::string, BulkOffender> offenders = ById(decision);
  ASSERT_EQ(offenders.size(), 8u);
  EXPECT_EQ(offenders.count("ok1"), 0u);
  EXPECT_EQ(offenders.count("ok2"), 0u);
  const std::map<std::string, RecipientStatus> expected = {
      {"paused", RecipientStatus::kPaused},
      {"pending", RecipientStatus::kPendingAction},
      {"finished", RecipientStatus::kFinished},
      {"stopped", RecipientStatus::kStopped},
      {"bounced", RecipientStatus::kBounced},
      {"replied", RecipientStatus::kResponded}};
  for (const auto& [id, status] : expected) {
    SCOPED_TRACE(id);
    EXPECT_TRUE(offenders[id].exists);
    EXPECT_EQ(offenders[id].status, status);
    EXPECT_EQ(offenders[id].reason,
              RefusalReason::kBulkPauseNeedsInProgressOrError);
    EXPECT_FALSE(offenders[id].message.empty());
  }
  EXPECT_TRUE(offenders["replied"].stopped_by_rule);
  for (const std::string id : {"deleted", "ghost"}) {
    SCOPED_TRACE(id);
    EXPECT_FALSE(offenders[id].exists);
    EXPECT_EQ(offenders[id].reason, RefusalReason::kNotFound);
  }
  // Offenders come in selection order.
  std::vector<std::string> order;
  for (const BulkOffender& offender : decision.offenders)
    order.push_back(offender.recipient_id);
  EXPECT_EQ(order, (std::vector<std::string>{"paused", "pending", "finished",
                                             "stopped", "bounced", "replied",
                                             "deleted", "ghost"}));
}

TEST(BulkTest, ResumeNeedsEveryRecipientPaused) {
  const Sequence seq = BulkSequence();
  const std::vector<Life> paused = {PausedLife("a", seq), PausedLife("b", seq)};
  ASSIGN_OR_FAIL(BulkDecision ok, DecideBulk(Command(BulkAction::kResume),
                                             States(paused), seq, Ctx(kNow)));
  EXPECT_TRUE(ok.offenders.empty());
  ExpectEventsLikeSingle(ok, paused, ResumeRecipient{}, seq);
  for (size_t i = 0; i < paused.size(); ++i) {
    EXPECT_TRUE(HasEvent<domain::Resumed>(ok.events[i]));
    EXPECT_EQ(Fold(paused[i].recipient, ok.events[i]).status,
              RecipientStatus::kInProgress);
  }
  EXPECT_EQ(ok.count_by_status,
            (std::map<std::string, int>{{"RECIPIENT_STATUS_PAUSED", 2}}));

  const std::vector<Life> mixed = {PausedLife("a", seq), InProgress("b", seq),
                                   PendingAction("c", seq)};
  ASSIGN_OR_FAIL(
      BulkDecision refused,
      DecideBulk(Command(BulkAction::kResume), States(mixed), seq, Ctx(kNow)));
  EXPECT_TRUE(refused.events.empty());
  std::map<std::string, BulkOffender> offenders = ById(refused);
  ASSERT_EQ(offenders.size(), 2u);
  EXPECT_EQ(offenders["b"].status, RecipientStatus::kInProgress);
  EXPECT_EQ(offenders["b"].reason, RefusalReason::kActionNotAvailable);
  EXPECT_EQ(offenders["c"].status, RecipientStatus::kPendingAction);
  EXPECT_EQ(offenders["c"].reason, RefusalReason::kActionNotAvailable);
}

TEST(BulkTest, SkipStepFollowsTheSingleRule) {
  const Sequence seq = BulkSequence();
  const std::vector<Life> lives = {
      InProgress("a", seq), PendingAction("b", seq), ErrorLife("c", seq)};
  ASSIGN_OR_FAIL(BulkDecision ok, DecideBulk(Command(BulkAction::kSkipStep),
                                             States(lives), seq, Ctx(kNow)));
  EXPECT_TRUE(ok.offenders.empty());
  ExpectEventsLikeSingle(ok, lives, SkipStep{}, seq);
  for (size_t i = 0; i < lives.size(); ++i) {
    EXPECT_TRUE(HasEvent<StepSkipped>(ok.events[i]));
    EXPECT_EQ(Fold(lives[i].recipient, ok.events[i]).current_step,
              lives[i].recipient.current_step + 1);
  }

  const std::vector<Life> mixed = {InProgress("a", seq), PausedLife("b", seq),
                                   FinishedLife("c", seq)};
  ASSIGN_OR_FAIL(BulkDecision refused,
                 DecideBulk(Command(BulkAction::kSkipStep), States(mixed), seq,
                            Ctx(kNow)));
  EXPECT_TRUE(refused.events.empty());
  std::map<std::string, BulkOffender> offenders = ById(refused);
  ASSERT_EQ(offenders.size(), 2u);
  EXPECT_EQ(offenders["b"].status, RecipientStatus::kPaused);
  EXPECT_EQ(offenders["b"].reason, RefusalReason::kActionNotAvailable);
  EXPECT_EQ(offenders["c"].status, RecipientStatus::kFinished);
  EXPECT_EQ(offenders["c"].reason, RefusalReason::kActionNotAvailable);
}

TEST(BulkTest, StopFollowsTheSingleRule) {
  const Sequence seq = BulkSequence();
  const std::vector<Life> lives = {InProgress("a", seq), PausedLife("b", seq),
                                   PendingAction("c", seq),
                                   ErrorLife("d", seq)};
  ASSIGN_OR_FAIL(BulkDecision ok, DecideBulk(Command(BulkAction::kStop),
                                             States(lives), seq, Ctx(kNow)));
  EXPECT_TRUE(ok.offenders.empty());
  ExpectEventsLikeSingle(ok, lives, StopRecipient{}, seq);
  for (size_t i = 0; i < lives.size(); ++i) {
    EXPECT_TRUE(HasEvent<domain::Stopped>(ok.events[i]));
    EXPECT_EQ(Fold(lives[i].recipient, ok.events[i]).status,
              RecipientStatus::kStopped);
  }
  EXPECT_EQ(ok.count_by_status,
            (std::map<std::string, int>{{"RECIPIENT_STATUS_IN_PROGRESS", 1},
                                        {"RECIPIENT_STATUS_PAUSED", 1},
                                        {"RECIPIENT_STATUS_PENDING_ACTION", 1},
                                        {"RECIPIENT_STATUS_ERROR", 1}}));

  const std::vector<Life> mixed = {InProgress("a", seq), StoppedLife("b", seq),
                                   FinishedLife("c", seq)};
  ASSIGN_OR_FAIL(
      BulkDecision refused,
      DecideBulk(Command(BulkAction::kStop), States(mixed), seq, Ctx(kNow)));
  EXPECT_TRUE(refused.events.empty());
  std::map<std::string, BulkOffender> offenders = ById(refused);
  ASSERT_EQ(offenders.size(), 2u);
  EXPECT_EQ(offenders["b"].status, RecipientStatus::kStopped);
  EXPECT_EQ(offenders["b"].reason, RefusalReason::kActionNotAvailable);
  EXPECT_EQ(offenders["c"].status, RecipientStatus::kFinished);
}

TEST(BulkTest, DeleteWorksInEveryStatusButNotForTheDeleted) {
  const Sequence seq = BulkSequence();
  const std::vector<Life> lives = {
      InProgress("a", seq),
      PausedLife("b", seq),
      FinishedLife("c", seq),
      StoppedLife("d", seq),
      Signalled("e", seq, SignalType::kBounce),
      Signalled("f", seq, SignalType::kUnsubscribe)};
  ASSIGN_OR_FAIL(BulkDecision ok, DecideBulk(Command(BulkAction::kDelete),
                                             States(lives), seq, Ctx(kNow)));
  EXPECT_TRUE(ok.offenders.empty());
  ExpectEventsLikeSingle(ok, lives, DeleteRecipient{}, seq);
  for (size_t i = 0; i < lives.size(); ++i) {
    EXPECT_TRUE(HasEvent<domain::Deleted>(ok.events[i]));
    EXPECT_TRUE(Fold(lives[i].recipient, ok.events[i]).deleted);
  }
  EXPECT_EQ(ok.count_by_status,
            (std::map<std::string, int>{{"RECIPIENT_STATUS_IN_PROGRESS", 1},
                                        {"RECIPIENT_STATUS_PAUSED", 1},
                                        {"RECIPIENT_STATUS_FINISHED", 1},
                                        {"RECIPIENT_STATUS_STOPPED", 1},
                                        {"RECIPIENT_STATUS_BOUNCED", 1},
                                        {"RECIPIENT_STATUS_UNSUBSCRIBED", 1}}));

  std::vector<Recipient> states = {InProgress("a", seq).recipient,
                                   DeletedLife("gone", seq).recipient,
                                   Ghost("never")};
  ASSIGN_OR_FAIL(BulkDecision refused, DecideBulk(Command(BulkAction::kDelete),
                                                  states, seq, Ctx(kNow)));
  EXPECT_TRUE(refused.events.empty());
  std::map<std::string, BulkOffender> offenders = ById(refused);
  ASSERT_EQ(offenders.size(), 2u);
  EXPECT_FALSE(offenders["gone"].exists);
  EXPECT_EQ(offenders["gone"].reason, RefusalReason::kNotFound);
  EXPECT_FALSE(offenders["never"].exists);
  EXPECT_EQ(offenders["never"].reason, RefusalReason::kNotFound);
  // Absent recipients are not counted by status.
  EXPECT_EQ(refused.count_by_status,
            (std::map<std::string, int>{{"RECIPIENT_STATUS_IN_PROGRESS", 1}}));
}

TEST(BulkTest, EditContentAppliesTheSameEditToEach) {
  const Sequence seq = BulkSequence();
  ContentEdit edit;
  edit.subject = "New subject {{first_name}}";
  const std::vector<Life> lives = {
      InProgress("a", seq), PendingAction("b", seq), ErrorLife("c", seq)};
  ASSIGN_OR_FAIL(BulkDecision ok, DecideBulk(EditCommand(2, edit),
                                             States(lives), seq, Ctx(kNow)));
  EXPECT_TRUE(ok.offenders.empty());
  ExpectEventsLikeSingle(ok, lives, EditContent{2, edit}, seq);
  for (size_t i = 0; i < lives.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(HasEvent<ContentEdited>(ok.events[i]));
    const Recipient after = Fold(lives[i].recipient, ok.events[i]);
    ASSERT_GT(after.steps.size(), 2u);
    EXPECT_EQ(after.steps[2].override_content.subject,
              std::optional<std::string>("New subject {{first_name}}"));
    EXPECT_EQ(after.steps[0].override_content,
              lives[i].recipient.steps[0].override_content);
  }
}

TEST(BulkTest, EditContentListsRecipientsThatCannotEdit) {
  const Sequence seq = BulkSequence();
  ContentEdit edit;
  edit.body = "New body";
  // Step 0: "b" skipped it already; "c" is paused; "d" is finished.
  const std::vector<Life> lives = {
      InProgress("a", seq), PendingAction("b", seq), PausedLife("c", seq),
      FinishedLife("d", seq)};
  ASSIGN_OR_FAIL(
      BulkDecision refused,
      DecideBulk(EditCommand(0, edit), States(lives), seq, Ctx(kNow)));
  EXPECT_TRUE(refused.events.empty());
  std::map<std::string, BulkOffender> offenders = ById(refused);
  ASSERT_EQ(offenders.size(), 3u);
  EXPECT_EQ(offenders["b"].status, RecipientStatus::kPendingAction);
  EXPECT_EQ(offenders["b"].reason, RefusalReason::kStepNotEditable);
  EXPECT_EQ(offenders["c"].status, RecipientStatus::kPaused);
  EXPECT_EQ(offenders["c"].reason, RefusalReason::kActionNotAvailable);
  EXPECT_EQ(offenders["d"].status, RecipientStatus::kFinished);
  EXPECT_EQ(offenders["d"].reason, RefusalReason::kActionNotAvailable);
}

TEST(BulkTest, InvalidEditIsInvalidArgumentForTheWholeCall) {
  const Sequence seq = BulkSequence();
  const std::vector<Life> lives = {InProgress("a", seq), InProgress("b", seq)};
  ContentEdit wrong_field;
  wrong_field.message = "emails have no message";
  absl::StatusOr<BulkDecision> decided =
      DecideBulk(EditCommand(0, wrong_field), States(lives), seq, Ctx(kNow));
  EXPECT_THAT(decided.status(), StatusIs(absl::StatusCode::kInvalidArgument))
      << decided.status();

  ContentEdit subject;
  subject.subject = "fine";
  decided = DecideBulk(EditCommand(7, subject), States(lives), seq, Ctx(kNow));
  EXPECT_THAT(decided.status(), StatusIs(absl::StatusCode::kInvalidArgument))
      << decided.status();

  decided =
      DecideBulk(EditCommand(0, ContentEdit{}), States(lives), seq, Ctx(kNow));
  EXPECT_THAT(decided.status(), StatusIs(absl::StatusCode::kInvalidArgument))
      << decided.status();
}

TEST(BulkTest, WhileTheSequenceIsPausedPauseResumeSkipAreRefused) {
  const Sequence running = BulkSequence();
  // Reached before the sequence pause.
  Life in_progress = InProgress("a", running);
  Life error = ErrorLife("e", running);
  Life individually = PausedLife("p", running);
  const Sequence paused = PauseSequence(running, kT0 + absl::Hours(3));
  ASSERT_TRUE(paused.paused);
  in_progress.sequence = paused;
  in_progress.Do(PauseBySequence{}, kT0 + absl::Hours(3));
  ASSERT_EQ(in_progress.recipient.status, RecipientStatus::kPaused);
  ASSERT_TRUE(in_progress.recipient.paused_by_sequence);
  const std::vector<Recipient> states = {in_progress.recipient, error.recipient,
                                         individually.recipient};

  for (BulkAction action :
       {BulkAction::kPause, BulkAction::kResume, BulkAction::kSkipStep}) {
    SCOPED_TRACE(std::string(BulkActionName(action)));
    ASSIGN_OR_FAIL(BulkDecision refused,
                   DecideBulk(Command(action), states, paused, Ctx(kNow)));
    EXPECT_TRUE(refused.events.empty());
    std::map<std::string, BulkOffender> offenders = ById(refused);
    ASSERT_EQ(offenders.size(), 3u);
    for (const auto& [id, offender] : offenders) {
      SCOPED_TRACE(id);
      EXPECT_EQ(offender.reason, RefusalReason::kSequencePaused);
    }
    EXPECT_EQ(offenders["e"].status, RecipientStatus::kError);
    EXPECT_EQ(offenders["a"].status, RecipientStatus::kPaused);
  }

  // The ERROR recipient alone: still SEQUENCE_PAUSED, not the bulk pause rule.
  ASSIGN_OR_FAIL(BulkDecision error_only,
                 DecideBulk(Command(BulkAction::kPause), {error.recipient},
                            paused, Ctx(kNow)));
  ASSERT_EQ(error_only.offenders.size(), 1u);
  EXPECT_EQ(error_only.offenders[0].reason, RefusalReason::kSequencePaused);

  for (BulkAction action : {BulkAction::kStop, BulkAction::kDelete}) {
    SCOPED_TRACE(std::string(BulkActionName(action)));
    ASSIGN_OR_FAIL(BulkDecision ok,
                   DecideBulk(Command(action), states, paused, Ctx(kNow)));
    EXPECT_TRUE(ok.offenders.empty());
    EXPECT_EQ(ok.events.size(), 3u);
  }
}

TEST(BulkTest, DoesNotChangeItsInputsAndIsDeterministic) {
  const Sequence seq = BulkSequence();
  const std::vector<Life> lives = {InProgress("a", seq), ErrorLife("b", seq)};
  const std::vector<Recipient> states = States(lives);
  ASSIGN_OR_FAIL(BulkDecision first, DecideBulk(Command(BulkAction::kPause),
                                                states, seq, Ctx(kNow)));
  ASSIGN_OR_FAIL(BulkDecision second, DecideBulk(Command(BulkAction::kPause),
                                                 states, seq, Ctx(kNow)));
  for (size_t i = 0; i < lives.size(); ++i) {
    ExpectSameRecipient(states[i], lives[i].recipient);
    ExpectSameRecipient(Fold(states[i], first.events[i]),
                        Fold(states[i], second.events[i]));
  }
  EXPECT_EQ(first.count_by_status, second.count_by_status);
}

}  // namespace
}  // namespace sequencer::domain::test
