// Delete erases, against the real sequencerd binary (product.md "Delete";
// issue 11): after a deletion and a stop, no file under the data directory
// holds a byte of the recipient's contact fields, variables, edited content
// or the messages personalised for it; retried requests of the deleted
// recipient answer NOT_FOUND instead of its old data; the log keeps a
// tombstone and still verifies; the id can be enrolled again.

#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "app/storage/event_codec.h"
#include "eventstore/rocksdb_event_store.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "tests/util/api_helpers.h"
#include "tests/util/daemon.h"
#include "tests/util/grpc_status_matchers.h"
#include "tests/util/process.h"
#include "tests/util/temp_dir.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

constexpr char kSeq[] = "seq";

class ErasureDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(Start()); }

  void Start() {
    ASSERT_NO_FATAL_FAILURE(daemon_.Start());
    delivery_ = v1::DeliveryService::NewStub(daemon_.channel());
    clock_ = v1::ClockService::NewStub(daemon_.channel());
  }

  void Stop() {
    const int wait_status = daemon_.Stop(SIGTERM);
    ASSERT_TRUE(WIFEXITED(wait_status)) << wait_status;
    ASSERT_EQ(WEXITSTATUS(wait_status), 0);
  }

  void CreateSmsSequence() {
    v1::CreateSequenceRequest create;
    create.set_request_id("create-1");
    create.set_sequence_id(kSeq);
    create.set_name("Outreach");
    *create.add_steps() = SmsStep(absl::ZeroDuration());
    *create.add_steps() = SmsStep(absl::Hours(24), "Later {{first_name}}");
    v1::CreateSequenceResponse created;
    grpc::Status status =
        daemon_.sequences().CreateSequence(CallAs().get(), create, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // Enrolls each id with its Marker in its contact fields and variables.
  void EnrollMarked(const std::vector<std::string>& ids,
                    const std::string& request_id) {
    v1::EnrollRecipientsRequest enroll;
    enroll.set_request_id(request_id);
    enroll.set_sequence_id(kSeq);
    for (const std::string& id : ids) {
      v1::RecipientInput* recipient = enroll.add_recipients();
      recipient->set_recipient_id(id);
      recipient->mutable_contact()->set_email(Marker(id) + "@example.com");
      recipient->mutable_contact()->set_phone("+15550100");
      (*recipient->mutable_variables())["first_name"] = Marker(id);
    }
    v1::EnrollRecipientsResponse enrolled;
    grpc::Status status = daemon_.recipients().EnrollRecipients(
        CallAs().get(), enroll, &enrolled);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  void Advance(absl::Duration by) {
    v1::AdvanceTimeRequest advance;
    *advance.mutable_by() = app::ToProtoDuration(by);
    v1::TimeResponse time;
    grpc::Status status = clock_->AdvanceTime(CallAs().get(), advance, &time);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // Sends every due SMS step: the messages personalised for each recipient
  // are recorded in its events (StepDispatched).
  void DeliverDueSteps(int expected) {
    v1::LeaseStepsRequest lease;
    lease.set_channel(v1::STEP_TYPE_SMS);
    lease.set_max_steps(100);
    v1::LeaseStepsResponse leased;
    grpc::Status status = delivery_->LeaseSteps(CallAs().get(), lease, &leased);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(leased.leases_size(), expected);
    for (const v1::DeliveryLease& one : leased.leases()) {
      v1::BeginSendRequest begin;
      begin.set_lease_token(one.lease_token());
      begin.set_sequence_id(kSeq);
      begin.set_recipient_id(one.recipient_id());
      v1::BeginSendResponse began;
      status = delivery_->BeginSend(CallAs().get(), begin, &began);
      ASSERT_TRUE(status.ok()) << status.error_message();
      EXPECT_TRUE(absl::StrContains(began.content().body(),
                                    Marker(one.recipient_id())));
      v1::ReportDeliveryRequest report;
      report.set_lease_token(one.lease_token());
      report.set_sequence_id(kSeq);
      report.set_recipient_id(one.recipient_id());
      report.set_outcome(v1::DELIVERY_OUTCOME_SENT);
      report.set_provider_message_id("provider-1");
      v1::Recipient reported;
      status = delivery_->ReportDelivery(CallAs().get(), report, &reported);
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
  }

  v1::RecipientActionRequest Action(const std::string& request_id,
                                    const std::string& recipient_id) {
    v1::RecipientActionRequest request;
    request.set_request_id(request_id);
    request.set_sequence_id(kSeq);
    request.set_recipient_id(recipient_id);
    return request;
  }

  grpc::Status Get(const std::string& recipient_id, v1::Recipient* out) {
    v1::GetRecipientRequest request;
    request.set_sequence_id(kSeq);
    request.set_recipient_id(recipient_id);
    return daemon_.recipients().GetRecipient(CallAs().get(), request, out);
  }

  TempDir dir_;
  const std::string data_dir_ = dir_.Sub("data");
  Daemon daemon_{data_dir_};
  std::unique_ptr<v1::DeliveryService::Stub> delivery_;
  std::unique_ptr<v1::ClockService::Stub> clock_;
};

TEST_F(ErasureDaemonTest, ADeletedRecipientLeavesNoByteInTheDataDirectory) {
  ASSERT_NO_FATAL_FAILURE(CreateSmsSequence());
  ASSERT_NO_FATAL_FAILURE(EnrollMarked({"victim", "keep"}, "enroll-1"));
  ASSERT_NO_FATAL_FAILURE(Advance(absl::ZeroDuration()));
  ASSERT_NO_FATAL_FAILURE(DeliverDueSteps(2));

  // Its own requests: an edit (content) and a pause, whose recorded answers
  // hold its contact fields and variables; a bulk resume shared with "keep".
  v1::EditContentRequest edit;
  edit.set_request_id("edit-1");
  edit.set_sequence_id(kSeq);
  edit.set_recipient_id("victim");
  edit.set_step_index(1);
  edit.mutable_edit()->set_body(
      absl::StrCat("Edited for ", Marker("victim"), " {{first_name}}"));
  v1::Recipient edited;
  grpc::Status status =
      daemon_.recipients().EditContent(CallAs().get(), edit, &edited);
  ASSERT_TRUE(status.ok()) << status.error_message();
  v1::Recipient paused;
  status = daemon_.recipients().PauseRecipient(
      CallAs().get(), Action("pause-1", "victim"), &paused);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(absl::StrContains(paused.contact().email(), Marker("victim")));
  v1::BulkActionRequest bulk;
  bulk.set_request_id("bulk-pause");
  bulk.set_sequence_id(kSeq);
  bulk.add_recipient_ids("keep");
  bulk.set_action(v1::BULK_ACTION_TYPE_PAUSE);
  v1::BulkActionResponse bulk_answer;
  status = daemon_.recipients().BulkAction(CallAs().get(), bulk, &bulk_answer);
  ASSERT_TRUE(status.ok()) << status.error_message();

  // A restart moves the data into table files (a stop flushes the memtable),
  // where only a compaction removes it; the scan sees it there.
  ASSERT_NO_FATAL_FAILURE(Stop());
  ASSERT_FALSE(FilesContaining(data_dir_, Marker("victim")).empty());
  ASSERT_FALSE(FilesContaining(data_dir_, Marker("keep")).empty());
  ASSERT_NO_FATAL_FAILURE(Start());

  v1::DeleteRecipientResponse deleted;
  status = daemon_.recipients().DeleteRecipient(
      CallAs().get(), Action("delete-1", "victim"), &deleted);
  ASSERT_TRUE(status.ok()) << status.error_message();

  // Every read, and every retry of its own requests, is NOT_FOUND.
  v1::Recipient recipient;
  EXPECT_THAT(Get("victim", &recipient), StatusIs(grpc::StatusCode::NOT_FOUND));
  v1::Recipient retried;
  EXPECT_THAT(daemon_.recipients().PauseRecipient(
                  CallAs().get(), Action("pause-1", "victim"), &retried),
              StatusIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_EQ(retried.contact().email(), "");
  EXPECT_THAT(daemon_.recipients().EditContent(CallAs().get(), edit, &retried),
              StatusIs(grpc::StatusCode::NOT_FOUND));
  // The delete itself answers its retry as the first time.
  v1::DeleteRecipientResponse deleted_again;
  status = daemon_.recipients().DeleteRecipient(
      CallAs().get(), Action("delete-1", "victim"), &deleted_again);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(deleted_again.SerializeAsString(), deleted.SerializeAsString());
  // The other recipient and the shared requests are untouched.
  ASSERT_TRUE(Get("keep", &recipient).ok());
  EXPECT_EQ(recipient.status(), v1::RECIPIENT_STATUS_PAUSED);
  EXPECT_TRUE(absl::StrContains(recipient.contact().email(), Marker("keep")));
  v1::BulkActionResponse bulk_retried;
  status = daemon_.recipients().BulkAction(CallAs().get(), bulk, &bulk_retried);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(bulk_retried.SerializeAsString(), bulk_answer.SerializeAsString());

  ASSERT_NO_FATAL_FAILURE(Stop());
  EXPECT_EQ(FilesContaining(data_dir_, Marker("victim")),
            std::vector<std::string>());
  EXPECT_FALSE(FilesContaining(data_dir_, Marker("keep")).empty());
  RunResult verify = Ctl({"verify", "--data_dir=" + data_dir_});
  EXPECT_EQ(verify.ExitCode(), 0) << verify.output;
  EXPECT_TRUE(absl::StrContains(verify.output, "1 deletions erased"))
      << verify.output;

  // The id may be enrolled again, as a new recipient.
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_NO_FATAL_FAILURE(EnrollMarked({"victim"}, "enroll-2"));
  ASSERT_TRUE(Get("victim", &recipient).ok());
  EXPECT_EQ(recipient.version(), 1u);
  EXPECT_EQ(recipient.current_step(), 0);
  EXPECT_EQ(recipient.status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
}

TEST_F(ErasureDaemonTest, ABulkDeleteErasesEveryOneEvenAfterAKill) {
  ASSERT_NO_FATAL_FAILURE(CreateSmsSequence());
  ASSERT_NO_FATAL_FAILURE(EnrollMarked({"a", "b", "c"}, "enroll-1"));
  ASSERT_NO_FATAL_FAILURE(Advance(absl::ZeroDuration()));
  ASSERT_NO_FATAL_FAILURE(DeliverDueSteps(3));

  ASSERT_NO_FATAL_FAILURE(Stop());  // into table files, as above
  ASSERT_FALSE(FilesContaining(data_dir_, Marker("a")).empty());
  ASSERT_NO_FATAL_FAILURE(Start());

  v1::BulkActionRequest bulk;
  bulk.set_request_id("bulk-delete-1");
  bulk.set_sequence_id(kSeq);
  bulk.add_recipient_ids("a");
  bulk.add_recipient_ids("b");
  bulk.set_action(v1::BULK_ACTION_TYPE_DELETE);
  v1::BulkActionResponse first;
  grpc::Status status =
      daemon_.recipients().BulkAction(CallAs().get(), bulk, &first);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_FALSE(first.applied());
  bulk.set_request_id("bulk-delete-2");
  bulk.set_confirmation_token(first.confirmation().token());
  v1::BulkActionResponse applied;
  status = daemon_.recipients().BulkAction(CallAs().get(), bulk, &applied);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(applied.applied());
  EXPECT_EQ(applied.affected_count(), 2);

  // Killed at once: whatever the purge had done, the next start finishes it.
  daemon_.Stop(SIGKILL);
  ASSERT_NO_FATAL_FAILURE(Start());
  v1::Recipient recipient;
  EXPECT_THAT(Get("a", &recipient), StatusIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_THAT(Get("b", &recipient), StatusIs(grpc::StatusCode::NOT_FOUND));
  ASSERT_TRUE(Get("c", &recipient).ok());
  ASSERT_NO_FATAL_FAILURE(Stop());
  EXPECT_EQ(FilesContaining(data_dir_, Marker("a")),
            std::vector<std::string>());
  EXPECT_EQ(FilesContaining(data_dir_, Marker("b")),
            std::vector<std::string>());
  EXPECT_FALSE(FilesContaining(data_dir_, Marker("c")).empty());
  RunResult verify = Ctl({"verify", "--data_dir=" + data_dir_});
  EXPECT_EQ(verify.ExitCode(), 0) << verify.output;
  EXPECT_TRUE(absl::StrContains(verify.output, "2 deletions erased"))
      << verify.output;
}

TEST(SequencerctlCompactTest, PurgesWhatAStoreErasedWithoutPurging) {
  TempDir dir;
  const std::string data_dir = dir.Sub("data");
  const std::string marker = Marker("erased");
  {
    auto store = eventstore::RocksDbEventStore::Open(data_dir);
    ASSERT_TRUE(store.ok()) << store.status();
    eventstore::CommitBatch batch;
    batch.appends.push_back({"victim", 0, {{"E", marker}}});
    batch.appends.push_back({"other", 0, {{"E", "kept"}}});
    ASSERT_TRUE((*store)->Commit(batch).ok());
  }  // closed: the events are in a table file
  {
    auto store = eventstore::RocksDbEventStore::Open(data_dir);
    ASSERT_TRUE(store.ok()) << store.status();
    eventstore::CommitBatch erase;
    erase.erasures.push_back({"victim", 1, {}});
    ASSERT_TRUE((*store)->Commit(erase).ok());
  }  // closed without PurgeErased
  ASSERT_FALSE(FilesContaining(data_dir, marker).empty());

  RunResult compacted = Ctl({"compact", "--data_dir=" + data_dir});
  EXPECT_EQ(compacted.ExitCode(), 0) << compacted.output;
  EXPECT_TRUE(absl::StrContains(compacted.output, "compacted"))
      << compacted.output;
  EXPECT_EQ(FilesContaining(data_dir, marker), std::vector<std::string>());
  auto store = eventstore::RocksDbEventStore::Open(data_dir);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_FALSE((*store)->PurgePending());
  auto other = (*store)->ReadStream("other", 1, 10);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->size(), 1u);

  // A directory that is not there is refused, and nothing is created.
  RunResult missing = Ctl({"compact", "--data_dir=" + dir.Sub("none")});
  EXPECT_EQ(missing.ExitCode(), 2) << missing.output;
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("none")));
}

}  // namespace
}  // namespace sequencer::testing
