// The real binaries as separate processes: sequencerd survives kill -9 with
// every acknowledged change, stops cleanly on SIGTERM, and sequencerctl
// inspects and verifies what it left behind.

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
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

constexpr absl::Duration kTimeout = absl::Seconds(30);

::testing::AssertionResult SameMessage(const google::protobuf::Message& a,
                                       const google::protobuf::Message& b) {
  google::protobuf::util::MessageDifferencer differencer;
  std::string report;
  differencer.ReportDifferencesToString(&report);
  if (differencer.Compare(a, b)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << report;
}

void CreateSequenceOn(Daemon& daemon, const std::string& sequence_id) {
  v1::CreateSequenceRequest request;
  request.set_request_id(NextRequestId());
  request.set_sequence_id(sequence_id);
  request.set_name("Outreach");
  *request.add_steps() = EmailStep(absl::Hours(24));
  *request.add_steps() = TaskStep(absl::Hours(48));
  v1::CreateSequenceResponse response;
  grpc::Status status =
      daemon.sequences().CreateSequence(CallAs().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
}

std::vector<std::string> RecipientIds(int count) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) ids.push_back(absl::StrCat("r", 1000 + i));
  return ids;
}

void EnrollOn(Daemon& daemon, const std::string& sequence_id,
              const std::vector<std::string>& ids) {
  v1::EnrollRecipientsRequest request;
  request.set_request_id(NextRequestId());
  request.set_sequence_id(sequence_id);
  for (const auto& id : ids) {
    v1::RecipientInput* input = request.add_recipients();
    input->set_recipient_id(id);
    input->mutable_contact()->set_email(absl::StrCat(id, "@example.com"));
    (*input->mutable_variables())["first_name"] = absl::StrCat("Name-", id);
    (*input->mutable_variables())["company"] = "Acme";
  }
  v1::EnrollRecipientsResponse response;
  grpc::Status status =
      daemon.recipients().EnrollRecipients(CallAs().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.enrolled_count(), static_cast<int>(ids.size()));
}

grpc::Status GetOn(Daemon& daemon, const std::string& sequence_id,
                   const std::string& id, v1::Recipient* out) {
  v1::GetRecipientRequest request;
  request.set_sequence_id(sequence_id);
  request.set_recipient_id(id);
  return daemon.recipients().GetRecipient(CallAs().get(), request, out);
}

void ExpectKilled(int wait_status, int signal) {
  EXPECT_TRUE(WIFSIGNALED(wait_status)) << wait_status;
  if (WIFSIGNALED(wait_status)) {
    EXPECT_EQ(WTERMSIG(wait_status), signal);
  }
}

void ExpectExitedWith(int wait_status, int code) {
  ASSERT_TRUE(WIFEXITED(wait_status)) << wait_status;
  EXPECT_EQ(WEXITSTATUS(wait_status), code);
}

TEST(ProcessRecoveryTest, KillNineKeepsEveryAcknowledgedChange) {
  TempDir dir;
  const std::string data_dir = dir.Sub("data");
  Daemon daemon(data_dir);
  ASSERT_NO_FATAL_FAILURE(daemon.Start());

  const std::vector<std::string> ids = RecipientIds(20);
  ASSERT_NO_FATAL_FAILURE(CreateSequenceOn(daemon, "seq-1"));
  ASSERT_NO_FATAL_FAILURE(EnrollOn(daemon, "seq-1", ids));

  auto act = [&](auto method, const v1::RecipientActionRequest& request,
                 v1::Recipient* out) {
    grpc::Status status =
        (daemon.recipients().*method)(CallAs().get(), request, out);
    EXPECT_TRUE(status.ok())
        << request.recipient_id() << ": " << status.error_message();
  };
  const v1::RecipientActionRequest first_pause = ActionRequest("seq-1", ids[0]);
  v1::Recipient first_pause_answer;
  act(&v1::RecipientService::Stub::PauseRecipient, first_pause,
      &first_pause_answer);
  for (int i = 1; i < 5; ++i) {
    v1::Recipient out;
    act(&v1::RecipientService::Stub::PauseRecipient,
        ActionRequest("seq-1", ids[i]), &out);
  }
  for (int i = 5; i < 8; ++i) {
    v1::Recipient out;
    act(&v1::RecipientService::Stub::StopRecipient,
        ActionRequest("seq-1", ids[i]), &out);
  }
  {
    v1::DeleteRecipientResponse deleted;
    grpc::Status status = daemon.recipients().DeleteRecipient(
        CallAs().get(), ActionRequest("seq-1", ids[8]), &deleted);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // What the server answers before the crash.
  std::map<std::string, v1::Recipient> before;
  for (const auto& id : ids) {
    if (id == ids[8]) continue;
    ASSERT_TRUE(GetOn(daemon, "seq-1", id, &before[id]).ok()) << id;
  }
  v1::GetSequenceRequest get_sequence;
  get_sequence.set_sequence_id("seq-1");
  v1::Sequence sequence_before;
  ASSERT_TRUE(daemon.sequences()
                  .GetSequence(CallAs().get(), get_sequence, &sequence_before)
                  .ok());
  v1::ListRecipientsRequest list;
  list.set_sequence_id("seq-1");
  list.set_page_size(1000);
  v1::ListRecipientsResponse list_before;
  ASSERT_TRUE(daemon.recipients()
                  .ListRecipients(CallAs().get(), list, &list_before)
                  .ok());
  EXPECT_EQ(list_before.recipients_size(), 19);

  ExpectKilled(daemon.Stop(SIGKILL), SIGKILL);
  ASSERT_NO_FATAL_FAILURE(daemon.Start());

  for (const auto& [id, answer] : before) {
    v1::Recipient after;
    grpc::Status status = GetOn(daemon, "seq-1", id, &after);
    ASSERT_TRUE(status.ok()) << id << ": " << status.error_message();
    EXPECT_TRUE(SameMessage(answer, after)) << id;
  }
  EXPECT_EQ(before[ids[0]].status(), v1::RECIPIENT_STATUS_PAUSED);
  EXPECT_EQ(before[ids[5]].status(), v1::RECIPIENT_STATUS_STOPPED);
  v1::Recipient deleted;
  EXPECT_THAT(GetOn(daemon, "seq-1", ids[8], &deleted),
              StatusIs(grpc::StatusCode::NOT_FOUND));
  v1::Sequence sequence_after;
  ASSERT_TRUE(daemon.sequences()
                  .GetSequence(CallAs().get(), get_sequence, &sequence_after)
                  .ok());
  EXPECT_TRUE(SameMessage(sequence_before, sequence_after));
  v1::ListRecipientsResponse list_after;
  ASSERT_TRUE(daemon.recipients()
                  .ListRecipients(CallAs().get(), list, &list_after)
                  .ok());
  EXPECT_TRUE(SameMessage(list_before, list_after));

  // The idempotency record survived too: a retry answers as the first time and
  // writes nothing.
  v1::Recipient retried;
  act(&v1::RecipientService::Stub::PauseRecipient, first_pause, &retried);
  EXPECT_TRUE(SameMessage(first_pause_answer, retried));
  v1::Recipient after_retry;
  ASSERT_TRUE(GetOn(daemon, "seq-1", ids[0], &after_retry).ok());
  EXPECT_EQ(after_retry.version(), before[ids[0]].version());

  ExpectExitedWith(daemon.Stop(SIGTERM), 0);
  RunResult verify = Ctl({"verify", "--data_dir=" + data_dir});
  EXPECT_EQ(verify.ExitCode(), 0) << verify.output;
  EXPECT_TRUE(
      absl::StrContains(verify.output,
                        "recipients: 19 listed, 0 deleted (kept), 1 deletions "
                        "erased"))
      << verify.output;
}

TEST(ProcessRecoveryTest, KillNineDuringWritesLosesNoAcknowledgedChange) {
  TempDir dir;
  const std::string data_dir = dir.Sub("data");
  Daemon daemon(data_dir);
  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  const std::vector<std::string> ids = RecipientIds(400);
  ASSERT_NO_FATAL_FAILURE(CreateSequenceOn(daemon, "seq-1"));
  ASSERT_NO_FATAL_FAILURE(EnrollOn(daemon, "seq-1", ids));

  // Four writers pause distinct recipients until the server dies.
  constexpr int kWriters = 4;
  absl::Mutex mu;
  std::map<std::string, uint64_t> acknowledged;  // id -> version answered
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (size_t i = w; i < ids.size(); i += kWriters) {
        v1::Recipient out;
        auto context = CallAs();
        context->set_deadline(absl::ToChronoTime(absl::Now() + kTimeout));
        grpc::Status status = daemon.recipients().PauseRecipient(
            context.get(), ActionRequest("seq-1", ids[i]), &out);
        if (!status.ok()) return;
        absl::MutexLock lock(&mu);
        acknowledged[ids[i]] = out.version();
      }
    });
  }
  bool reached = false;
  {
    absl::MutexLock lock(&mu);
    auto enough = [&]() { return acknowledged.size() >= 60; };
    reached = mu.AwaitWithTimeout(absl::Condition(&enough), kTimeout);
  }
  ExpectKilled(daemon.Stop(SIGKILL), SIGKILL);
  for (auto& writer : writers) writer.join();
  ASSERT_TRUE(reached) << acknowledged.size() << " acknowledged";
  ASSERT_LT(acknowledged.size(), ids.size()) << "killed too late to matter";

  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  int paused = 0;
  for (const auto& id : ids) {
    v1::Recipient after;
    ASSERT_TRUE(GetOn(daemon, "seq-1", id, &after).ok()) << id;
    auto it = acknowledged.find(id);
    if (it != acknowledged.end()) {
      EXPECT_EQ(after.status(), v1::RECIPIENT_STATUS_PAUSED) << id;
      EXPECT_EQ(after.version(), it->second) << id;
    }
    if (after.status() == v1::RECIPIENT_STATUS_PAUSED) ++paused;
  }
  EXPECT_GE(paused, static_cast<int>(acknowledged.size()));

  ExpectExitedWith(daemon.Stop(SIGTERM), 0);
  RunResult verify = Ctl({"verify", "--data_dir=" + data_dir});
  EXPECT_EQ(verify.ExitCode(), 0) << verify.output;
}

TEST(ProcessRecoveryTest, SigtermExitsCleanly) {
  TempDir dir;
  Daemon daemon(dir.Sub("data"));
  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  ASSERT_NO_FATAL_FAILURE(CreateSequenceOn(daemon, "seq-1"));
  ExpectExitedWith(daemon.Stop(SIGTERM), 0);
  auto rest = daemon.process().ReadAll(kTimeout);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_TRUE(absl::StrContains(*rest, "shutting down")) << *rest;
}

TEST(ProcessRecoveryTest, SequencerctlInspectsAServerAndItsDataDir) {
  TempDir dir;
  const std::string data_dir = dir.Sub("data");
  Daemon daemon(data_dir);
  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  ASSERT_NO_FATAL_FAILURE(CreateSequenceOn(daemon, "seq-1"));
  ASSERT_NO_FATAL_FAILURE(EnrollOn(daemon, "seq-1", {"ann", "bob"}));
  v1::RecipientActionRequest pause = ActionRequest("seq-1", "bob");
  v1::Recipient paused;
  ASSERT_TRUE(
      daemon.recipients().PauseRecipient(CallAs().get(), pause, &paused).ok());

  const std::string server = "--server=" + daemon.address();
  const std::string tenant = absl::StrCat("--tenant=", kTenant);

  RunResult health = Ctl({"health", server});
  EXPECT_EQ(health.ExitCode(), 0);
  EXPECT_EQ(health.output, "SERVING\n");

  RunResult status = Ctl({"status", "seq-1", "bob", server, tenant});
  EXPECT_EQ(status.ExitCode(), 0);
  EXPECT_TRUE(absl::StrContains(status.output, "RECIPIENT_STATUS_PAUSED"))
      << status.output;

  RunResult timeline = Ctl({"timeline", "seq-1", "bob", server, tenant});
  EXPECT_EQ(timeline.ExitCode(), 0);
  std::vector<std::string> lines =
      absl::StrSplit(timeline.output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << timeline.output;
  EXPECT_TRUE(absl::StrContains(lines[0], "RecipientEnrolled")) << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[0], kActor)) << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[1], "\tPaused\t")) << lines[1];
  EXPECT_TRUE(absl::StrContains(lines[1], pause.request_id())) << lines[1];
  EXPECT_TRUE(absl::StrContains(lines[1], "2026-01-05T09:00:00Z")) << lines[1];

  RunResult list = Ctl({"list", "seq-1", "--status=paused", server, tenant});
  EXPECT_EQ(list.ExitCode(), 0);
  EXPECT_TRUE(absl::StartsWith(list.output, "bob\tPAUSED\t")) << list.output;
  lines = absl::StrSplit(list.output, '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), 1u) << list.output;

  RunResult missing = Ctl({"status", "seq-1", "nobody", server, tenant});
  EXPECT_EQ(missing.ExitCode(), 2);
  RunResult no_tenant = Ctl({"status", "seq-1", "bob", server});
  EXPECT_EQ(no_tenant.ExitCode(), 2);

  // RocksDB's lock keeps the offline commands off a running server's data.
  RunResult locked = Ctl({"verify", "--data_dir=" + data_dir});
  EXPECT_EQ(locked.ExitCode(), 2) << locked.output;

  ExpectExitedWith(daemon.Stop(SIGTERM), 0);

  RunResult verify = Ctl({"verify", "--data_dir=" + data_dir});
  EXPECT_EQ(verify.ExitCode(), 0) << verify.output;
  EXPECT_TRUE(absl::StrContains(verify.output, "OK")) << verify.output;

  RunResult log =
      Ctl({"log", "--data_dir=" + data_dir, "--from=2", "--limit=2"});
  EXPECT_EQ(log.ExitCode(), 0);
  lines = absl::StrSplit(log.output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << log.output;
  EXPECT_TRUE(absl::StartsWith(lines[0],
                               "2\trcp/tenant-a/seq-1/ann\tv1\t"
                               "RecipientEnrolled\t{"))
      << lines[0];
  EXPECT_TRUE(absl::StartsWith(lines[1], "3\trcp/tenant-a/seq-1/bob\tv1\t"))
      << lines[1];

  RunResult text =
      Ctl({"log", "--data_dir=" + data_dir, "--from=4", "--format=text"});
  EXPECT_EQ(text.ExitCode(), 0);
  EXPECT_TRUE(absl::StrContains(text.output, "\tPaused\tmetadata {"))
      << text.output;

  RunResult unknown = Ctl({"frobnicate"});
  EXPECT_EQ(unknown.ExitCode(), 2);
}

}  // namespace
}  // namespace sequencer::testing
