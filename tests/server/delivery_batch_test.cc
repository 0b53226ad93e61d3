// The batch forms of delivery (BeginSends, ReportDeliveries) against the real
// sequencerd binary: each item answered as the single call would answer it,
// with its own google.rpc.Status and details, and a malformed batch refused
// whole without writing anything.

#include <signal.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "app/storage/event_codec.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "server/status_conversion.h"
#include "tests/util/api_helpers.h"
#include "tests/util/daemon.h"
#include "tests/util/grpc_status_matchers.h"
#include "tests/util/temp_dir.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

constexpr char kSeq[] = "seq";
constexpr int kRecipients = 5;

std::string ReasonOf(const google::rpc::Status& status) {
  for (const auto& any : status.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) return info.reason();
  }
  return "(no ErrorInfo)";
}

// The field of the first BadRequest violation a call's status carries.
std::string BadRequestFieldOf(const grpc::Status& status) {
  std::optional<google::rpc::BadRequest> bad_request =
      server::BadRequestFromGrpcStatus(status);
  if (!bad_request.has_value() || bad_request->field_violations_size() == 0) {
    return "(no BadRequest)";
  }
  return bad_request->field_violations(0).field();
}

std::string FieldOf(const google::rpc::Status& status) {
  for (const auto& any : status.details()) {
    google::rpc::BadRequest bad_request;
    if (any.UnpackTo(&bad_request) && bad_request.field_violations_size() > 0) {
      return bad_request.field_violations(0).field();
    }
  }
  return "(no BadRequest)";
}

class DeliveryBatchDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(daemon_.Start());
    delivery_ = v1::DeliveryService::NewStub(daemon_.channel());
    clock_ = v1::ClockService::NewStub(daemon_.channel());
    const v1::CreateSequenceRequest create = SequenceRequest(
        kSeq, {SmsStep(absl::ZeroDuration()), SmsStep(absl::Hours(24))});
    v1::CreateSequenceResponse created;
    grpc::Status status =
        daemon_.sequences().CreateSequence(CallAs().get(), create, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
    v1::EnrollRecipientsRequest enroll;
    enroll.set_request_id("enroll-1");
    enroll.set_sequence_id(kSeq);
    for (int i = 1; i <= kRecipients; ++i) {
      v1::RecipientInput* recipient = enroll.add_recipients();
      recipient->set_recipient_id(absl::StrCat("r", i));
      recipient->mutable_contact()->set_phone("+15550100");
      (*recipient->mutable_variables())["first_name"] = "Ann";
    }
    v1::EnrollRecipientsResponse enrolled;
    status = daemon_.recipients().EnrollRecipients(CallAs().get(), enroll,
                                                   &enrolled);
    ASSERT_TRUE(status.ok()) << status.error_message();
    v1::AdvanceTimeRequest advance;
    *advance.mutable_by() = app::ToProtoDuration(absl::ZeroDuration());
    v1::TimeResponse time;
    status = clock_->AdvanceTime(CallAs().get(), advance, &time);
    ASSERT_TRUE(status.ok()) << status.error_message();

    v1::LeaseStepsRequest lease;
    lease.set_channel(v1::STEP_TYPE_SMS);
    lease.set_max_steps(10);
    v1::LeaseStepsResponse leased;
    status = delivery_->LeaseSteps(CallAs().get(), lease, &leased);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(leased.leases_size(), kRecipients);
    for (const v1::DeliveryLease& one : leased.leases()) {
      token_of_[one.recipient_id()] = one.lease_token();
    }
  }

  v1::BeginSendRequest Send(const std::string& recipient_id) {
    v1::BeginSendRequest send;
    send.set_lease_token(token_of_[recipient_id]);
    send.set_sequence_id(kSeq);
    send.set_recipient_id(recipient_id);
    return send;
  }

  v1::Recipient Get(const std::string& recipient_id) {
    v1::GetRecipientRequest request;
    request.set_sequence_id(kSeq);
    request.set_recipient_id(recipient_id);
    v1::Recipient recipient;
    grpc::Status status =
        daemon_.recipients().GetRecipient(CallAs().get(), request, &recipient);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return recipient;
  }

  TempDir dir_;
  Daemon daemon_{dir_.Sub("data")};
  std::unique_ptr<v1::DeliveryService::Stub> delivery_;
  std::unique_ptr<v1::ClockService::Stub> clock_;
  std::map<std::string, std::string> token_of_;
};

TEST_F(DeliveryBatchDaemonTest, EachItemIsAnsweredAsTheSingleCallWould) {
  v1::RecipientActionRequest pause;
  pause.set_request_id("pause-r3");
  pause.set_sequence_id(kSeq);
  pause.set_recipient_id("r3");
  v1::Recipient paused;
  ASSERT_TRUE(
      daemon_.recipients().PauseRecipient(CallAs().get(), pause, &paused).ok());

  v1::BeginSendsRequest sends;
  *sends.add_sends() = Send("r1");
  *sends.add_sends() = Send("r2");
  *sends.add_sends() = Send("r3");  // paused since its lease
  v1::BeginSendRequest malformed = Send("r4");
  malformed.clear_lease_token();
  *sends.add_sends() = malformed;
  v1::BeginSendRequest unknown = Send("r4");
  unknown.set_lease_token("lease_unknown");
  *sends.add_sends() = unknown;
  *sends.add_sends() = Send("r5");
  v1::BeginSendsResponse began;
  grpc::Status status = delivery_->BeginSends(CallAs().get(), sends, &began);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(began.answers_size(), sends.sends_size());
  for (int i : {0, 1, 5}) {
    EXPECT_EQ(began.answers(i).status().code(), 0)
        << i << ": " << began.answers(i).status().message();
    EXPECT_EQ(began.answers(i).response().content().body(), "Text Ann") << i;
  }
  EXPECT_EQ(began.answers(2).status().code(),
            static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(ReasonOf(began.answers(2).status()), "LEASE_REVOKED");
  EXPECT_FALSE(began.answers(2).has_response());
  EXPECT_EQ(began.answers(3).status().code(),
            static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(FieldOf(began.answers(3).status()), "lease_token");
  EXPECT_EQ(ReasonOf(began.answers(4).status()), "LEASE_EXPIRED");
  EXPECT_EQ(Get("r1").status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  EXPECT_TRUE(Get("r3").send_deadline().seconds() == 0);
  EXPECT_TRUE(Get("r4").send_deadline().seconds() == 0);
  EXPECT_NE(Get("r5").send_deadline().seconds(), 0);

  // The single call retried for an item the batch began answers the same.
  v1::BeginSendResponse single;
  status = delivery_->BeginSend(CallAs().get(), Send("r2"), &single);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(single.content().body(),
            began.answers(1).response().content().body());

  v1::ReportDeliveriesRequest reports;
  for (const char* id : {"r1", "r2", "r5"}) {
    v1::ReportDeliveryRequest* report = reports.add_reports();
    report->set_lease_token(token_of_[id]);
    report->set_sequence_id(kSeq);
    report->set_recipient_id(id);
    report->set_outcome(id == std::string("r2") ? v1::DELIVERY_OUTCOME_BOUNCED
                                                : v1::DELIVERY_OUTCOME_SENT);
    report->set_provider_message_id(absl::StrCat("msg-", id));
  }
  v1::ReportDeliveryRequest* unspecified = reports.add_reports();
  *unspecified = reports.reports(0);
  unspecified->clear_outcome();
  v1::ReportDeliveriesResponse reported;
  status = delivery_->ReportDeliveries(CallAs().get(), reports, &reported);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(reported.answers_size(), 4);
  for (int i : {0, 1, 2}) {
    EXPECT_EQ(reported.answers(i).status().code(), 0)
        << i << ": " << reported.answers(i).status().message();
  }
  EXPECT_EQ(reported.answers(0).recipient().recipient_id(), "r1");
  EXPECT_EQ(reported.answers(0).recipient().current_step(), 1);
  EXPECT_EQ(reported.answers(1).recipient().status(),
            v1::RECIPIENT_STATUS_BOUNCED);
  EXPECT_EQ(reported.answers(3).status().code(),
            static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(FieldOf(reported.answers(3).status()), "outcome");
  EXPECT_FALSE(reported.answers(3).has_recipient());
  EXPECT_EQ(Get("r1").current_step(), 1);
  EXPECT_EQ(Get("r5").current_step(), 1);
  EXPECT_EQ(Get("r2").status(), v1::RECIPIENT_STATUS_BOUNCED);
  EXPECT_EQ(daemon_.Stop(SIGTERM), 0);
}

TEST_F(DeliveryBatchDaemonTest,
       AnEmptyOrOversizedBatchIsRefusedAndWritesNothing) {
  const v1::Recipient before = Get("r4");
  v1::BeginSendsRequest empty;
  v1::BeginSendsResponse began;
  grpc::Status status = delivery_->BeginSends(CallAs().get(), empty, &began);
  EXPECT_THAT(status, StatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(BadRequestFieldOf(status), "sends");

  v1::BeginSendsRequest oversized;
  for (int i = 0; i < 101; ++i) *oversized.add_sends() = Send("r4");
  status = delivery_->BeginSends(CallAs().get(), oversized, &began);
  EXPECT_THAT(status, StatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(began.answers_size(), 0);

  v1::ReportDeliveriesRequest reports;
  for (int i = 0; i < 101; ++i) {
    v1::ReportDeliveryRequest* report = reports.add_reports();
    report->set_lease_token(token_of_["r4"]);
    report->set_sequence_id(kSeq);
    report->set_recipient_id("r4");
    report->set_outcome(v1::DELIVERY_OUTCOME_SENT);
  }
  v1::ReportDeliveriesResponse reported;
  status = delivery_->ReportDeliveries(CallAs().get(), reports, &reported);
  EXPECT_THAT(status, StatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(BadRequestFieldOf(status), "reports");

  const v1::Recipient after = Get("r4");
  EXPECT_EQ(after.version(), before.version());
  EXPECT_EQ(after.send_deadline().seconds(), 0);
  // The lease is still good: the single call begins the send.
  v1::BeginSendResponse single;
  status = delivery_->BeginSend(CallAs().get(), Send("r4"), &single);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(daemon_.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace sequencer::testing
