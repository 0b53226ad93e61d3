// What each recipient action does, through a real server: pause/resume and
// the delay clock, skip and its preview, edit content, view content, stop,
// delete, complete manual step, and signals.

#include <algorithm>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "app/storage/event_codec.h"
#include "app/storage/store_layout.h"
#include "gtest/gtest.h"
#include "tests/util/api_helpers.h"
#include "tests/util/grpc_status_matchers.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

using app::FromProtoTime;

absl::Duration Remaining(const v1::Recipient& r) {
  return app::FromProtoDuration("remaining_delay", r.remaining_delay()).value();
}

v1::ContentEdit Edit(const std::string& field, const std::string& value) {
  v1::ContentEdit edit;
  if (field == "subject") edit.set_subject(value);
  if (field == "body") edit.set_body(value);
  if (field == "message") edit.set_message(value);
  if (field == "details") edit.set_details(value);
  return edit;
}

v1::Sequence GetSequence(TestServer& server, const std::string& id) {
  v1::GetSequenceRequest request;
  request.set_sequence_id(id);
  v1::Sequence out;
  grpc::Status status =
      server.sequences().GetSequence(CallAs().get(), request, &out);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return out;
}

class ActionEffectsTest : public ::testing::Test {
 protected:
  v1::RecipientContent MustView(const std::string& seq, const std::string& id) {
    v1::RecipientContent content;
    grpc::Status status = ViewContent(server_, seq, id, &content);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return content;
  }

  v1::RecipientTimeline MustTimeline(const std::string& seq,
                                     const std::string& id) {
    v1::RecipientTimeline timeline;
    grpc::Status status = Timeline(server_, seq, id, &timeline);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return timeline;
  }

  TestServer server_;
};

// ---- Pause / resume.

TEST_F(ActionEffectsTest, PauseFreezesRemainingDelayAndResumeShiftsDueTime) {
  CreateSequence(server_, "s", {EmailStep(absl::Hours(24))});
  Enroll(server_, "s", {"r1"});
  const absl::Time due =
      FromProtoTime(MustGetRecipient(server_, "s", "r1").next_due_at());
  server_.clock().Advance(absl::Hours(10));
  v1::Recipient paused = MustAct(server_, v1::ACTION_PAUSE, "s", "r1");
  EXPECT_EQ(paused.status(), v1::RECIPIENT_STATUS_PAUSED);
  EXPECT_EQ(Remaining(paused), absl::Hours(14));

  // Time passes while paused: the remaining delay does not shrink.
  server_.clock().Advance(absl::Hours(48));
  v1::Recipient still = MustGetRecipient(server_, "s", "r1");
  EXPECT_EQ(still.status(), v1::RECIPIENT_STATUS_PAUSED);
  EXPECT_EQ(Remaining(still), absl::Hours(14));

  v1::Recipient resumed = MustAct(server_, v1::ACTION_RESUME, "s", "r1");
  EXPECT_EQ(resumed.status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  // Paused for exactly two days: due moves by exactly two days.
  EXPECT_EQ(FromProtoTime(resumed.next_due_at()), due + absl::Hours(48));
  EXPECT_EQ(FromProtoTime(resumed.next_due_at()),
            server_.clock().Now() + absl::Hours(14));
  EXPECT_EQ(resumed.version(), 3u);
}

TEST_F(ActionEffectsTest, ViewWhilePausedShowsDueAsNowPlusFrozenDelay) {
  CreateSequence(server_, "s",
                 {EmailStep(absl::Hours(24)), SmsStep(absl::Hours(6))});
  Enroll(server_, "s", {"r1"});
  server_.clock().Advance(absl::Hours(4));
  MustAct(server_, v1::ACTION_PAUSE, "s", "r1");
  server_.clock().Advance(absl::Hours(100));
  v1::RecipientContent content = MustView("s", "r1");
  ASSERT_EQ(content.steps_size(), 2);
  EXPECT_EQ(FromProtoTime(content.steps(0).due_at()),
            server_.clock().Now() + absl::Hours(20));
  EXPECT_EQ(FromProtoTime(content.steps(1).due_at()),
            server_.clock().Now() + absl::Hours(26));
}

TEST_F(ActionEffectsTest, ResumeFromPendingActionReturnsToPendingAction) {
  CreateSequence(server_, "s",
                 {TaskStep(absl::ZeroDuration()), EmailStep(absl::Hours(24))});
  Enroll(server_, "s", {"r1"});
  ASSERT_EQ(MustGetRecipient(server_, "s", "r1").status(),
            v1::RECIPIENT_STATUS_PENDING_ACTION);
  v1::Recipient paused = MustAct(server_, v1::ACTION_PAUSE, "s", "r1");
  EXPECT_EQ(paused.paused_from(), v1::RECIPIENT_STATUS_PENDING_ACTION);
  EXPECT_FALSE(FindAction(paused, v1::ACTION_COMPLETE_MANUAL_STEP).available());
  server_.clock().Advance(absl::Hours(72));
  v1::Recipient resumed = MustAct(server_, v1::ACTION_RESUME, "s", "r1");
  EXPECT_EQ(resumed.status(), v1::RECIPIENT_STATUS_PENDING_ACTION);
  EXPECT_EQ(resumed.current_step(), 0);
  EXPECT_TRUE(FindAction(resumed, v1::ACTION_COMPLETE_MANUAL_STEP).available());
}

TEST_F(ActionEffectsTest, PauseAndResumeOfRunningRespondedKeepsResponded) {
  CreateSequence(server_, "s",
                 {EmailStep(absl::Hours(24)), SmsStep(absl::Hours(24))},
                 /*stop_on_response=*/false);
  Enroll(server_, "s", {"r1"});
  ASSERT_TRUE(Signal(server_, "s", "r1", v1::SIGNAL_TYPE_REPLY).ok());
  server_.clock().Advance(absl::Hours(6));
  v1::Recipient paused = MustAct(server_, v1::ACTION_PAUSE, "s", "r1");
  EXPECT_EQ(paused.paused_from(), v1::RECIPIENT_STATUS_RESPONDED);
  EXPECT_EQ(Remaining(paused), absl::Hours(18));
  server_.clock().Advance(absl::Hours(1));
  v1::Recipient resumed = MustAct(server_, v1::ACTION_RESUME, "s", "r1");
  EXPECT_EQ(resumed.status(), v1::RECIPIENT_STATUS_RESPONDED);
  EXPECT_TRUE(resumed.responded());
  EXPECT_EQ(FromProtoTime(resumed.next_due_at()),
            server_.clock().Now() + absl::Hours(18));
}

// ---- Skip and its preview.

TEST_F(ActionEffectsTest, PreviewShowsNextStepAndChangesNothingThenSkipDoesIt) {
  CreateSequence(
      server_, "s",
      {EmailStep(absl::Hours(24)),
       SmsStep(absl::Hours(48), "Text {{first_name}} at {{company}}"),
       TaskStep(absl::ZeroDuration(), "Call {{first_name}}")});
  Enroll(server_, "s", {"r1"});
  server_.clock().Advance(absl::Hours(5));
  const v1::Recipient before = MustGetRecipient(server_, "s", "r1");
  const std::vector<std::string> log = LogSnapshot(server_);

  v1::SkipPreview preview;
  ASSERT_TRUE(PreviewSkip(server_, "s", "r1", &preview).ok());
  EXPECT_EQ(preview.skipped_step_index(), 0);
  EXPECT_FALSE(preview.finishes());
  ASSERT_TRUE(preview.has_next_step());
  EXPECT_EQ(preview.next_step().step_index(), 1);
  EXPECT_EQ(preview.next_step().type(), v1::STEP_TYPE_SMS);
  EXPECT_EQ(preview.next_step().content().body(), "Text Name-r1 at Acme");
  EXPECT_TRUE(preview.next_step().missing_variables().empty());
  EXPECT_EQ(FromProtoTime(preview.next_step().due_at()),
            server_.clock().Now() + absl::Hours(48));
  // The preview wrote nothing and changed nothing.
  EXPECT_EQ(LogSnapshot(server_), log);
  EXPECT_TRUE(ProtoEquals(MustGetRecipient(server_, "s", "r1"), before));

  v1::Recipient skipped = MustAct(server_, v1::ACTION_SKIP_STEP, "s", "r1");
  EXPECT_EQ(skipped.status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  EXPECT_EQ(skipped.current_step(), 1);
  EXPECT_EQ(FromProtoTime(skipped.next_due_at()),
            server_.clock().Now() + absl::Hours(48));

  // Next: a task with no delay, resolved, due now.
  server_.clock().Advance(absl::Hours(1));
  ASSERT_TRUE(PreviewSkip(server_, "s", "r1", &preview).ok());
  EXPECT_EQ(preview.skipped_step_index(), 1);
  EXPECT_FALSE(preview.finishes());
  EXPECT_EQ(preview.next_step().type(), v1::STEP_TYPE_TASK);
  EXPECT_EQ(preview.next_step().mode(), v1::STEP_MODE_MANUAL);
  EXPECT_EQ(preview.next_step().content().details(), "Call Name-r1");
  v1::Recipient pending = MustAct(server_, v1::ACTION_SKIP_STEP, "s", "r1");
  EXPECT_EQ(pending.status(), v1::RECIPIENT_STATUS_PENDING_ACTION);
  EXPECT_EQ(pending.current_step(), 2);

  // Skipping the last step finishes the recipient.
  ASSERT_TRUE(PreviewSkip(server_, "s", "r1", &preview).ok());
  EXPECT_EQ(preview.skipped_step_index(), 2);
  EXPECT_TRUE(preview.finishes());
  EXPECT_FALSE(preview.has_next_step());
  v1::Recipient finished = MustAct(server_, v1::ACTION_SKIP_STEP, "s", "r1");
  EXPECT_EQ(finished.status(), v1::RECIPIENT_STATUS_FINISHED);
  EXPECT_EQ(finished.current_step(), 3);

  // Once finished there is nothing left to skip or preview.
  EXPECT_THAT(PreviewSkip(server_, "s", "r1", &preview),
              StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
  v1::RecipientContent content = MustView("s", "r1");
  for (const auto& step : content.steps())
    EXPECT_EQ(step.state(), v1::STEP_STATE_SKIPPED) << step.step_index();
}

TEST_F(ActionEffectsTest, PreviewListsVariablesTheNextStepWouldMiss) {
  CreateSequence(server_, "s",
                 {EmailStep(absl::Hours(1)),
                  EmailStep(absl::Hours(2), "{{aira.opening_line}}",
                            "Hello {{first_name}} {{custom.role}}")});
  Enroll(server_, "s", {"r1"});
  v1::SkipPreview preview;
  ASSERT_TRUE(PreviewSkip(server_, "s", "r1", &preview).ok());
  std::vector<std::string> missing(
      preview.next_step().missing_variables().begin(),
      preview.next_step().missing_variables().end());
  std::sort(missing.begin(), missing.end());
  EXPECT_EQ(missing,
            (std::vector<std::string>{"aira.opening_line", "custom.role"}));
}

// ---- Edit content.

class EditContentTest : public ActionEffectsTest {
 protected:
  void SetUp() override {
    definition_ = CreateSequence(
        server_, "s",
        {EmailStep(absl::Hours(24)), SmsStep(absl::Hours(48)),
         TaskStep(absl::Hours(1)), [] {
           v1::StepDefinition step;
           step.set_type(v1::STEP_TYPE_SOCIAL_MESSAGE);
           *step.mutable_delay() = app::ToProtoDuration(absl::Hours(1));
           step.mutable_content()->set_message("Connect {{first_name}}");
           return step;
         }()});
    Enroll(server_, "s", {"r1", "r2"});
  }

  void ExpectRefused(int step, const v1::ContentEdit& edit,
                     grpc::StatusCode code) {
    const std::vector<std::string> log = LogSnapshot(server_);
    grpc::Status status = EditContent(server_, "s", "r1", step, edit);
    EXPECT_THAT(status, StatusIs(code))
        << "step " << step << " " << edit.ShortDebugString() << ": "
        << status.error_message();
    EXPECT_EQ(LogSnapshot(server_), log);
  }

  v1::Sequence definition_;
};

TEST_F(EditContentTest, EditIsVisibleInViewAndTouchesNothingElse) {
  v1::Recipient edited;
  ASSERT_TRUE(EditContent(server_, "s", "r1", 1,
                          Edit("body", "Custom {{company}} text"), &edited)
                  .ok());
  EXPECT_EQ(edited.status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  v1::ContentEdit email;
  email.set_subject("New subject {{first_name}}");
  ASSERT_TRUE(EditContent(server_, "s", "r1", 0, email).ok());
  ASSERT_TRUE(
      EditContent(server_, "s", "r1", 2, Edit("details", "Visit them")).ok());
  ASSERT_TRUE(
      EditContent(server_, "s", "r1", 3, Edit("message", "Ping {{company}}"))
          .ok());

  MustAct(server_, v1::ACTION_PAUSE, "s", "r1");
  MustAct(server_, v1::ACTION_PAUSE, "s", "r2");
  v1::RecipientContent mine = MustView("s", "r1");
  ASSERT_EQ(mine.steps_size(), 4);
  EXPECT_EQ(mine.steps(0).content().subject(), "New subject Name-r1");
  // The body was not edited: the definition's, resolved.
  EXPECT_EQ(mine.steps(0).content().body(), "About Acme");
  EXPECT_TRUE(mine.steps(0).overridden());
  EXPECT_EQ(mine.steps(1).content().body(), "Custom Acme text");
  EXPECT_TRUE(mine.steps(1).overridden());
  EXPECT_EQ(mine.steps(2).content().details(), "Visit them");
  EXPECT_EQ(mine.steps(3).content().message(), "Ping Acme");

  // Another recipient and the definition are untouched.
  v1::RecipientContent theirs = MustView("s", "r2");
  EXPECT_EQ(theirs.steps(0).content().subject(), "Hi Name-r2");
  EXPECT_EQ(theirs.steps(1).content().body(), "Text Name-r2");
  for (const auto& step : theirs.steps()) EXPECT_FALSE(step.overridden());
  EXPECT_TRUE(ProtoEquals(GetSequence(server_, "s"), definition_));
}

TEST_F(EditContentTest, FieldThatDoesNotFitTheStepTypeIsInvalidArgument) {
  ExpectRefused(0, Edit("message", "x"), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectRefused(0, Edit("details", "x"), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectRefused(1, Edit("subject", "x"), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectRefused(1, Edit("message", "x"), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectRefused(2, Edit("body", "x"), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectRefused(3, Edit("subject", "x"), grpc::StatusCode::INVALID_ARGUMENT);
  // An edit mixing a fitting and a non-fitting field is refused whole.
  v1::ContentEdit mixed = Edit("body", "fine");
  mixed.set_subject("not for SMS");
  ExpectRefused(1, mixed, grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(EditContentTest, BadStepIndexEmptyEditAndBadContentAreInvalidArgument) {
  ExpectRefused(4, Edit("body", "x"), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectRefused(-1, Edit("body", "x"), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectRefused(1, v1::ContentEdit(), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectRefused(1, Edit("body", std::string(1601, 'x')),
                grpc::StatusCode::INVALID_ARGUMENT);
  ExpectRefused(1, Edit("body", "Hi {{Unknown_var}}"),
                grpc::StatusCode::INVALID_ARGUMENT);
  ExpectRefused(0, Edit("subject", std::string(999, 's')),
                grpc::StatusCode::INVALID_ARGUMENT);
  // At the limits: accepted.
  EXPECT_TRUE(
      EditContent(server_, "s", "r1", 1, Edit("body", std::string(1600, 'x')))
          .ok());
  EXPECT_TRUE(
      EditContent(server_, "s", "r1", 0, Edit("subject", std::string(998, 's')))
          .ok());
}

TEST_F(EditContentTest, SkippedOrCompletedStepIsNotEditable) {
  MustAct(server_, v1::ACTION_SKIP_STEP, "s", "r1");
  {
    SCOPED_TRACE("skipped step");
    const std::vector<std::string> log = LogSnapshot(server_);
    grpc::Status status =
        EditContent(server_, "s", "r1", 0, Edit("subject", "late"));
    EXPECT_THAT(status, StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
    EXPECT_EQ(ErrorInfoOf(status).reason(), "STEP_NOT_EDITABLE");
    EXPECT_EQ(LogSnapshot(server_), log);
  }
  // A completed step: a fresh sequence whose first step is a task.
  CreateSequence(server_, "t",
                 {TaskStep(absl::ZeroDuration()), SmsStep(absl::Hours(1))});
  Enroll(server_, "t", {"r1"});
  MustAct(server_, v1::ACTION_COMPLETE_MANUAL_STEP, "t", "r1");
  const std::vector<std::string> log = LogSnapshot(server_);
  grpc::Status status =
      EditContent(server_, "t", "r1", 0, Edit("details", "too late"));
  EXPECT_THAT(status, StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(ErrorInfoOf(status).reason(), "STEP_NOT_EDITABLE");
  EXPECT_EQ(LogSnapshot(server_), log);
  // The step not reached yet is still editable.
  EXPECT_TRUE(EditContent(server_, "t", "r1", 1, Edit("body", "ok")).ok());
}

// ---- View content.

TEST_F(ActionEffectsTest, ViewShowsStepStatesResolvedContentAndMissingVars) {
  CreateSequence(
      server_, "s",
      {TaskStep(absl::ZeroDuration(), "Research {{company}}"),
       EmailStep(absl::Hours(24)),
       SmsStep(absl::Hours(48), "{{aira.opening_line}} {{first_name}}"),
       EmailStep(absl::Hours(12), "Last one, {{first_name}}", "Bye")});
  Enroll(server_, "s", {"r1", "r2"});
  server_.clock().Advance(absl::Hours(3));
  const absl::Time completed_at = server_.clock().Now();
  MustAct(server_, v1::ACTION_COMPLETE_MANUAL_STEP, "s", "r1");  // step 0
  MustAct(server_, v1::ACTION_SKIP_STEP, "s", "r1");             // step 1
  server_.clock().Advance(absl::Hours(8));
  MustAct(server_, v1::ACTION_PAUSE, "s", "r1");  // at step 2, 40h left

  v1::RecipientContent content = MustView("s", "r1");
  EXPECT_EQ(content.status(), v1::RECIPIENT_STATUS_PAUSED);
  ASSERT_EQ(content.steps_size(), 4);
  EXPECT_EQ(content.steps(0).state(), v1::STEP_STATE_COMPLETED);
  EXPECT_EQ(content.steps(0).type(), v1::STEP_TYPE_TASK);
  EXPECT_EQ(FromProtoTime(content.steps(0).completed_at()), completed_at);
  EXPECT_EQ(content.steps(1).state(), v1::STEP_STATE_SKIPPED);
  EXPECT_EQ(content.steps(2).state(), v1::STEP_STATE_CURRENT);
  EXPECT_EQ(content.steps(2).content().body(), "{{aira.opening_line}} Name-r1")
      << "a missing variable stays as written";
  EXPECT_EQ(
      std::vector<std::string>(content.steps(2).missing_variables().begin(),
                               content.steps(2).missing_variables().end()),
      std::vector<std::string>{"aira.opening_line"});
  EXPECT_EQ(FromProtoTime(content.steps(2).due_at()),
            server_.clock().Now() + absl::Hours(40));
  EXPECT_EQ(content.steps(3).state(), v1::STEP_STATE_UPCOMING);
  EXPECT_EQ(content.steps(3).content().subject(), "Last one, Name-r1");
  EXPECT_TRUE(content.steps(3).missing_variables().empty());
  EXPECT_EQ(FromProtoTime(content.steps(3).due_at()),
            server_.clock().Now() + absl::Hours(52));

  // Stopped: the steps not done are cancelled; done ones keep their state.
  MustAct(server_, v1::ACTION_STOP, "s", "r1");
  content = MustView("s", "r1");
  EXPECT_EQ(content.steps(0).state(), v1::STEP_STATE_COMPLETED);
  EXPECT_EQ(content.steps(1).state(), v1::STEP_STATE_SKIPPED);
  EXPECT_EQ(content.steps(2).state(), v1::STEP_STATE_CANCELLED);
  EXPECT_EQ(content.steps(3).state(), v1::STEP_STATE_CANCELLED);
}

// ---- Stop.

TEST_F(ActionEffectsTest, StopIsPermanentAndHistoryStaysReadable) {
  CreateSequence(server_, "s",
                 {EmailStep(absl::Hours(24)), SmsStep(absl::Hours(48))});
  Enroll(server_, "s", {"r1"});
  MustAct(server_, v1::ACTION_PAUSE, "s", "r1");
  v1::Recipient stopped = MustAct(server_, v1::ACTION_STOP, "s", "r1");
  EXPECT_EQ(stopped.status(), v1::RECIPIENT_STATUS_STOPPED);
  for (v1::Action action : {v1::ACTION_PAUSE, v1::ACTION_RESUME,
                            v1::ACTION_SKIP_STEP, v1::ACTION_STOP}) {
    EXPECT_THAT(Act(server_, action, "s", "r1"),
                StatusIs(grpc::StatusCode::FAILED_PRECONDITION))
        << v1::Action_Name(action);
  }
  v1::RecipientTimeline timeline = MustTimeline("s", "r1");
  ASSERT_EQ(timeline.entries_size(), 3);
  EXPECT_TRUE(timeline.entries(0).event().has_recipient_enrolled());
  EXPECT_TRUE(timeline.entries(1).event().has_paused());
  EXPECT_TRUE(timeline.entries(2).event().has_stopped());
  EXPECT_EQ(timeline.entries(2).event().metadata().actor(), kActor);
  v1::RecipientContent content = MustView("s", "r1");
  for (const auto& step : content.steps())
    EXPECT_EQ(step.state(), v1::STEP_STATE_CANCELLED);
  server_.Restart();
  EXPECT_EQ(MustGetRecipient(server_, "s", "r1").status(),
            v1::RECIPIENT_STATUS_STOPPED);
}

// The API leaves next_due_at unset when nothing is due (paused, final), and a
// step view's due_at/completed_at unset when unknown; a caller must not read
// a zero timestamp (1970) as a due time.
TEST_F(ActionEffectsTest, NextDueAtIsAbsentWhenNothingIsDue) {
  CreateSequence(server_, "s",
                 {EmailStep(absl::Hours(24)), SmsStep(absl::Hours(24))});
  Enroll(server_, "s", {"paused", "stopped", "replied", "bounced", "done"});
  EXPECT_TRUE(MustGetRecipient(server_, "s", "paused").has_next_due_at());
  EXPECT_FALSE(
      MustAct(server_, v1::ACTION_PAUSE, "s", "paused").has_next_due_at());
  EXPECT_FALSE(
      MustAct(server_, v1::ACTION_STOP, "s", "stopped").has_next_due_at());
  v1::Recipient r;
  ASSERT_TRUE(Signal(server_, "s", "replied", v1::SIGNAL_TYPE_REPLY, &r).ok());
  EXPECT_FALSE(r.has_next_due_at());
  ASSERT_TRUE(Signal(server_, "s", "bounced", v1::SIGNAL_TYPE_BOUNCE, &r).ok());
  EXPECT_FALSE(r.has_next_due_at());
  MustAct(server_, v1::ACTION_SKIP_STEP, "s", "done");
  EXPECT_FALSE(
      MustAct(server_, v1::ACTION_SKIP_STEP, "s", "done").has_next_due_at());

  // Skipped and cancelled steps have no due time and were never completed.
  const v1::RecipientContent done = MustView("s", "done");
  for (const auto& step : done.steps()) {
    EXPECT_FALSE(step.has_due_at()) << step.step_index();
    EXPECT_FALSE(step.has_completed_at()) << step.step_index();
  }
  const v1::RecipientContent stopped = MustView("s", "stopped");
  for (const auto& step : stopped.steps()) {
    EXPECT_FALSE(step.has_due_at()) << step.step_index();
    EXPECT_FALSE(step.has_completed_at()) << step.step_index();
  }
}

// ---- Delete.

TEST_F(ActionEffectsTest, DeleteErasesFromEveryReadAndListAndAllowsReenroll) {
  CreateSequence(server_, "s", {EmailStep(absl::Hours(24))});
  Enroll(server_, "s", {"r1", "r2"});
  MustAct(server_, v1::ACTION_STOP, "s", "r1");
  server_.clock().Advance(absl::Minutes(5));
  v1::DeleteRecipientResponse tombstone;
  ASSERT_TRUE(
      server_.recipients()
          .DeleteRecipient(CallAs().get(), ActionRequest("s", "r1"), &tombstone)
          .ok());
  EXPECT_EQ(tombstone.recipient_id(), "r1");
  EXPECT_EQ(tombstone.sequence_id(), "s");
  EXPECT_EQ(tombstone.deleted_by(), kActor);
  EXPECT_EQ(FromProtoTime(tombstone.deleted_at()), server_.clock().Now());

  v1::Recipient r;
  EXPECT_THAT(GetRecipient(server_, "s", "r1", &r),
              StatusIs(grpc::StatusCode::NOT_FOUND));
  v1::RecipientContent content;
  EXPECT_THAT(ViewContent(server_, "s", "r1", &content),
              StatusIs(grpc::StatusCode::NOT_FOUND));
  v1::RecipientTimeline timeline;
  EXPECT_THAT(Timeline(server_, "s", "r1", &timeline),
              StatusIs(grpc::StatusCode::NOT_FOUND));
  v1::SkipPreview preview;
  EXPECT_THAT(PreviewSkip(server_, "s", "r1", &preview),
              StatusIs(grpc::StatusCode::NOT_FOUND));
  for (v1::Action action :
       {v1::ACTION_PAUSE, v1::ACTION_STOP, v1::ACTION_DELETE}) {
    const std::vector<std::string> log = LogSnapshot(server_);
    EXPECT_THAT(Act(server_, action, "s", "r1"),
                StatusIs(grpc::StatusCode::NOT_FOUND))
        << v1::Action_Name(action);
    EXPECT_EQ(LogSnapshot(server_), log);
  }
  for (v1::SignalType signal :
       {v1::SIGNAL_TYPE_REPLY, v1::SIGNAL_TYPE_BOUNCE}) {
    EXPECT_THAT(Signal(server_, "s", "r1", signal),
                StatusIs(grpc::StatusCode::NOT_FOUND));
  }

  // Not listed, in any status.
  for (bool filtered : {false, true}) {
    v1::ListRecipientsRequest list;
    list.set_sequence_id("s");
    if (filtered) list.add_statuses(v1::RECIPIENT_STATUS_STOPPED);
    v1::ListRecipientsResponse listed;
    ASSERT_TRUE(server_.recipients()
                    .ListRecipients(CallAs().get(), list, &listed)
                    .ok());
    for (const auto& item : listed.recipients())
      EXPECT_NE(item.recipient_id(), "r1");
    EXPECT_EQ(listed.recipients_size(), filtered ? 0 : 1);
  }

  // The log keeps a tombstone of r1 (who, when, which request), nothing else.
  auto tombstones = server_.store().ReadStream(
      app::layout::DeletionStream(kTenant, "s", "r1"), 1, 10);
  ASSERT_TRUE(tombstones.ok()) << tombstones.status();
  ASSERT_EQ(tombstones->size(), 1u);
  EXPECT_EQ((*tombstones)[0].type, "Deleted");
  v1::Event tombstone_event;
  ASSERT_TRUE(tombstone_event.ParseFromString((*tombstones)[0].data));
  EXPECT_EQ(tombstone_event.metadata().actor(), kActor);
  EXPECT_EQ(FromProtoTime(tombstone_event.metadata().occurred_at()),
            server_.clock().Now());
  auto erased = server_.store().ReadStream(
      app::layout::RecipientStream(kTenant, "s", "r1"), 1, 10);
  ASSERT_TRUE(erased.ok());
  EXPECT_TRUE(erased->empty());

  // The same id may be enrolled again, as a new recipient.
  server_.clock().Advance(absl::Minutes(1));
  Enroll(server_, "s", {"r3", "r1"});
  v1::Recipient reborn = MustGetRecipient(server_, "s", "r1");
  EXPECT_EQ(reborn.status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  EXPECT_EQ(reborn.version(), 1u);
  EXPECT_EQ(FromProtoTime(reborn.enrolled_at()), server_.clock().Now());
  v1::RecipientTimeline reborn_timeline;
  ASSERT_TRUE(Timeline(server_, "s", "r1", &reborn_timeline).ok());
  EXPECT_EQ(reborn_timeline.entries_size(), 1);
  MustAct(server_, v1::ACTION_DELETE, "s", "r1");

  // Still gone after a restart.
  server_.Restart();
  EXPECT_THAT(GetRecipient(server_, "s", "r1", &r),
              StatusIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_EQ(MustGetRecipient(server_, "s", "r2").status(),
            v1::RECIPIENT_STATUS_IN_PROGRESS);
}

// ---- Complete manual step.

TEST_F(ActionEffectsTest, CompleteManualStepAdvancesOnlyWhenPending) {
  CreateSequence(server_, "s",
                 {TaskStep(absl::ZeroDuration()),
                  TaskStep(absl::ZeroDuration()), EmailStep(absl::Hours(24))});
  Enroll(server_, "s", {"r1"});
  server_.clock().Advance(absl::Hours(2));

  // A guard naming another step is refused.
  v1::CompleteManualStepRequest wrong;
  wrong.set_request_id(NextRequestId());
  wrong.set_sequence_id("s");
  wrong.set_recipient_id("r1");
  wrong.set_step_index(1);
  v1::Recipient out;
  std::vector<std::string> log = LogSnapshot(server_);
  grpc::Status status =
      server_.recipients().CompleteManualStep(CallAs().get(), wrong, &out);
  EXPECT_THAT(status, StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(LogSnapshot(server_), log);

  v1::CompleteManualStepRequest right = wrong;
  right.set_request_id(NextRequestId());
  right.set_step_index(0);
  ASSERT_TRUE(server_.recipients()
                  .CompleteManualStep(CallAs().get(), right, &out)
                  .ok());
  EXPECT_EQ(out.status(), v1::RECIPIENT_STATUS_PENDING_ACTION);
  EXPECT_EQ(out.current_step(), 1);

  v1::Recipient next =
      MustAct(server_, v1::ACTION_COMPLETE_MANUAL_STEP, "s", "r1");
  EXPECT_EQ(next.status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  EXPECT_EQ(next.current_step(), 2);
  EXPECT_EQ(FromProtoTime(next.next_due_at()),
            server_.clock().Now() + absl::Hours(24));

  // Not pending any more: refused, nothing written.
  log = LogSnapshot(server_);
  status = Act(server_, v1::ACTION_COMPLETE_MANUAL_STEP, "s", "r1");
  EXPECT_THAT(status, StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(ErrorInfoOf(status).reason(), "NOT_A_PENDING_MANUAL_STEP");
  EXPECT_EQ(LogSnapshot(server_), log);

  // Paused while pending: refused too.
  CreateSequence(server_, "p", {TaskStep(absl::ZeroDuration())});
  Enroll(server_, "p", {"r1"});
  MustAct(server_, v1::ACTION_PAUSE, "p", "r1");
  log = LogSnapshot(server_);
  EXPECT_THAT(Act(server_, v1::ACTION_COMPLETE_MANUAL_STEP, "p", "r1"),
              StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(LogSnapshot(server_), log);
  // Completing the only step finishes.
  MustAct(server_, v1::ACTION_RESUME, "p", "r1");
  EXPECT_EQ(
      MustAct(server_, v1::ACTION_COMPLETE_MANUAL_STEP, "p", "r1").status(),
      v1::RECIPIENT_STATUS_FINISHED);
}

// ---- Signals.

// Retries are safe for signals too: the same request id returns the first
// outcome and writes nothing new.
TEST_F(ActionEffectsTest, SignalRetryWithSameRequestIdReturnsFirstOutcome) {
  CreateSequence(server_, "s", {EmailStep(absl::Hours(24))},
                 /*stop_on_response=*/false);
  Enroll(server_, "s", {"r1"});
  v1::RecordSignalRequest request;
  request.set_request_id(NextRequestId());
  request.set_sequence_id("s");
  request.set_recipient_id("r1");
  request.set_signal(v1::SIGNAL_TYPE_REPLY);
  request.set_detail("provider-msg-1");
  v1::Recipient first;
  ASSERT_TRUE(
      server_.recipients().RecordSignal(CallAs().get(), request, &first).ok());
  const std::vector<std::string> log = LogSnapshot(server_);
  for (int i = 0; i < 3; ++i) {
    server_.clock().Advance(absl::Minutes(1));
    v1::Recipient again;
    grpc::Status status =
        server_.recipients().RecordSignal(CallAs().get(), request, &again);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_TRUE(ProtoEquals(again, first));
    EXPECT_EQ(LogSnapshot(server_), log);
  }
  EXPECT_EQ(MustGetRecipient(server_, "s", "r1").version(), 2u);
}

TEST_F(ActionEffectsTest, ReplyWithStopOnResponseEndsTheSequenceByRule) {
  CreateSequence(server_, "s",
                 {EmailStep(absl::Hours(24)), SmsStep(absl::Hours(48))});
  Enroll(server_, "s", {"r1"});
  v1::Recipient r;
  ASSERT_TRUE(
      Signal(server_, "s", "r1", v1::SIGNAL_TYPE_REPLY, &r, "msg-1").ok());
  EXPECT_EQ(r.status(), v1::RECIPIENT_STATUS_RESPONDED);
  EXPECT_TRUE(r.stopped_by_rule());
  EXPECT_TRUE(r.responded());
  for (const auto& a : r.actions()) {
    EXPECT_EQ(a.available(), a.action() == v1::ACTION_VIEW_CONTENT ||
                                 a.action() == v1::ACTION_DELETE)
        << v1::Action_Name(a.action());
  }
  v1::RecipientTimeline timeline = MustTimeline("s", "r1");
  ASSERT_EQ(timeline.entries_size(), 2);
  const v1::Event& reply = timeline.entries(1).event();
  ASSERT_TRUE(reply.has_reply_received());
  EXPECT_TRUE(reply.reply_received().stops_sequence());
  EXPECT_EQ(reply.reply_received().detail(), "msg-1");
  const v1::RecipientContent content = MustView("s", "r1");
  for (const auto& step : content.steps())
    EXPECT_EQ(step.state(), v1::STEP_STATE_CANCELLED);
}

TEST_F(ActionEffectsTest, ReplyWithStopOnResponseOffKeepsRunning) {
  CreateSequence(server_, "s",
                 {EmailStep(absl::Hours(24)), SmsStep(absl::Hours(48))},
                 /*stop_on_response=*/false);
  Enroll(server_, "s", {"r1"});
  const v1::Recipient before = MustGetRecipient(server_, "s", "r1");
  server_.clock().Advance(absl::Hours(2));
  v1::Recipient r;
  ASSERT_TRUE(Signal(server_, "s", "r1", v1::SIGNAL_TYPE_REPLY, &r).ok());
  EXPECT_EQ(r.status(), v1::RECIPIENT_STATUS_RESPONDED);
  EXPECT_FALSE(r.stopped_by_rule());
  EXPECT_TRUE(r.responded());
  EXPECT_FALSE(r.meeting_booked());
  EXPECT_EQ(r.current_step(), 0);
  EXPECT_TRUE(ProtoEquals(r.next_due_at(), before.next_due_at()));
  for (v1::Action action :
       {v1::ACTION_PAUSE, v1::ACTION_SKIP_STEP, v1::ACTION_EDIT_CONTENT,
        v1::ACTION_STOP, v1::ACTION_VIEW_CONTENT, v1::ACTION_DELETE}) {
    EXPECT_TRUE(FindAction(r, action).available()) << v1::Action_Name(action);
  }
  // Steps go on: skipping moves to the next one, still RESPONDED.
  v1::Recipient skipped = MustAct(server_, v1::ACTION_SKIP_STEP, "s", "r1");
  EXPECT_EQ(skipped.status(), v1::RECIPIENT_STATUS_RESPONDED);
  EXPECT_EQ(skipped.current_step(), 1);
  EXPECT_EQ(FromProtoTime(skipped.next_due_at()),
            server_.clock().Now() + absl::Hours(48));
  // The last skip finishes even a responded recipient.
  EXPECT_EQ(MustAct(server_, v1::ACTION_SKIP_STEP, "s", "r1").status(),
            v1::RECIPIENT_STATUS_FINISHED);
}

TEST_F(ActionEffectsTest, MeetingWinsOverReplyWhileRunning) {
  CreateSequence(server_, "s", {EmailStep(absl::Hours(24))},
                 /*stop_on_response=*/false);
  Enroll(server_, "s", {"r1", "r2"});
  v1::Recipient r;
  // Reply, then meeting.
  ASSERT_TRUE(Signal(server_, "s", "r1", v1::SIGNAL_TYPE_REPLY, &r).ok());
  ASSERT_TRUE(
      Signal(server_, "s", "r1", v1::SIGNAL_TYPE_MEETING_BOOKED, &r).ok());
  EXPECT_EQ(r.status(), v1::RECIPIENT_STATUS_MEETING_BOOKED);
  EXPECT_TRUE(r.responded());
  EXPECT_TRUE(r.meeting_booked());
  // Meeting, then reply: the meeting still shows.
  ASSERT_TRUE(
      Signal(server_, "s", "r2", v1::SIGNAL_TYPE_MEETING_BOOKED, &r).ok());
  ASSERT_TRUE(Signal(server_, "s", "r2", v1::SIGNAL_TYPE_REPLY, &r).ok());
  EXPECT_EQ(r.status(), v1::RECIPIENT_STATUS_MEETING_BOOKED);
  EXPECT_FALSE(r.stopped_by_rule());
}

TEST_F(ActionEffectsTest, ReplyWhilePausedWithStopOnResponseOffShowsOnResume) {
  CreateSequence(server_, "s", {EmailStep(absl::Hours(24))},
                 /*stop_on_response=*/false);
  Enroll(server_, "s", {"r1"});
  MustAct(server_, v1::ACTION_PAUSE, "s", "r1");
  v1::Recipient r;
  ASSERT_TRUE(Signal(server_, "s", "r1", v1::SIGNAL_TYPE_REPLY, &r).ok());
  EXPECT_EQ(r.status(), v1::RECIPIENT_STATUS_PAUSED);
  EXPECT_TRUE(r.responded());
  EXPECT_EQ(MustAct(server_, v1::ACTION_RESUME, "s", "r1").status(),
            v1::RECIPIENT_STATUS_RESPONDED);
}

TEST_F(ActionEffectsTest, BounceAndUnsubscribeEndFromInProgressAndPaused) {
  CreateSequence(server_, "s",
                 {EmailStep(absl::Hours(24)), SmsStep(absl::Hours(1))});
  struct Case {
    std::string id;
    bool paused;
    v1::SignalType signal;
    v1::RecipientStatus expected;
  };
  const std::vector<Case> cases = {
      {"b-run", false, v1::SIGNAL_TYPE_BOUNCE, v1::RECIPIENT_STATUS_BOUNCED},
      {"b-paused", true, v1::SIGNAL_TYPE_BOUNCE, v1::RECIPIENT_STATUS_BOUNCED},
      {"u-run", false, v1::SIGNAL_TYPE_UNSUBSCRIBE,
       v1::RECIPIENT_STATUS_UNSUBSCRIBED},
      {"u-paused", true, v1::SIGNAL_TYPE_UNSUBSCRIBE,
       v1::RECIPIENT_STATUS_UNSUBSCRIBED},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.id);
    Enroll(server_, "s", {c.id});
    if (c.paused) MustAct(server_, v1::ACTION_PAUSE, "s", c.id);
    v1::Recipient r;
    ASSERT_TRUE(Signal(server_, "s", c.id, c.signal, &r).ok());
    EXPECT_EQ(r.status(), c.expected);
    EXPECT_FALSE(FindAction(r, v1::ACTION_RESUME).available());
    EXPECT_FALSE(FindAction(r, v1::ACTION_STOP).available());
    EXPECT_TRUE(FindAction(r, v1::ACTION_VIEW_CONTENT).available());
    EXPECT_TRUE(FindAction(r, v1::ACTION_DELETE).available());
    const v1::RecipientContent content = MustView("s", c.id);
    for (const auto& step : content.steps())
      EXPECT_EQ(step.state(), v1::STEP_STATE_CANCELLED);
  }
}

TEST_F(ActionEffectsTest, SignalOnFinalRecipientIsRecordedButChangesNoStatus) {
  CreateSequence(server_, "s", {EmailStep(absl::Hours(24))});
  CreateSequence(server_, "off", {EmailStep(absl::Hours(24))},
                 /*stop_on_response=*/false);
  Enroll(server_, "s", {"stopped", "finished", "bounced", "unsub", "replied"});
  MustAct(server_, v1::ACTION_STOP, "s", "stopped");
  MustAct(server_, v1::ACTION_SKIP_STEP, "s", "finished");
  ASSERT_TRUE(Signal(server_, "s", "bounced", v1::SIGNAL_TYPE_BOUNCE).ok());
  ASSERT_TRUE(Signal(server_, "s", "unsub", v1::SIGNAL_TYPE_UNSUBSCRIBE).ok());
  ASSERT_TRUE(Signal(server_, "s", "replied", v1::SIGNAL_TYPE_REPLY).ok());

  for (const std::string id :
       {"stopped", "finished", "bounced", "unsub", "replied"}) {
    for (v1::SignalType signal :
         {v1::SIGNAL_TYPE_REPLY, v1::SIGNAL_TYPE_MEETING_BOOKED,
          v1::SIGNAL_TYPE_BOUNCE, v1::SIGNAL_TYPE_UNSUBSCRIBE}) {
      SCOPED_TRACE(id + " " + v1::SignalType_Name(signal));
      const v1::Recipient before = MustGetRecipient(server_, "s", id);
      v1::Recipient after;
      ASSERT_TRUE(Signal(server_, "s", id, signal, &after, "late").ok());
      EXPECT_EQ(after.status(), before.status());
      EXPECT_EQ(after.responded(), before.responded());
      EXPECT_EQ(after.meeting_booked(), before.meeting_booked());
      EXPECT_EQ(after.stopped_by_rule(), before.stopped_by_rule());
      EXPECT_EQ(after.version(), before.version() + 1);
      v1::RecipientTimeline timeline = MustTimeline("s", id);
      ASSERT_GT(timeline.entries_size(), 0);
      const v1::Event& last = timeline.entries().rbegin()->event();
      switch (signal) {
        case v1::SIGNAL_TYPE_REPLY:
          ASSERT_TRUE(last.has_reply_received());
          EXPECT_TRUE(last.reply_received().recorded_only());
          EXPECT_FALSE(last.reply_received().stops_sequence());
          break;
        case v1::SIGNAL_TYPE_MEETING_BOOKED:
          ASSERT_TRUE(last.has_meeting_booked());
          EXPECT_TRUE(last.meeting_booked().recorded_only());
          break;
        case v1::SIGNAL_TYPE_BOUNCE:
          ASSERT_TRUE(last.has_bounced());
          EXPECT_TRUE(last.bounced().recorded_only());
          break;
        default:
          ASSERT_TRUE(last.has_unsubscribed());
          EXPECT_TRUE(last.unsubscribed().recorded_only());
          break;
      }
    }
  }
}

TEST_F(ActionEffectsTest, MeetingWithStopOnResponseEndsByRule) {
  CreateSequence(server_, "s", {EmailStep(absl::Hours(24))});
  Enroll(server_, "s", {"r1"});
  MustAct(server_, v1::ACTION_PAUSE, "s", "r1");
  v1::Recipient r;
  ASSERT_TRUE(
      Signal(server_, "s", "r1", v1::SIGNAL_TYPE_MEETING_BOOKED, &r).ok());
  EXPECT_EQ(r.status(), v1::RECIPIENT_STATUS_MEETING_BOOKED);
  EXPECT_TRUE(r.stopped_by_rule());
  EXPECT_FALSE(FindAction(r, v1::ACTION_RESUME).available());
  // A later reply is history only.
  ASSERT_TRUE(Signal(server_, "s", "r1", v1::SIGNAL_TYPE_REPLY, &r).ok());
  EXPECT_EQ(r.status(), v1::RECIPIENT_STATUS_MEETING_BOOKED);
}

}  // namespace
}  // namespace sequencer::testing
