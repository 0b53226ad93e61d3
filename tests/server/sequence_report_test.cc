// The sequence report through the real binaries: sequencerd (manual clock, a
// free port, a temporary data directory) answers GetSequenceReport with exact
// numbers after a known workload, keeps them across a restart, refuses bad
// input; `sequencerctl report` prints it; `sequencerctl verify` finds an rp/
// entry altered behind the service's back; a data directory without rp/
// entries (made before the report existed) gets them back at start-up. And,
// on an in-process server, concurrent clients on one sequence leave it exact.

#include <signal.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "app/storage/event_codec.h"
#include "app/storage/projection_verifier.h"
#include "app/storage/store_layout.h"
#include "eventstore/rocksdb_event_store.h"
#include "google/protobuf/util/message_differencer.h"
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

// "waiting due sent skipped failed bounced replies meetings".
std::string Counts(const v1::StepCounters& c) {
  return absl::StrCat(c.waiting(), " ", c.due(), " ", c.sent(), " ",
                      c.skipped(), " ", c.failed(), " ", c.bounced(), " ",
                      c.replies(), " ", c.meetings());
}

std::string StatusCounts(const v1::SequenceReport& report) {
  std::vector<std::string> parts;
  for (const auto& count : report.by_status()) {
    parts.push_back(
        absl::StrCat(ShortName(count.status()), "=", count.count()));
  }
  return absl::StrJoin(parts, " ");
}

class SequenceReportDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(daemon_.Start()); }

  void MustOk(const grpc::Status& status, const std::string& what) {
    ASSERT_TRUE(status.ok()) << what << ": " << status.error_message();
  }

  grpc::Status Report(const std::string& sequence_id, v1::SequenceReport* out,
                      const std::string& tenant = kTenant) {
    v1::GetSequenceReportRequest request;
    request.set_sequence_id(sequence_id);
    return daemon_.sequences().GetSequenceReport(CallAs(tenant).get(), request,
                                                 out);
  }

  v1::SequenceReport MustReport(const std::string& sequence_id) {
    v1::SequenceReport report;
    grpc::Status status = Report(sequence_id, &report);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return report;
  }

  void Action(grpc::Status (v1::RecipientService::Stub::*method)(
                  grpc::ClientContext*, const v1::RecipientActionRequest&,
                  v1::Recipient*),
              const std::string& recipient_id) {
    v1::Recipient out;
    MustOk((daemon_.recipients().*method)(
               CallAs().get(), ActionRequest("s", recipient_id), &out),
           recipient_id);
  }

  void SignalOn(const std::string& recipient_id, v1::SignalType signal) {
    v1::RecordSignalRequest request;
    request.set_request_id(NextRequestId());
    request.set_sequence_id("s");
    request.set_recipient_id(recipient_id);
    request.set_signal(signal);
    v1::Recipient out;
    MustOk(daemon_.recipients().RecordSignal(CallAs().get(), request, &out),
           recipient_id);
  }

  // Sequence "s": EMAIL at once, a TASK an hour later, an SMS two hours
  // after that; six recipients brought to six different places:
  //   r1 sent step 0, then replied          RESPONDED (stopped by rule)
  //   r2 sent step 0, then booked a meeting  MEETING_BOOKED
  //   r3 step 0 failed (delivery error)      ERROR
  //   r4 step 0 bounced (worker's report)    BOUNCED
  //   r5 step 0 skipped, waits for step 1    IN_PROGRESS, waiting
  //   r6 paused                              PAUSED
  void RunWorkload() {
    v1::CreateSequenceRequest create;
    create.set_request_id(NextRequestId());
    create.set_sequence_id("s");
    create.set_name("Report");
    *create.add_steps() = EmailStep(absl::ZeroDuration());
    *create.add_steps() = TaskStep(absl::Hours(1));
    *create.add_steps() = SmsStep(absl::Hours(2));
    v1::CreateSequenceResponse created;
    MustOk(daemon_.sequences().CreateSequence(CallAs().get(), create, &created),
           "create");
    v1::EnrollRecipientsRequest enroll;
    enroll.set_request_id(NextRequestId());
    enroll.set_sequence_id("s");
    for (const char* id : {"r1", "r2", "r3", "r4", "r5", "r6"}) {
      v1::RecipientInput* input = enroll.add_recipients();
      input->set_recipient_id(id);
      input->mutable_contact()->set_email(absl::StrCat(id, "@example.com"));
      (*input->mutable_variables())["first_name"] = id;
      (*input->mutable_variables())["company"] = "Acme";
    }
    v1::EnrollRecipientsResponse enrolled;
    MustOk(daemon_.recipients().EnrollRecipients(CallAs().get(), enroll,
                                                 &enrolled),
           "enroll");
    Action(&v1::RecipientService::Stub::PauseRecipient, "r6");
    // Run the scheduler: step 0 is due for r1..r5.
    auto clock = v1::ClockService::NewStub(daemon_.channel());
    v1::AdvanceTimeRequest advance;
    advance.mutable_by()->set_seconds(1);
    v1::TimeResponse now;
    MustOk(clock->AdvanceTime(CallAs().get(), advance, &now), "advance");
    {
      const v1::SequenceReport report = MustReport("s");
      EXPECT_EQ(Counts(report.steps(0).counters()), "0 5 0 0 0 0 0 0");
    }
    Action(&v1::RecipientService::Stub::SkipStep, "r5");

    auto delivery = v1::DeliveryService::NewStub(daemon_.channel());
    v1::LeaseStepsRequest lease;
    lease.set_channel(v1::STEP_TYPE_EMAIL);
    lease.set_max_steps(10);
    v1::LeaseStepsResponse leases;
    MustOk(delivery->LeaseSteps(CallAs().get(), lease, &leases), "lease");
    ASSERT_EQ(leases.leases_size(), 4);
    for (const auto& leased : leases.leases()) {
      v1::BeginSendRequest begin;
      begin.set_lease_token(leased.lease_token());
      begin.set_sequence_id("s");
      begin.set_recipient_id(leased.recipient_id());
      v1::BeginSendResponse begun;
      MustOk(delivery->BeginSend(CallAs().get(), begin, &begun), "begin");
      v1::ReportDeliveryRequest report;
      report.set_lease_token(leased.lease_token());
      report.set_sequence_id("s");
      report.set_recipient_id(leased.recipient_id());
      report.set_provider_message_id("m-" + leased.recipient_id());
      if (leased.recipient_id() == "r3") {
        report.set_outcome(v1::DELIVERY_OUTCOME_FAILED);
        report.set_error_message("mailbox full");
      } else if (leased.recipient_id() == "r4") {
        report.set_outcome(v1::DELIVERY_OUTCOME_BOUNCED);
      } else {
        report.set_outcome(v1::DELIVERY_OUTCOME_SENT);
      }
      v1::Recipient after;
      MustOk(delivery->ReportDelivery(CallAs().get(), report, &after),
             "report " + leased.recipient_id());
    }
    SignalOn("r1", v1::SIGNAL_TYPE_REPLY);
    SignalOn("r2", v1::SIGNAL_TYPE_MEETING_BOOKED);
  }

  void ExpectWorkloadReport(const v1::SequenceReport& report) {
    EXPECT_EQ(report.sequence_id(), "s");
    EXPECT_EQ(report.recipients(), 6);
    EXPECT_EQ(StatusCounts(report),
              "IN_PROGRESS=1 PENDING_ACTION=0 PAUSED=1 ERROR=1 FINISHED=0 "
              "RESPONDED=1 MEETING_BOOKED=1 BOUNCED=1 STOPPED=0 "
              "UNSUBSCRIBED=0");
    ASSERT_EQ(report.steps_size(), 3);
    EXPECT_EQ(report.steps(0).index(), 0);
    EXPECT_EQ(report.steps(0).channel(), v1::STEP_TYPE_EMAIL);
    EXPECT_EQ(report.steps(1).channel(), v1::STEP_TYPE_TASK);
    EXPECT_EQ(report.steps(2).channel(), v1::STEP_TYPE_SMS);
    // waiting due sent skipped failed bounced replies meetings
    EXPECT_EQ(Counts(report.steps(0).counters()), "0 0 2 1 1 1 1 1");
    EXPECT_EQ(Counts(report.steps(1).counters()), "1 0 0 0 0 0 0 0");
    EXPECT_EQ(Counts(report.steps(2).counters()), "0 0 0 0 0 0 0 0");
    EXPECT_EQ(Counts(report.before_first_send()), "0 0 0 0 0 0 0 0");
    EXPECT_EQ(Counts(report.totals()), "1 0 2 1 1 1 1 1");
  }

  RunResult Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), SEQUENCERCTL_PATH);
    auto result = RunCommand(args, absl::Seconds(60), /*merge_stderr=*/true);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : RunResult{-1, ""};
  }

  // Stops the daemon and runs `change` on its store, opened directly.
  void WithStoppedStore(
      const std::function<void(eventstore::RocksDbEventStore&)>& change) {
    daemon_.Stop(SIGTERM);
    auto store = eventstore::RocksDbEventStore::Open(dir_.path());
    ASSERT_TRUE(store.ok()) << store.status();
    change(**store);
  }

  TempDir dir_;
  Daemon daemon_{dir_.path()};
};

TEST_F(SequenceReportDaemonTest, AnswersExactNumbersAfterAKnownWorkload) {
  ASSERT_NO_FATAL_FAILURE(RunWorkload());
  ExpectWorkloadReport(MustReport("s"));

  // A deleted recipient is no longer counted, nor is what it contributed.
  v1::DeleteRecipientResponse deleted;
  MustOk(daemon_.recipients().DeleteRecipient(
             CallAs().get(), ActionRequest("s", "r1"), &deleted),
         "delete");
  const v1::SequenceReport after = MustReport("s");
  EXPECT_EQ(after.recipients(), 5);
  EXPECT_EQ(Counts(after.steps(0).counters()), "0 0 1 1 1 1 0 1");

  // The same after a restart (the entries are stored).
  daemon_.Stop(SIGTERM);
  ASSERT_NO_FATAL_FAILURE(daemon_.Start());
  google::protobuf::util::MessageDifferencer same;
  std::string diff;
  same.ReportDifferencesToString(&diff);
  EXPECT_TRUE(same.Compare(MustReport("s"), after)) << diff;

  // sequencerctl report prints it.
  RunResult printed = Ctl({"report", "s", "--server=" + daemon_.address(),
                           std::string("--tenant=") + kTenant});
  EXPECT_EQ(printed.ExitCode(), 0) << printed.output;
  for (const char* line :
       {"recipients\t5\n", "IN_PROGRESS\t1\n", "PENDING_ACTION\t0\n",
        "RESPONDED\t0\n", "BOUNCED\t1\n",
        "STEP\tCHANNEL\tWAITING\tDUE\tSENT\tSKIPPED\tFAILED\tBOUNCED\tREPLIES\t"
        "MEETINGS\n",
        "0\tEMAIL\t0\t0\t1\t1\t1\t1\t0\t1\n",
        "1\tTASK\t1\t0\t0\t0\t0\t0\t0\t0\n", "2\tSMS\t0\t0\t0\t0\t0\t0\t0\t0\n",
        "-\tBEFORE_FIRST_SEND\t0\t0\t0\t0\t0\t0\t0\t0\n",
        "-\tTOTAL\t1\t0\t1\t1\t1\t1\t0\t1\n"}) {
    EXPECT_TRUE(absl::StrContains(printed.output, line))
        << "missing line " << line << " in:\n"
        << printed.output;
  }
  RunResult unknown = Ctl({"report", "nope", "--server=" + daemon_.address(),
                           std::string("--tenant=") + kTenant});
  EXPECT_EQ(unknown.ExitCode(), 2);
  EXPECT_TRUE(absl::StrContains(unknown.output, "NOT_FOUND")) << unknown.output;

  // verify agrees with what the service wrote.
  daemon_.Stop(SIGTERM);
  RunResult verified = Ctl({"verify", "--data_dir=" + dir_.path()});
  EXPECT_EQ(verified.ExitCode(), 0) << verified.output;
}

TEST_F(SequenceReportDaemonTest, RefusesBadInputAndWritesNothing) {
  ASSERT_NO_FATAL_FAILURE(RunWorkload());
  v1::SequenceReport out;
  for (const std::string& bad : {std::string(""), std::string("a/b"),
                                 std::string(129, 'a'), std::string("x y")}) {
    grpc::Status status = Report(bad, &out);
    EXPECT_THAT(status, StatusIs(grpc::StatusCode::INVALID_ARGUMENT)) << bad;
    EXPECT_TRUE(absl::StartsWith(status.error_message(), "sequence_id: "))
        << status.error_message();
  }
  EXPECT_THAT(Report("nope", &out), StatusIs(grpc::StatusCode::NOT_FOUND));
  // Another tenant has no sequence "s".
  EXPECT_THAT(Report("s", &out, "tenant-b"),
              StatusIs(grpc::StatusCode::NOT_FOUND));
  // No tenant at all.
  {
    grpc::ClientContext context;
    context.AddMetadata("x-actor", kActor);
    v1::GetSequenceReportRequest request;
    request.set_sequence_id("s");
    EXPECT_FALSE(
        daemon_.sequences().GetSequenceReport(&context, request, &out).ok());
  }
  ExpectWorkloadReport(MustReport("s"));

  // Nothing was written: the log ends where the workload left it.
  uint64_t last_position = 0;
  std::vector<std::pair<std::string, std::string>> index;
  WithStoppedStore([&](eventstore::RocksDbEventStore& store) {
    last_position = store.LastPosition();
    auto all = store.ScanIndex("", "", 1 << 20);
    ASSERT_TRUE(all.ok());
    index = *all;
  });
  ASSERT_NO_FATAL_FAILURE(daemon_.Start());
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(Report("a/b", &out).ok());
    EXPECT_FALSE(Report("nope", &out).ok());
    EXPECT_TRUE(Report("s", &out).ok());
  }
  WithStoppedStore([&](eventstore::RocksDbEventStore& store) {
    EXPECT_EQ(store.LastPosition(), last_position);
    auto all = store.ScanIndex("", "", 1 << 20);
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(*all, index);
  });
}

TEST_F(SequenceReportDaemonTest, VerifyFindsAnEntryAlteredBehindTheService) {
  ASSERT_NO_FATAL_FAILURE(RunWorkload());
  const std::string key = app::layout::ReportEntryKey(kTenant, "s", "r2");
  WithStoppedStore([&](eventstore::RocksDbEventStore& store) {
    auto value = store.GetIndex(key);
    ASSERT_TRUE(value.ok() && value->has_value());
    auto contribution = app::DecodeReportContribution(**value);
    ASSERT_TRUE(contribution.ok()) << contribution.status();
    contribution->steps.resize(1);
    contribution->steps[0].meetings += 10;
    eventstore::CommitBatch tamper;
    tamper.index_writes.push_back(
        {key, app::EncodeReportContribution(*contribution)});
    ASSERT_TRUE(store.Commit(tamper).ok());
  });
  RunResult verified = Ctl({"verify", "--data_dir=" + dir_.path()});
  EXPECT_EQ(verified.ExitCode(), 1) << verified.output;
  EXPECT_TRUE(absl::StrContains(verified.output,
                                "different index entry \"" + key + "\""))
      << verified.output;
}

TEST_F(SequenceReportDaemonTest, StartUpBackfillsADirectoryWithoutEntries) {
  ASSERT_NO_FATAL_FAILURE(RunWorkload());
  const v1::SequenceReport before = MustReport("s");
  // Make it a directory from before the report: no rp/ entry, no marker.
  WithStoppedStore([&](eventstore::RocksDbEventStore& store) {
    eventstore::CommitBatch drop;
    auto entries = store.ScanIndex(app::layout::kReportRoot, "", 1000);
    ASSERT_TRUE(entries.ok());
    ASSERT_EQ(entries->size(), 6u);
    for (const auto& [key, value] : *entries) {
      drop.index_writes.push_back({key, std::nullopt});
    }
    drop.index_writes.push_back(
        {app::layout::kReportBackfillMarker, std::nullopt});
    ASSERT_TRUE(store.Commit(drop).ok());
  });
  RunResult broken = Ctl({"verify", "--data_dir=" + dir_.path()});
  EXPECT_EQ(broken.ExitCode(), 1) << broken.output;
  EXPECT_TRUE(absl::StrContains(broken.output, "missing index entry \"rp/"))
      << broken.output;

  ASSERT_NO_FATAL_FAILURE(daemon_.Start());
  google::protobuf::util::MessageDifferencer same;
  std::string diff;
  same.ReportDifferencesToString(&diff);
  EXPECT_TRUE(same.Compare(MustReport("s"), before)) << diff;
  daemon_.Stop(SIGTERM);
  RunResult verified = Ctl({"verify", "--data_dir=" + dir_.path()});
  EXPECT_EQ(verified.ExitCode(), 0) << verified.output;
}

// Many clients acting at once on the recipients of one sequence (each its
// own recipients, all in the same sequence): the stored report still equals
// what verify rebuilds from the log, entry by entry, and counts every signal.
TEST(SequenceReportConcurrencyTest, ConcurrentActionsOnOneSequenceStayExact) {
  TestServer server;
  CreateSequence(server, "s",
                 {EmailStep(absl::Hours(1)), SmsStep(absl::Hours(2))},
                 /*stop_on_response=*/false);
  constexpr int kClients = 8;
  constexpr int kPerClient = 5;
  std::vector<std::string> all;
  for (int i = 0; i < kClients * kPerClient; ++i) {
    all.push_back(absl::StrCat("r", i));
  }
  Enroll(server, "s", all);
  std::atomic<int> replies{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int round = 0; round < 6; ++round) {
        for (int k = 0; k < kPerClient; ++k) {
          const std::string id = all[c * kPerClient + k];
          switch ((round + k) % 3) {
            case 0:
              if (Signal(server, "s", id, v1::SIGNAL_TYPE_REPLY).ok()) {
                ++replies;
              }
              break;
            case 1:
              (void)Act(server, v1::ACTION_PAUSE, "s", id);
              break;
            case 2:
              (void)Act(server, v1::ACTION_RESUME, "s", id);
              break;
          }
        }
      }
    });
  }
  for (std::thread& client : clients) client.join();

  v1::GetSequenceReportRequest request;
  request.set_sequence_id("s");
  v1::SequenceReport report;
  grpc::Status status =
      server.sequences().GetSequenceReport(CallAs().get(), request, &report);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(report.recipients(), kClients * kPerClient);
  EXPECT_EQ(report.before_first_send().replies(), replies.load());
  EXPECT_EQ(report.totals().replies(), replies.load());
  int64_t listed = 0;
  for (const auto& count : report.by_status()) listed += count.count();
  EXPECT_EQ(listed, kClients * kPerClient);

  app::ProjectionVerifier verifier(&server.store());
  absl::StatusOr<app::VerifyResult> verified = verifier.Verify();
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_TRUE(verified->ok()) << verified->Summary();
}

}  // namespace
}  // namespace sequencer::testing
