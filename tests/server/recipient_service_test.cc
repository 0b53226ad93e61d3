// The core flows through a real server: create, enroll, read, act, refuse,
// retry, restart.

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "app/storage/event_codec.h"
#include "gtest/gtest.h"
#include "tests/util/api_helpers.h"
#include "tests/util/grpc_status_matchers.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

using app::FromProtoTime;

class RecipientServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CreateSequence(server_, "seq-1",
                   {EmailStep(absl::Hours(24)), SmsStep(absl::Hours(72)),
                    TaskStep(absl::Hours(0))});
    Enroll(server_, "seq-1", {"r1", "r2", "r3"});
  }

  grpc::Status Pause(const std::string& recipient, v1::Recipient* out) {
    return server_.recipients().PauseRecipient(
        CallAs().get(), ActionRequest("seq-1", recipient), out);
  }

  TestServer server_;
};

TEST_F(RecipientServiceTest, EnrolledRecipientWaitsForTheFirstDelay) {
  v1::Recipient r = MustGetRecipient(server_, "seq-1", "r1");
  EXPECT_EQ(r.status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  EXPECT_EQ(r.current_step(), 0);
  EXPECT_EQ(r.step_count(), 3);
  EXPECT_EQ(FromProtoTime(r.next_due_at()),
            server_.clock().Now() + absl::Hours(24));
  EXPECT_EQ(r.version(), 1u);
  EXPECT_EQ(r.contact().email(), "r1@example.com");
  ASSERT_EQ(r.actions_size(), 8);
  for (const auto& a : r.actions()) {
    const bool expected =
        a.action() == v1::ACTION_PAUSE || a.action() == v1::ACTION_SKIP_STEP ||
        a.action() == v1::ACTION_EDIT_CONTENT ||
        a.action() == v1::ACTION_STOP || a.action() == v1::ACTION_DELETE;
    EXPECT_EQ(a.available(), expected) << v1::Action_Name(a.action());
    if (!a.available()) {
      EXPECT_FALSE(a.reason().empty()) << v1::Action_Name(a.action());
    }
  }
}

TEST_F(RecipientServiceTest, PauseFreezesDelayAndResumeContinuesIt) {
  server_.clock().Advance(absl::Hours(10));
  v1::Recipient paused;
  ASSERT_TRUE(Pause("r1", &paused).ok());
  EXPECT_EQ(paused.status(), v1::RECIPIENT_STATUS_PAUSED);
  EXPECT_EQ(paused.paused_from(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  EXPECT_EQ(app::FromProtoDuration("", paused.remaining_delay()).value(),
            absl::Hours(14));

  server_.clock().Advance(absl::Hours(48));
  v1::Recipient resumed;
  ASSERT_TRUE(server_.recipients()
                  .ResumeRecipient(CallAs().get(), ActionRequest("seq-1", "r1"),
                                   &resumed)
                  .ok());
  EXPECT_EQ(resumed.status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  EXPECT_EQ(FromProtoTime(resumed.next_due_at()),
            server_.clock().Now() + absl::Hours(14));
}

TEST_F(RecipientServiceTest,
       RefusedActionAnswersFailedPreconditionWithErrorInfoAndWritesNothing) {
  const std::vector<std::string> before = LogSnapshot(server_);
  v1::Recipient out;
  grpc::Status status = server_.recipients().ResumeRecipient(
      CallAs().get(), ActionRequest("seq-1", "r1"), &out);
  EXPECT_THAT(status, StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
  const google::rpc::ErrorInfo info = ErrorInfoOf(status);
  EXPECT_EQ(info.reason(), "ACTION_NOT_AVAILABLE");
  EXPECT_EQ(info.domain(), "sequencer.v1");
  EXPECT_EQ(info.metadata().at("status"), "RECIPIENT_STATUS_IN_PROGRESS");
  EXPECT_EQ(info.metadata().at("action"), "ACTION_RESUME");
  EXPECT_EQ(LogSnapshot(server_), before);
}

TEST_F(RecipientServiceTest,
       RetryWithSameRequestIdReturnsFirstOutcomeAndWritesNothing) {
  v1::RecipientActionRequest request = ActionRequest("seq-1", "r1");
  v1::Recipient first;
  ASSERT_TRUE(server_.recipients()
                  .PauseRecipient(CallAs().get(), request, &first)
                  .ok());
  const std::vector<std::string> after_first = LogSnapshot(server_);
  server_.clock().Advance(absl::Hours(1));
  v1::Recipient second;
  grpc::Status status =
      server_.recipients().PauseRecipient(CallAs().get(), request, &second);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(ProtoEquals(second, first));
  EXPECT_EQ(LogSnapshot(server_), after_first);
}

TEST_F(RecipientServiceTest,
       RequestIdReusedForAnotherRequestIsInvalidArgument) {
  v1::RecipientActionRequest request = ActionRequest("seq-1", "r1");
  v1::Recipient out;
  ASSERT_TRUE(
      server_.recipients().PauseRecipient(CallAs().get(), request, &out).ok());
  const std::vector<std::string> before = LogSnapshot(server_);
  request.set_recipient_id("r2");
  grpc::Status status =
      server_.recipients().PauseRecipient(CallAs().get(), request, &out);
  EXPECT_THAT(status, StatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(LogSnapshot(server_), before);
  EXPECT_EQ(MustGetRecipient(server_, "seq-1", "r2").status(),
            v1::RECIPIENT_STATUS_IN_PROGRESS);
}

TEST_F(RecipientServiceTest, ExpectedVersionMismatchIsAbortedAndWritesNothing) {
  const std::vector<std::string> before = LogSnapshot(server_);
  v1::RecipientActionRequest request = ActionRequest("seq-1", "r1");
  request.set_expected_version(7);
  v1::Recipient out;
  grpc::Status status =
      server_.recipients().PauseRecipient(CallAs().get(), request, &out);
  EXPECT_THAT(status, StatusIs(grpc::StatusCode::ABORTED));
  EXPECT_EQ(LogSnapshot(server_), before);

  request.set_request_id(NextRequestId());
  request.set_expected_version(1);
  ASSERT_TRUE(
      server_.recipients().PauseRecipient(CallAs().get(), request, &out).ok());
  EXPECT_EQ(out.version(), 2u);
}

TEST_F(RecipientServiceTest, OtherTenantSeesNothing) {
  v1::Recipient out;
  EXPECT_THAT(GetRecipient(server_, "seq-1", "r1", &out, "tenant-b"),
              StatusIs(grpc::StatusCode::NOT_FOUND));
  const std::vector<std::string> before = LogSnapshot(server_);
  grpc::Status status = server_.recipients().PauseRecipient(
      CallAs("tenant-b").get(), ActionRequest("seq-1", "r1"), &out);
  EXPECT_THAT(status, StatusIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_EQ(LogSnapshot(server_), before);
}

TEST_F(RecipientServiceTest, MissingTenantOrActorIsUnauthenticated) {
  v1::Recipient out;
  v1::GetRecipientRequest request;
  request.set_sequence_id("seq-1");
  request.set_recipient_id("r1");
  EXPECT_THAT(server_.recipients().GetRecipient(CallAs("", kActor).get(),
                                                request, &out),
              StatusIs(grpc::StatusCode::UNAUTHENTICATED));
  EXPECT_THAT(server_.recipients().GetRecipient(CallAs(kTenant, "").get(),
                                                request, &out),
              StatusIs(grpc::StatusCode::UNAUTHENTICATED));
}

TEST_F(RecipientServiceTest, EveryEventRecordsActorTimeAndRequest) {
  v1::RecipientActionRequest request = ActionRequest("seq-1", "r2");
  v1::Recipient out;
  ASSERT_TRUE(server_.recipients()
                  .PauseRecipient(CallAs(kTenant, "bob").get(), request, &out)
                  .ok());
  v1::GetRecipientRequest get;
  get.set_sequence_id("seq-1");
  get.set_recipient_id("r2");
  v1::RecipientTimeline timeline;
  ASSERT_TRUE(server_.recipients()
                  .GetRecipientTimeline(CallAs().get(), get, &timeline)
                  .ok());
  ASSERT_EQ(timeline.entries_size(), 2);
  EXPECT_TRUE(timeline.entries(0).event().has_recipient_enrolled());
  const v1::Event& paused = timeline.entries(1).event();
  ASSERT_TRUE(paused.has_paused());
  EXPECT_EQ(paused.metadata().actor(), "bob");
  EXPECT_EQ(paused.metadata().request_id(), request.request_id());
  EXPECT_EQ(paused.metadata().tenant_id(), kTenant);
  EXPECT_EQ(FromProtoTime(paused.metadata().occurred_at()),
            server_.clock().Now());
  EXPECT_EQ(timeline.entries(1).version(), 2u);
}

TEST_F(RecipientServiceTest, RestartAnswersExactlyAsBefore) {
  v1::Recipient out;
  ASSERT_TRUE(Pause("r1", &out).ok());
  ASSERT_TRUE(
      server_.recipients()
          .StopRecipient(CallAs().get(), ActionRequest("seq-1", "r2"), &out)
          .ok());
  std::vector<v1::Recipient> before;
  for (const char* id : {"r1", "r2", "r3"})
    before.push_back(MustGetRecipient(server_, "seq-1", id));
  server_.Restart();
  for (int i = 0; i < 3; ++i) {
    const std::string id = std::string("r") + std::to_string(i + 1);
    EXPECT_TRUE(ProtoEquals(MustGetRecipient(server_, "seq-1", id), before[i]))
        << id;
  }
}

}  // namespace
}  // namespace sequencer::testing
