// Against the real sequencerd binary: what LeaseSteps hands out for a step
// the scheduler queued (resolved by the scheduler when it queued it, see
// app/runtime/ready_steps.h) is exactly what a fold of the recipient gives,
// which is what the daemon uses after a restart (the memo is in memory only),
// including a recipient whose content was edited before its step was queued
// again.

#include <signal.h>

#include <map>
#include <string>

#include "app/storage/event_codec.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "tests/util/api_helpers.h"
#include "tests/util/daemon.h"
#include "tests/util/temp_dir.h"

namespace sequencer::testing {
namespace {

constexpr char kSeq[] = "seq";

class ReadyStepsDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(daemon_.Start()); }

  void Advance() {
    auto clock = v1::ClockService::NewStub(daemon_.channel());
    v1::AdvanceTimeRequest advance;
    *advance.mutable_by() = app::ToProtoDuration(absl::ZeroDuration());
    v1::TimeResponse time;
    grpc::Status status = clock->AdvanceTime(CallAs().get(), advance, &time);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // recipient id -> "step:body:phone" of every lease LeaseSteps hands out.
  std::map<std::string, std::string> LeaseAll() {
    auto delivery = v1::DeliveryService::NewStub(daemon_.channel());
    v1::LeaseStepsRequest lease;
    lease.set_channel(v1::STEP_TYPE_SMS);
    lease.set_max_steps(100);
    v1::LeaseStepsResponse leased;
    grpc::Status status = delivery->LeaseSteps(CallAs().get(), lease, &leased);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::map<std::string, std::string> out;
    for (const v1::DeliveryLease& one : leased.leases()) {
      out[one.recipient_id()] =
          absl::StrCat(one.step_index(), ":", one.content().body(), ":",
                       one.contact().phone());
    }
    return out;
  }

  TempDir dir_;
  Daemon daemon_{dir_.Sub("data")};
};

TEST_F(ReadyStepsDaemonTest, ALeaseHandsOutWhatAFoldOfTheRecipientGives) {
  const v1::CreateSequenceRequest create = SequenceRequest(
      kSeq, {SmsStep(absl::ZeroDuration(), "Text {{first_name}}"),
             SmsStep(absl::Hours(24))});
  v1::CreateSequenceResponse created;
  grpc::Status status =
      daemon_.sequences().CreateSequence(CallAs().get(), create, &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  v1::EnrollRecipientsRequest enroll;
  enroll.set_request_id("enroll-1");
  enroll.set_sequence_id(kSeq);
  for (const char* name : {"Ann", "Bob", "Cy"}) {
    v1::RecipientInput* recipient = enroll.add_recipients();
    recipient->set_recipient_id(absl::StrCat("r-", name));
    recipient->mutable_contact()->set_phone(absl::StrCat("+1555", name));
    (*recipient->mutable_variables())["first_name"] = name;
  }
  v1::EnrollRecipientsResponse enrolled;
  status =
      daemon_.recipients().EnrollRecipients(CallAs().get(), enroll, &enrolled);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_NO_FATAL_FAILURE(Advance());

  // Bob's queued step is edited: off the queue, then queued again edited.
  v1::EditContentRequest edit;
  edit.set_request_id("edit-1");
  edit.set_sequence_id(kSeq);
  edit.set_recipient_id("r-Bob");
  edit.set_step_index(0);
  edit.mutable_edit()->set_body("Edited for {{first_name}}");
  v1::Recipient edited;
  status = daemon_.recipients().EditContent(CallAs().get(), edit, &edited);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_NO_FATAL_FAILURE(Advance());

  const std::map<std::string, std::string> expected = {
      {"r-Ann", "0:Text Ann:+1555Ann"},
      {"r-Bob", "0:Edited for Bob:+1555Bob"},
      {"r-Cy", "0:Text Cy:+1555Cy"}};
  EXPECT_EQ(LeaseAll(), expected);

  // Leases and memos live in memory: after a restart every step is offered
  // again, resolved by folding each recipient, with the same answer.
  daemon_.Stop(SIGTERM);
  ASSERT_NO_FATAL_FAILURE(daemon_.Start());
  EXPECT_EQ(LeaseAll(), expected);
}

}  // namespace
}  // namespace sequencer::testing
