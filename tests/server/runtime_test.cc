// The runtime through a real server with the manual clock: the scheduler makes
// steps due, delivery workers lease / begin / report in two phases, manual
// steps wait for a person, signals move recipients.

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "app/storage/event_codec.h"
#include "gtest/gtest.h"
#include "server/status_conversion.h"
#include "tests/server/bulk_helpers.h"
#include "tests/util/api_helpers.h"
#include "tests/util/grpc_status_matchers.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

using app::FromProtoTime;

constexpr char kSeq[] = "seq-rt";

class RuntimeTest : public ::testing::Test {
 protected:
  std::vector<v1::DeliveryLease> Lease(
      v1::StepType channel, int max = 10,
      absl::Duration lease_duration = absl::Seconds(60)) {
    v1::LeaseStepsRequest request;
    request.set_channel(channel);
    request.set_max_steps(max);
    *request.mutable_lease_duration() = app::ToProtoDuration(lease_duration);
    v1::LeaseStepsResponse response;
    grpc::Status status =
        server_.delivery().LeaseSteps(CallAs().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.leases().begin(), response.leases().end()};
  }

  grpc::Status Begin(const v1::DeliveryLease& lease,
                     v1::BeginSendResponse* out = nullptr) {
    v1::BeginSendRequest request;
    request.set_lease_token(lease.lease_token());
    request.set_sequence_id(lease.sequence_id());
    request.set_recipient_id(lease.recipient_id());
    v1::BeginSendResponse ignored;
    return server_.delivery().BeginSend(CallAs().get(), request,
                                        out ? out : &ignored);
  }

  grpc::Status Report(const v1::DeliveryLease& lease,
                      v1::DeliveryOutcome outcome, v1::Recipient* out = nullptr,
                      const std::string& error = "") {
    v1::ReportDeliveryRequest request;
    request.set_lease_token(lease.lease_token());
    request.set_sequence_id(lease.sequence_id());
    request.set_recipient_id(lease.recipient_id());
    request.set_outcome(outcome);
    request.set_provider_message_id("provider-" + lease.lease_token());
    request.set_error_message(error);
    v1::Recipient ignored;
    return server_.delivery().ReportDelivery(CallAs().get(), request,
                                             out ? out : &ignored);
  }

  // A fake worker: leases everything due on `channel`, sends and reports it.
  int DeliverAll(v1::StepType channel) {
    int sent = 0;
    for (const auto& lease : Lease(channel, 100)) {
      EXPECT_TRUE(Begin(lease).ok());
      EXPECT_TRUE(Report(lease, v1::DELIVERY_OUTCOME_SENT).ok());
      ++sent;
    }
    return sent;
  }

  v1::Recipient Get(const std::string& id) {
    return MustGetRecipient(server_, kSeq, id);
  }

  // Sequence [EMAIL after 1 h, SMS after 24 h], recipient r1: the email is
  // due, leased and its send has begun now. Returns the lease.
  v1::DeliveryLease BeginFirstEmail() {
    CreateSequence(server_, kSeq,
                   {EmailStep(absl::Hours(1)), SmsStep(absl::Hours(24))});
    Enroll(server_, kSeq, {"r1"});
    server_.AdvanceTime(absl::Hours(1));
    std::vector<v1::DeliveryLease> leases = Lease(v1::STEP_TYPE_EMAIL);
    EXPECT_EQ(leases.size(), 1u);
    if (leases.empty()) return v1::DeliveryLease();
    EXPECT_TRUE(Begin(leases[0]).ok());
    return leases[0];
  }

  v1::RecipientTimeline Timeline(const std::string& id) {
    v1::GetRecipientRequest request;
    request.set_sequence_id(kSeq);
    request.set_recipient_id(id);
    v1::RecipientTimeline timeline;
    EXPECT_TRUE(server_.recipients()
                    .GetRecipientTimeline(CallAs().get(), request, &timeline)
                    .ok());
    return timeline;
  }

  TestServer server_;
};

TEST_F(RuntimeTest, ThreeStepSequenceRunsToFinishedWithAWorker) {
  CreateSequence(server_, kSeq,
                 {EmailStep(absl::Hours(24)), SmsStep(absl::Hours(48)),
                  EmailStep(absl::Hours(0), "Last {{first_name}}", "Bye")});
  Enroll(server_, kSeq, {"r1"});

  server_.AdvanceTime(absl::Hours(23));
  EXPECT_TRUE(Lease(v1::STEP_TYPE_EMAIL).empty()) << "not due yet";

  server_.AdvanceTime(absl::Hours(1));
  std::vector<v1::DeliveryLease> leases = Lease(v1::STEP_TYPE_EMAIL);
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].step_index(), 0);
  EXPECT_EQ(leases[0].content().subject(), "Hi Name-r1");
  EXPECT_EQ(leases[0].content().body(), "About Acme");
  EXPECT_EQ(leases[0].contact().email(), "r1@example.com");
  v1::BeginSendResponse begun;
  ASSERT_TRUE(Begin(leases[0], &begun).ok());
  EXPECT_EQ(begun.content().subject(), "Hi Name-r1");
  v1::Recipient after_first;
  ASSERT_TRUE(Report(leases[0], v1::DELIVERY_OUTCOME_SENT, &after_first).ok());
  EXPECT_EQ(after_first.status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  EXPECT_EQ(after_first.current_step(), 1);
  EXPECT_EQ(FromProtoTime(after_first.next_due_at()),
            server_.clock().Now() + absl::Hours(48));

  server_.AdvanceTime(absl::Hours(48));
  EXPECT_EQ(DeliverAll(v1::STEP_TYPE_SMS), 1);
  // The last step has no delay: due at once, delivered on the next run.
  server_.AdvanceTime(absl::ZeroDuration());
  EXPECT_EQ(DeliverAll(v1::STEP_TYPE_EMAIL), 1);

  v1::Recipient finished = Get("r1");
  EXPECT_EQ(finished.status(), v1::RECIPIENT_STATUS_FINISHED);
  EXPECT_EQ(finished.current_step(), 3);

  // View content shows what was actually sent, and when.
  v1::GetRecipientRequest view_request;
  view_request.set_sequence_id(kSeq);
  view_request.set_recipient_id("r1");
  v1::RecipientContent content;
  ASSERT_TRUE(server_.recipients()
                  .ViewContent(CallAs().get(), view_request, &content)
                  .ok());
  ASSERT_EQ(content.steps_size(), 3);
  for (const auto& step : content.steps()) {
    EXPECT_EQ(step.state(), v1::STEP_STATE_COMPLETED);
    EXPECT_TRUE(step.has_completed_at());
  }
  EXPECT_EQ(content.steps(2).content().subject(), "Last Name-r1");

  // The log holds the whole story.
  std::vector<std::string> types;
  const v1::RecipientTimeline timeline = Timeline("r1");
  for (const auto& entry : timeline.entries()) {
    types.push_back(app::EventTypeName(entry.event()));
  }
  EXPECT_EQ(types,
            (std::vector<std::string>{
                "RecipientEnrolled", "StepDue", "StepDispatched",
                "StepCompleted", "StepDue", "StepDispatched", "StepCompleted",
                "StepDue", "StepDispatched", "StepCompleted", "Finished"}));
}

TEST_F(RuntimeTest,
       AdvancingAnHourExecutesExactlyTheStepsDueInThatHourInOrder) {
  CreateSequence(server_, kSeq, {EmailStep(absl::Hours(1))});
  CreateSequence(server_, "seq-late", {EmailStep(absl::Hours(2))});
  // Due at +60 minutes (c), +80 (a) and +140 (b).
  Enroll(server_, kSeq, {"c"});
  server_.AdvanceTime(absl::Minutes(20));
  Enroll(server_, kSeq, {"a"});
  Enroll(server_, "seq-late", {"b"});
  // The hour from +20 to +80 covers c and a, not b.
  server_.AdvanceTime(absl::Hours(1));
  std::vector<v1::DeliveryLease> leases = Lease(v1::STEP_TYPE_EMAIL);
  ASSERT_EQ(leases.size(), 2u);
  EXPECT_EQ(leases[0].recipient_id(), "c");
  EXPECT_EQ(leases[1].recipient_id(), "a");
  EXPECT_EQ(MustGetRecipient(server_, "seq-late", "b").version(), 1u)
      << "b is not due yet";
  // The scheduler handled them in due-time order.
  EXPECT_LT(Timeline("c").entries(1).position(),
            Timeline("a").entries(1).position());
}

TEST_F(RuntimeTest, PauseInTheMiddleOfADelayAndResumeTwoDaysLater) {
  CreateSequence(server_, kSeq, {EmailStep(absl::Hours(72))});
  Enroll(server_, kSeq, {"r1"});
  const absl::Time due = FromProtoTime(Get("r1").next_due_at());
  server_.AdvanceTime(absl::Hours(24));
  v1::Recipient out;
  ASSERT_TRUE(
      server_.recipients()
          .PauseRecipient(CallAs().get(), ActionRequest(kSeq, "r1"), &out)
          .ok());
  server_.AdvanceTime(absl::Hours(48));
  EXPECT_TRUE(Lease(v1::STEP_TYPE_EMAIL).empty()) << "paused: nothing runs";
  ASSERT_TRUE(
      server_.recipients()
          .ResumeRecipient(CallAs().get(), ActionRequest(kSeq, "r1"), &out)
          .ok());
  EXPECT_EQ(FromProtoTime(out.next_due_at()), due + absl::Hours(48));
  server_.AdvanceTime(absl::Hours(48) - absl::Seconds(1));
  EXPECT_TRUE(Lease(v1::STEP_TYPE_EMAIL).empty());
  server_.AdvanceTime(absl::Seconds(1));
  EXPECT_EQ(DeliverAll(v1::STEP_TYPE_EMAIL), 1);
}

TEST_F(RuntimeTest, ManualStepWaitsForAPersonThenAdvances) {
  CreateSequence(server_, kSeq,
                 {TaskStep(absl::Hours(2)), EmailStep(absl::Hours(1))});
  Enroll(server_, kSeq, {"r1"});
  server_.AdvanceTime(absl::Hours(2));
  EXPECT_EQ(Get("r1").status(), v1::RECIPIENT_STATUS_PENDING_ACTION);
  EXPECT_TRUE(Lease(v1::STEP_TYPE_EMAIL).empty());
  v1::CompleteManualStepRequest request;
  request.set_request_id(NextRequestId());
  request.set_sequence_id(kSeq);
  request.set_recipient_id("r1");
  v1::Recipient out;
  ASSERT_TRUE(server_.recipients()
                  .CompleteManualStep(CallAs().get(), request, &out)
                  .ok());
  EXPECT_EQ(out.status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  EXPECT_EQ(out.current_step(), 1);
  server_.AdvanceTime(absl::Hours(1));
  EXPECT_EQ(DeliverAll(v1::STEP_TYPE_EMAIL), 1);
  EXPECT_EQ(Get("r1").status(), v1::RECIPIENT_STATUS_FINISHED);
}

TEST_F(RuntimeTest, MissingVariableGoesToErrorThenEditRetriesAndSends) {
  CreateSequence(
      server_, kSeq,
      {EmailStep(absl::Hours(1), "Hi {{first_name}}", "{{aira.opening_line}}"),
       SmsStep(absl::Hours(1))});
  Enroll(server_, kSeq, {"r1"});
  server_.AdvanceTime(absl::Hours(1));
  v1::Recipient errored = Get("r1");
  EXPECT_EQ(errored.status(), v1::RECIPIENT_STATUS_ERROR);
  EXPECT_NE(errored.error_message().find("aira.opening_line"),
            std::string::npos)
      << errored.error_message();
  EXPECT_TRUE(Lease(v1::STEP_TYPE_EMAIL).empty());

  v1::EditContentRequest edit;
  edit.set_request_id(NextRequestId());
  edit.set_sequence_id(kSeq);
  edit.set_recipient_id("r1");
  edit.set_step_index(0);
  edit.mutable_edit()->set_body("A fixed opening for {{first_name}}");
  v1::Recipient out;
  ASSERT_TRUE(
      server_.recipients().EditContent(CallAs().get(), edit, &out).ok());
  EXPECT_EQ(out.status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  server_.AdvanceTime(absl::ZeroDuration());
  std::vector<v1::DeliveryLease> leases = Lease(v1::STEP_TYPE_EMAIL);
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].content().body(), "A fixed opening for Name-r1");
  ASSERT_TRUE(Begin(leases[0]).ok());
  ASSERT_TRUE(Report(leases[0], v1::DELIVERY_OUTCOME_SENT).ok());
  EXPECT_EQ(Get("r1").current_step(), 1);
}

TEST_F(RuntimeTest, ErrorThenSkipMovesToTheNextStep) {
  CreateSequence(server_, kSeq,
                 {EmailStep(absl::Hours(1)), SmsStep(absl::Hours(3))});
  Enroll(server_, kSeq, {"r1"});
  server_.AdvanceTime(absl::Hours(1));
  std::vector<v1::DeliveryLease> leases = Lease(v1::STEP_TYPE_EMAIL);
  ASSERT_EQ(leases.size(), 1u);
  ASSERT_TRUE(Begin(leases[0]).ok());
  v1::Recipient failed;
  ASSERT_TRUE(
      Report(leases[0], v1::DELIVERY_OUTCOME_FAILED, &failed, "mailbox full")
          .ok());
  EXPECT_EQ(failed.status(), v1::RECIPIENT_STATUS_ERROR);
  EXPECT_EQ(failed.error_message(), "mailbox full");
  v1::Recipient skipped;
  ASSERT_TRUE(server_.recipients()
                  .SkipStep(CallAs().get(), ActionRequest(kSeq, "r1"), &skipped)
                  .ok());
  EXPECT_EQ(skipped.status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  EXPECT_EQ(skipped.current_step(), 1);
  EXPECT_EQ(FromProtoTime(skipped.next_due_at()),
            server_.clock().Now() + absl::Hours(3));
}

TEST_F(RuntimeTest, BounceReportedByTheWorkerEndsTheSequence) {
  CreateSequence(server_, kSeq,
                 {EmailStep(absl::Hours(1)), EmailStep(absl::Hours(1))});
  Enroll(server_, kSeq, {"r1"});
  server_.AdvanceTime(absl::Hours(1));
  std::vector<v1::DeliveryLease> leases = Lease(v1::STEP_TYPE_EMAIL);
  ASSERT_EQ(leases.size(), 1u);
  ASSERT_TRUE(Begin(leases[0]).ok());
  v1::Recipient bounced;
  ASSERT_TRUE(Report(leases[0], v1::DELIVERY_OUTCOME_BOUNCED, &bounced).ok());
  EXPECT_EQ(bounced.status(), v1::RECIPIENT_STATUS_BOUNCED);
  server_.AdvanceTime(absl::Hours(5));
  EXPECT_TRUE(Lease(v1::STEP_TYPE_EMAIL).empty());
}

TEST_F(RuntimeTest, ReplyWithStopOnResponseOffKeepsSendingOnEndsIt) {
  CreateSequence(server_, "seq-off",
                 {EmailStep(absl::Hours(1)), EmailStep(absl::Hours(1))},
                 /*stop_on_response=*/false);
  CreateSequence(server_, kSeq,
                 {EmailStep(absl::Hours(1)), EmailStep(absl::Hours(1))},
                 /*stop_on_response=*/true);
  Enroll(server_, "seq-off", {"r1"});
  Enroll(server_, kSeq, {"r1"});
  for (const char* sequence : {"seq-off", kSeq}) {
    v1::Recipient out;
    ASSERT_TRUE(
        Signal(server_, sequence, "r1", v1::SIGNAL_TYPE_REPLY, &out).ok());
    EXPECT_EQ(out.status(), v1::RECIPIENT_STATUS_RESPONDED);
  }
  server_.AdvanceTime(absl::Hours(1));
  std::vector<v1::DeliveryLease> leases = Lease(v1::STEP_TYPE_EMAIL);
  ASSERT_EQ(leases.size(), 1u) << "only the still-running recipient sends";
  EXPECT_EQ(leases[0].sequence_id(), "seq-off");
  ASSERT_TRUE(Begin(leases[0]).ok());
  v1::Recipient running;
  ASSERT_TRUE(Report(leases[0], v1::DELIVERY_OUTCOME_SENT, &running).ok());
  EXPECT_EQ(running.status(), v1::RECIPIENT_STATUS_RESPONDED);
  EXPECT_EQ(running.current_step(), 1);
}

TEST_F(RuntimeTest, UnsubscribeEndsTheSequenceAndNothingMoreIsSent) {
  CreateSequence(server_, kSeq, {EmailStep(absl::Hours(1))});
  Enroll(server_, kSeq, {"r1"});
  v1::Recipient out;
  ASSERT_TRUE(
      Signal(server_, kSeq, "r1", v1::SIGNAL_TYPE_UNSUBSCRIBE, &out).ok());
  EXPECT_EQ(out.status(), v1::RECIPIENT_STATUS_UNSUBSCRIBED);
  server_.AdvanceTime(absl::Hours(2));
  EXPECT_TRUE(Lease(v1::STEP_TYPE_EMAIL).empty());
}

TEST_F(RuntimeTest, ExpiredLeaseIsOfferedAgainAndTheOldTokenIsRefused) {
  CreateSequence(server_, kSeq, {EmailStep(absl::Hours(1))});
  Enroll(server_, kSeq, {"r1"});
  server_.AdvanceTime(absl::Hours(1));
  std::vector<v1::DeliveryLease> first =
      Lease(v1::STEP_TYPE_EMAIL, 10, absl::Seconds(30));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(Lease(v1::STEP_TYPE_EMAIL).empty()) << "leased: not offered";
  server_.AdvanceTime(absl::Seconds(30));
  std::vector<v1::DeliveryLease> second = Lease(v1::STEP_TYPE_EMAIL);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_NE(second[0].lease_token(), first[0].lease_token());
  const std::vector<std::string> before = LogSnapshot(server_);
  grpc::Status stale = Begin(first[0]);
  EXPECT_THAT(stale, StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(ErrorInfoOf(stale).reason(), "LEASE_EXPIRED");
  EXPECT_EQ(LogSnapshot(server_), before);
  ASSERT_TRUE(Begin(second[0]).ok());
  ASSERT_TRUE(Report(second[0], v1::DELIVERY_OUTCOME_SENT).ok());
}

TEST_F(RuntimeTest, RetriedBeginSendAnswersTheRecordedSendAndWritesNothing) {
  CreateSequence(server_, kSeq, {EmailStep(absl::Hours(1))});
  Enroll(server_, kSeq, {"r1"});
  server_.AdvanceTime(absl::Hours(1));
  std::vector<v1::DeliveryLease> leases = Lease(v1::STEP_TYPE_EMAIL);
  ASSERT_EQ(leases.size(), 1u);
  v1::BeginSendResponse first;
  ASSERT_TRUE(Begin(leases[0], &first).ok());
  const std::vector<std::string> after_first = LogSnapshot(server_);
  v1::BeginSendResponse second;
  ASSERT_TRUE(Begin(leases[0], &second).ok());
  EXPECT_TRUE(ProtoEquals(second, first));
  EXPECT_EQ(second.content().subject(), "Hi Name-r1");
  EXPECT_EQ(LogSnapshot(server_), after_first) << "begun once";
}

TEST_F(RuntimeTest, StaleReportIsRefusedAndADuplicateReportCompletesOnce) {
  CreateSequence(server_, kSeq,
                 {EmailStep(absl::Hours(1)), EmailStep(absl::Hours(1))});
  Enroll(server_, kSeq, {"r1"});
  server_.AdvanceTime(absl::Hours(1));
  std::vector<v1::DeliveryLease> leases = Lease(v1::STEP_TYPE_EMAIL);
  ASSERT_EQ(leases.size(), 1u);
  // Reporting before the send began is refused.
  grpc::Status early = Report(leases[0], v1::DELIVERY_OUTCOME_SENT);
  EXPECT_THAT(early, StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(ErrorInfoOf(early).reason(), "STALE_LEASE");

  ASSERT_TRUE(Begin(leases[0]).ok());
  v1::Recipient first;
  ASSERT_TRUE(Report(leases[0], v1::DELIVERY_OUTCOME_SENT, &first).ok());
  const std::vector<std::string> after_first = LogSnapshot(server_);
  v1::Recipient second;
  ASSERT_TRUE(Report(leases[0], v1::DELIVERY_OUTCOME_SENT, &second).ok());
  EXPECT_EQ(LogSnapshot(server_), after_first) << "completed once";
  EXPECT_EQ(second.current_step(), 1);
  EXPECT_EQ(second.version(), first.version());

  v1::DeliveryLease forged = leases[0];
  forged.set_lease_token("0123456789abcdef0123456789abcdef");
  grpc::Status stale = Report(forged, v1::DELIVERY_OUTCOME_SENT);
  EXPECT_THAT(stale, StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(LogSnapshot(server_), after_first);
}

TEST_F(RuntimeTest, PauseRevokesALeaseThatHasNotBegun) {
  CreateSequence(server_, kSeq, {EmailStep(absl::Hours(1))});
  Enroll(server_, kSeq, {"r1"});
  server_.AdvanceTime(absl::Hours(1));
  std::vector<v1::DeliveryLease> leases = Lease(v1::STEP_TYPE_EMAIL);
  ASSERT_EQ(leases.size(), 1u);
  v1::Recipient out;
  ASSERT_TRUE(
      server_.recipients()
          .PauseRecipient(CallAs().get(), ActionRequest(kSeq, "r1"), &out)
          .ok());
  grpc::Status revoked = Begin(leases[0]);
  EXPECT_THAT(revoked, StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(ErrorInfoOf(revoked).reason(), "LEASE_REVOKED");

  server_.AdvanceTime(absl::Hours(24));
  ASSERT_TRUE(
      server_.recipients()
          .ResumeRecipient(CallAs().get(), ActionRequest(kSeq, "r1"), &out)
          .ok());
  // The old lease stays revoked after the resume; the step runs again.
  EXPECT_THAT(Begin(leases[0]),
              StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
  server_.AdvanceTime(absl::ZeroDuration());
  EXPECT_EQ(DeliverAll(v1::STEP_TYPE_EMAIL), 1);
  EXPECT_EQ(Get("r1").status(), v1::RECIPIENT_STATUS_FINISHED);
}

TEST_F(RuntimeTest,
       SendThatBeganBeforeAPauseIsRecordedAndTheDelayStartsAtResume) {
  CreateSequence(server_, kSeq,
                 {EmailStep(absl::Hours(1)), EmailStep(absl::Hours(5))});
  Enroll(server_, kSeq, {"r1"});
  server_.AdvanceTime(absl::Hours(1));
  std::vector<v1::DeliveryLease> leases = Lease(v1::STEP_TYPE_EMAIL);
  ASSERT_EQ(leases.size(), 1u);
  ASSERT_TRUE(Begin(leases[0]).ok());
  v1::Recipient out;
  ASSERT_TRUE(
      server_.recipients()
          .PauseRecipient(CallAs().get(), ActionRequest(kSeq, "r1"), &out)
          .ok());
  server_.AdvanceTime(absl::Minutes(10));
  v1::Recipient reported;
  ASSERT_TRUE(Report(leases[0], v1::DELIVERY_OUTCOME_SENT, &reported).ok());
  EXPECT_EQ(reported.status(), v1::RECIPIENT_STATUS_PAUSED);
  EXPECT_EQ(reported.current_step(), 1);
  server_.AdvanceTime(absl::Hours(10));
  EXPECT_TRUE(Lease(v1::STEP_TYPE_EMAIL).empty());
  ASSERT_TRUE(
      server_.recipients()
          .ResumeRecipient(CallAs().get(), ActionRequest(kSeq, "r1"), &out)
          .ok());
  EXPECT_EQ(FromProtoTime(out.next_due_at()),
            server_.clock().Now() + absl::Hours(5));
}

TEST_F(RuntimeTest, StopRevokesAndNothingFurtherExecutes) {
  CreateSequence(server_, kSeq, {EmailStep(absl::Hours(1))});
  Enroll(server_, kSeq, {"r1", "r2"});
  server_.AdvanceTime(absl::Hours(1));
  std::vector<v1::DeliveryLease> leases = Lease(v1::STEP_TYPE_EMAIL);
  ASSERT_EQ(leases.size(), 2u);
  v1::Recipient out;
  ASSERT_TRUE(server_.recipients()
                  .StopRecipient(CallAs().get(),
                                 ActionRequest(kSeq, leases[0].recipient_id()),
                                 &out)
                  .ok());
  v1::DeleteRecipientResponse deleted;
  ASSERT_TRUE(server_.recipients()
                  .DeleteRecipient(
                      CallAs().get(),
                      ActionRequest(kSeq, leases[1].recipient_id()), &deleted)
                  .ok());
  EXPECT_THAT(Begin(leases[0]),
              StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_NE(Begin(leases[1]).error_code(), grpc::StatusCode::OK);
  server_.AdvanceTime(absl::Hours(5));
  EXPECT_TRUE(Lease(v1::STEP_TYPE_EMAIL).empty());
}

TEST_F(RuntimeTest, LongPollReturnsWhenWorkBecomesDue) {
  CreateSequence(server_, kSeq, {EmailStep(absl::Hours(1))});
  Enroll(server_, kSeq, {"r1"});
  v1::LeaseStepsResponse response;
  grpc::Status status;
  std::thread worker([&] {
    v1::LeaseStepsRequest request;
    request.set_channel(v1::STEP_TYPE_EMAIL);
    request.mutable_wait()->set_seconds(30);
    status = server_.delivery().LeaseSteps(CallAs().get(), request, &response);
  });
  // The long poll may start before or after this; either way it sees the step.
  server_.AdvanceTime(absl::Hours(1));
  worker.join();
  ASSERT_TRUE(status.ok()) << status.error_message();
  if (response.leases_size() == 0) {
    // It polled before the step was due and woke on a commit that made no
    // delivery work; a second poll must find it at once.
    EXPECT_EQ(Lease(v1::STEP_TYPE_EMAIL).size(), 1u);
  } else {
    EXPECT_EQ(response.leases(0).recipient_id(), "r1");
  }
}

TEST_F(RuntimeTest, RestartInTheMiddleLosesNothing) {
  CreateSequence(server_, kSeq,
                 {EmailStep(absl::Hours(1)), EmailStep(absl::Hours(1))});
  Enroll(server_, kSeq, {"leased", "begun", "waiting"});
  server_.AdvanceTime(absl::Hours(1));
  std::vector<v1::DeliveryLease> leases = Lease(v1::STEP_TYPE_EMAIL);
  ASSERT_EQ(leases.size(), 3u);
  const v1::DeliveryLease* begun = nullptr;
  const v1::DeliveryLease* leased = nullptr;
  for (const auto& lease : leases) {
    if (lease.recipient_id() == "begun") begun = &lease;
    if (lease.recipient_id() == "leased") leased = &lease;
  }
  ASSERT_NE(begun, nullptr);
  ASSERT_NE(leased, nullptr);
  ASSERT_TRUE(Begin(*begun).ok());
  v1::Recipient out;
  ASSERT_TRUE(
      server_.recipients()
          .PauseRecipient(CallAs().get(), ActionRequest(kSeq, "waiting"), &out)
          .ok());

  server_.Restart();

  // A send that had begun reports after the restart.
  v1::Recipient reported;
  ASSERT_TRUE(Report(*begun, v1::DELIVERY_OUTCOME_SENT, &reported).ok());
  EXPECT_EQ(reported.current_step(), 1);
  // A lease that had not begun is void; its step is offered again.
  EXPECT_THAT(Begin(*leased), StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
  std::vector<v1::DeliveryLease> again = Lease(v1::STEP_TYPE_EMAIL);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].recipient_id(), "leased");
  EXPECT_EQ(Get("waiting").status(), v1::RECIPIENT_STATUS_PAUSED);
  // The next step of "begun" is scheduled and runs after the restart too.
  server_.AdvanceTime(absl::Hours(1));
  bool begun_next = false;
  for (const auto& lease : Lease(v1::STEP_TYPE_EMAIL)) {
    if (lease.recipient_id() == "begun") begun_next = lease.step_index() == 1;
  }
  EXPECT_TRUE(begun_next);
}

TEST_F(RuntimeTest, BadLeaseRequestsAreInvalidArgument) {
  v1::LeaseStepsRequest request;
  v1::LeaseStepsResponse response;
  request.set_channel(v1::STEP_TYPE_TASK);
  EXPECT_THAT(server_.delivery().LeaseSteps(CallAs().get(), request, &response),
              StatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  request.set_channel(v1::STEP_TYPE_EMAIL);
  request.set_max_steps(101);
  EXPECT_THAT(server_.delivery().LeaseSteps(CallAs().get(), request, &response),
              StatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  request.set_max_steps(1);
  request.mutable_wait()->set_seconds(31);
  EXPECT_THAT(server_.delivery().LeaseSteps(CallAs().get(), request, &response),
              StatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  v1::ReportDeliveryRequest report;
  report.set_lease_token("abc");
  report.set_sequence_id(kSeq);
  report.set_recipient_id("r1");
  report.set_outcome(v1::DELIVERY_OUTCOME_FAILED);
  v1::Recipient out;
  EXPECT_THAT(server_.delivery().ReportDelivery(CallAs().get(), report, &out),
              StatusIs(grpc::StatusCode::INVALID_ARGUMENT))
      << "FAILED needs an error message";
}

}  // namespace
}  // namespace sequencer::testing

namespace sequencer::testing {
namespace {

// Without the manual clock's AdvanceTime, the scheduler runs in its own thread
// (as in production): a commit wakes it, it processes what is due, and a
// long-polling worker is woken in turn. No sleeps: the long poll's bounded
// wait returns as soon as the step is deliverable.
TEST(BackgroundSchedulerTest, WakesOnCommitsAndHandsDueStepsToALongPoll) {
  TestServer server(/*background_scheduler=*/true);
  CreateSequence(server, kSeq, {EmailStep(absl::Hours(1))});
  Enroll(server, kSeq, {"r1"});
  server.clock().Advance(absl::Hours(1));
  // Any commit signals the scheduler; this one enrolls someone not yet due.
  Enroll(server, kSeq, {"r2"});

  v1::LeaseStepsRequest request;
  request.set_channel(v1::STEP_TYPE_EMAIL);
  request.mutable_wait()->set_seconds(30);
  v1::LeaseStepsResponse response;
  for (int attempt = 0; attempt < 3 && response.leases_size() == 0; ++attempt) {
    ASSERT_TRUE(
        server.delivery().LeaseSteps(CallAs().get(), request, &response).ok());
  }
  ASSERT_EQ(response.leases_size(), 1);
  EXPECT_EQ(response.leases(0).recipient_id(), "r1");

  // Without the manual clock nobody can move time: no ClockService.
  v1::AdvanceTimeRequest advance;
  advance.mutable_by()->set_seconds(3600);
  v1::TimeResponse now;
  EXPECT_THAT(server.clock_service().AdvanceTime(CallAs().get(), advance, &now),
              StatusIs(grpc::StatusCode::UNIMPLEMENTED));
}

// ---- What an outside client found (issue 7).

bool TimelineHas(const v1::RecipientTimeline& timeline,
                 v1::Event::PayloadCase payload) {
  for (const auto& entry : timeline.entries()) {
    if (entry.event().payload_case() == payload) return true;
  }
  return false;
}

TEST_F(RuntimeTest, ABegunSendThatNeverReportsGoesToErrorAtItsDeadline) {
  v1::DeliveryLease lease;
  ASSERT_NO_FATAL_FAILURE(lease = BeginFirstEmail());
  const absl::Time begun_at = server_.clock().Now();

  // Within the deadline: GetRecipient says until when, and Skip waits.
  v1::Recipient in_flight = Get("r1");
  ASSERT_TRUE(in_flight.has_send_deadline());
  EXPECT_EQ(FromProtoTime(in_flight.send_deadline()),
            begun_at + absl::Minutes(15));
  grpc::Status skip = Act(server_, v1::ACTION_SKIP_STEP, kSeq, "r1");
  EXPECT_THAT(skip, StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(ErrorInfoOf(skip).reason(), "SEND_IN_PROGRESS");
  EXPECT_EQ(ErrorInfoOf(skip).metadata().count("send_deadline"), 1u);

  server_.AdvanceTime(absl::Minutes(14));
  EXPECT_EQ(Get("r1").status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  server_.AdvanceTime(absl::Minutes(1));
  v1::Recipient errored = Get("r1");
  EXPECT_EQ(errored.status(), v1::RECIPIENT_STATUS_ERROR);
  EXPECT_TRUE(
      absl::StrContains(errored.error_message(), "delivery outcome unknown"))
      << errored.error_message();
  EXPECT_FALSE(errored.has_send_deadline());
  EXPECT_TRUE(TimelineHas(Timeline("r1"), v1::Event::kSendTimedOut));

  // The article's way out: skip the stuck step.
  v1::Recipient skipped = MustAct(server_, v1::ACTION_SKIP_STEP, kSeq, "r1");
  EXPECT_EQ(skipped.current_step(), 1);
  EXPECT_EQ(skipped.status(), v1::RECIPIENT_STATUS_IN_PROGRESS);

  // A report arriving now is recorded truthfully and changes nothing else.
  v1::Recipient after_late;
  ASSERT_TRUE(Report(lease, v1::DELIVERY_OUTCOME_SENT, &after_late).ok());
  EXPECT_EQ(after_late.current_step(), 1);
  EXPECT_EQ(after_late.next_due_at().seconds(),
            skipped.next_due_at().seconds());
  EXPECT_TRUE(TimelineHas(Timeline("r1"), v1::Event::kDeliveryReportedLate));
}

TEST_F(RuntimeTest, ALateSentReportCompletesAStepStillInError) {
  v1::DeliveryLease lease;
  ASSERT_NO_FATAL_FAILURE(lease = BeginFirstEmail());
  server_.AdvanceTime(absl::Hours(2));
  ASSERT_EQ(Get("r1").status(), v1::RECIPIENT_STATUS_ERROR);
  v1::Recipient after;
  ASSERT_TRUE(Report(lease, v1::DELIVERY_OUTCOME_SENT, &after).ok());
  EXPECT_EQ(after.status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  EXPECT_EQ(after.current_step(), 1);
  EXPECT_EQ(FromProtoTime(after.next_due_at()),
            server_.clock().Now() + absl::Hours(24));
}

TEST_F(RuntimeTest, CompletingATaskDuringASequencePauseWaitsForTheResume) {
  CreateSequence(server_, kSeq,
                 {TaskStep(absl::ZeroDuration()), EmailStep(absl::Hours(24))});
  Enroll(server_, kSeq, {"r1"});
  ASSERT_EQ(Get("r1").status(), v1::RECIPIENT_STATUS_PENDING_ACTION);
  ASSERT_TRUE(PauseSequence(server_, kSeq, nullptr).ok());

  v1::Recipient done =
      MustAct(server_, v1::ACTION_COMPLETE_MANUAL_STEP, kSeq, "r1");
  EXPECT_EQ(done.status(), v1::RECIPIENT_STATUS_PAUSED);
  EXPECT_TRUE(done.paused_by_sequence());
  EXPECT_EQ(done.current_step(), 1);
  EXPECT_FALSE(done.has_next_due_at());
  EXPECT_EQ(app::FromProtoDuration("", done.remaining_delay()).value(),
            absl::Hours(24));

  // A pause longer than the delay runs nothing.
  server_.AdvanceTime(absl::Hours(48));
  EXPECT_TRUE(Lease(v1::STEP_TYPE_EMAIL).empty());
  ASSERT_TRUE(ResumeSequence(server_, kSeq, nullptr).ok());
  v1::Recipient resumed = Get("r1");
  EXPECT_EQ(resumed.status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  EXPECT_EQ(FromProtoTime(resumed.next_due_at()),
            server_.clock().Now() + absl::Hours(24));
  server_.AdvanceTime(absl::Hours(23));
  EXPECT_TRUE(Lease(v1::STEP_TYPE_EMAIL).empty());
  server_.AdvanceTime(absl::Hours(1));
  EXPECT_EQ(Lease(v1::STEP_TYPE_EMAIL).size(), 1u);
}

TEST_F(RuntimeTest, ASendBegunBeforeASequencePauseReportsIntoThePause) {
  v1::DeliveryLease lease;
  ASSERT_NO_FATAL_FAILURE(lease = BeginFirstEmail());
  ASSERT_TRUE(PauseSequence(server_, kSeq, nullptr).ok());
  v1::Recipient reported;
  ASSERT_TRUE(Report(lease, v1::DELIVERY_OUTCOME_SENT, &reported).ok());
  EXPECT_EQ(reported.status(), v1::RECIPIENT_STATUS_PAUSED);
  EXPECT_TRUE(reported.paused_by_sequence());
  EXPECT_EQ(reported.current_step(), 1);
  server_.AdvanceTime(absl::Hours(30));
  EXPECT_TRUE(Lease(v1::STEP_TYPE_SMS).empty());
  ASSERT_TRUE(ResumeSequence(server_, kSeq, nullptr).ok());
  EXPECT_EQ(FromProtoTime(Get("r1").next_due_at()),
            server_.clock().Now() + absl::Hours(24));
}

TEST_F(RuntimeTest, CustomVariablesAreAcceptedAndAMissingOneIsNamed) {
  CreateSequence(server_, kSeq,
                 {EmailStep(absl::Hours(1), "{{role}} in {{city}}",
                            "{{aira.opening_line}}")});
  v1::EnrollRecipientsRequest request;
  request.set_request_id(NextRequestId());
  request.set_sequence_id(kSeq);
  for (const std::string id : {"full", "no-role"}) {
    v1::RecipientInput* input = request.add_recipients();
    input->set_recipient_id(id);
    input->mutable_contact()->set_email(id + "@example.com");
    auto& variables = *input->mutable_variables();
    variables["city"] = "Lyon";
    variables["aira.opening_line"] = "Loved your talk.";
    if (id == "full") variables["role"] = "Staff engineer";
  }
  v1::EnrollRecipientsResponse enrolled;
  ASSERT_TRUE(server_.recipients()
                  .EnrollRecipients(CallAs().get(), request, &enrolled)
                  .ok());
  server_.AdvanceTime(absl::Hours(1));
  std::vector<v1::DeliveryLease> leases = Lease(v1::STEP_TYPE_EMAIL);
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].content().subject(), "Staff engineer in Lyon");
  EXPECT_EQ(leases[0].content().body(), "Loved your talk.");
  v1::Recipient missing = Get("no-role");
  EXPECT_EQ(missing.status(), v1::RECIPIENT_STATUS_ERROR);
  EXPECT_TRUE(absl::StrContains(missing.error_message(), "{{role}}"))
      << missing.error_message();
}

TEST_F(RuntimeTest, ARecipientsVariablesAreBounded) {
  CreateSequence(server_, kSeq, {EmailStep(absl::Hours(1))});
  v1::EnrollRecipientsRequest request;
  request.set_request_id(NextRequestId());
  request.set_sequence_id(kSeq);
  v1::RecipientInput* input = request.add_recipients();
  input->set_recipient_id("big");
  for (int i = 0; i < 101; ++i) {
    (*input->mutable_variables())[absl::StrCat("v", i)] = "x";
  }
  const std::vector<std::string> before = LogSnapshot(server_);
  v1::EnrollRecipientsResponse response;
  grpc::Status status =
      server_.recipients().EnrollRecipients(CallAs().get(), request, &response);
  EXPECT_THAT(status, StatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  std::optional<google::rpc::BadRequest> bad_request =
      server::BadRequestFromGrpcStatus(status);
  ASSERT_TRUE(bad_request.has_value()) << status.error_message();
  EXPECT_EQ(bad_request->field_violations(0).field(),
            "recipients[0].variables");
  EXPECT_EQ(LogSnapshot(server_), before);
}

TEST_F(RuntimeTest, BeginSendForARecipientDeletedAfterTheLeaseIsRevoked) {
  CreateSequence(server_, kSeq, {EmailStep(absl::Hours(1))});
  Enroll(server_, kSeq, {"r1"});
  server_.AdvanceTime(absl::Hours(1));
  std::vector<v1::DeliveryLease> leases = Lease(v1::STEP_TYPE_EMAIL);
  ASSERT_EQ(leases.size(), 1u);
  v1::DeliveryLease lease = leases[0];
  MustAct(server_, v1::ACTION_DELETE, kSeq, "r1");
  grpc::Status begin = Begin(lease);
  EXPECT_THAT(begin, StatusIs(grpc::StatusCode::FAILED_PRECONDITION))
      << begin.error_message();
  EXPECT_EQ(ErrorInfoOf(begin).reason(), "LEASE_REVOKED");
}

TEST_F(RuntimeTest, ARespondedRecipientThatFinishesKeepsItsFlags) {
  CreateSequence(server_, kSeq, {EmailStep(absl::Hours(1))},
                 /*stop_on_response=*/false);
  Enroll(server_, kSeq, {"r1"});
  ASSERT_TRUE(Signal(server_, kSeq, "r1", v1::SIGNAL_TYPE_REPLY).ok());
  ASSERT_TRUE(Signal(server_, kSeq, "r1", v1::SIGNAL_TYPE_MEETING_BOOKED).ok());
  server_.AdvanceTime(absl::Hours(1));
  EXPECT_EQ(DeliverAll(v1::STEP_TYPE_EMAIL), 1);
  v1::Recipient finished = Get("r1");
  EXPECT_EQ(finished.status(), v1::RECIPIENT_STATUS_FINISHED);
  EXPECT_TRUE(finished.responded());
  EXPECT_TRUE(finished.meeting_booked());
  v1::ListRecipientsRequest list;
  list.set_sequence_id(kSeq);
  list.add_statuses(v1::RECIPIENT_STATUS_FINISHED);
  v1::ListRecipientsResponse listed;
  ASSERT_TRUE(
      server_.recipients().ListRecipients(CallAs().get(), list, &listed).ok());
  ASSERT_EQ(listed.recipients_size(), 1);
  EXPECT_TRUE(listed.recipients(0).responded());
  EXPECT_TRUE(listed.recipients(0).meeting_booked());
}

}  // namespace
}  // namespace sequencer::testing
