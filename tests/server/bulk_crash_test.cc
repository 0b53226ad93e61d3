// A bulk action is one atomic write: the real sequencerd binary, killed with
// SIGKILL while a bulk pause (or resume) of 10,000 recipients is in flight,
// comes back with all of them changed or none. Several rounds so that the kill
// lands at different moments; a call that was acknowledged must be complete.

#include <signal.h>
#include <sys/wait.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "tests/server/bulk_helpers.h"
#include "tests/util/api_helpers.h"
#include "tests/util/daemon.h"
#include "tests/util/process.h"
#include "tests/util/temp_dir.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(30);
constexpr char kSeq[] = "seq-crash";
constexpr int kRecipients = 10000;
// When each round kills the server, after sending the bulk call: at once; at
// half or nine tenths of the time the previous round's call took (measured on
// its retry); or as soon as the change is visible (committed). The timing only
// chooses where the kill lands; every outcome is checked the same way.
constexpr double kKillAfter[] = {0.0, 0.5, 0.9, -1.0};
constexpr int kRounds = sizeof(kKillAfter) / sizeof(kKillAfter[0]);

std::unique_ptr<grpc::ClientContext> WithDeadline() {
  auto context = CallAs();
  context->set_deadline(absl::ToChronoTime(absl::Now() + kTimeout));
  return context;
}

TEST(BulkCrashTest, KillNineDuringABulkActionLeavesAllOrNone) {
  TempDir dir;
  const std::string data_dir = dir.Sub("data");
  Daemon daemon(data_dir);
  ASSERT_NO_FATAL_FAILURE(daemon.Start());

  {
    v1::CreateSequenceRequest request;
    request.set_request_id(NextRequestId());
    request.set_sequence_id(kSeq);
    request.set_name("Crash");
    *request.add_steps() = EmailStep(absl::Hours(24));
    v1::CreateSequenceResponse response;
    grpc::Status status = daemon.sequences().CreateSequence(
        WithDeadline().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  const std::vector<std::string> ids = NumberedIds("r", kRecipients);
  {
    v1::EnrollRecipientsRequest request;
    request.set_request_id(NextRequestId());
    request.set_sequence_id(kSeq);
    for (const auto& id : ids) {
      v1::RecipientInput* input = request.add_recipients();
      input->set_recipient_id(id);
      input->mutable_contact()->set_email(absl::StrCat(id, "@example.com"));
      (*input->mutable_variables())["first_name"] = id;
      (*input->mutable_variables())["company"] = "Acme";
    }
    v1::EnrollRecipientsResponse response;
    grpc::Status status = daemon.recipients().EnrollRecipients(
        WithDeadline().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(response.enrolled_count(), kRecipients);
  }

  // Each round flips every recipient: pause, resume, pause, ...
  bool all_paused = false;
  int applied_before_kill = 0;
  int visible_rounds = 0;
  // How long a bulk call of every recipient takes (measured on each round's
  // retry when that retry applies the change).
  absl::Duration call_duration = absl::Seconds(1);
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    const v1::RecipientStatus from = all_paused
                                         ? v1::RECIPIENT_STATUS_PAUSED
                                         : v1::RECIPIENT_STATUS_IN_PROGRESS;
    const v1::RecipientStatus to = all_paused ? v1::RECIPIENT_STATUS_IN_PROGRESS
                                              : v1::RECIPIENT_STATUS_PAUSED;
    const v1::BulkActionRequest request = BulkRequest(
        kSeq, ids,
        all_paused ? v1::BULK_ACTION_TYPE_RESUME : v1::BULK_ACTION_TYPE_PAUSE);

    // Send the bulk call asynchronously and kill the server while it is in
    // flight.
    grpc::CompletionQueue queue;
    grpc::ClientContext context;
    context.AddMetadata("x-tenant-id", kTenant);
    context.AddMetadata("x-actor", kActor);
    context.set_deadline(absl::ToChronoTime(absl::Now() + kTimeout));
    v1::BulkActionResponse response;
    grpc::Status call_status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::BulkActionResponse>>
        call = daemon.recipients().AsyncBulkAction(&context, request, &queue);
    call->Finish(&response, &call_status, reinterpret_cast<void*>(1));
    const absl::Time sent = absl::Now();
    const double kill_after = kKillAfter[round];
    const absl::Duration window =
        kill_after >= 0 ? kill_after * call_duration : kTimeout;
    // Probe (no sleeping) until the window ends or the change is visible.
    bool visible_before_kill = false;
    while (kill_after != 0.0 && absl::Now() - sent < window) {
      v1::ListRecipientsRequest probe;
      probe.set_sequence_id(kSeq);
      probe.add_statuses(to);
      probe.set_page_size(1);
      v1::ListRecipientsResponse found;
      if (daemon.recipients()
              .ListRecipients(WithDeadline().get(), probe, &found)
              .ok() &&
          found.recipients_size() > 0) {
        visible_before_kill = true;
        break;
      }
    }
    const int wait_status = daemon.Stop(SIGKILL);
    EXPECT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL)
        << wait_status;
    void* tag = nullptr;
    bool ok = false;
    ASSERT_TRUE(queue.Next(&tag, &ok));
    EXPECT_EQ(tag, reinterpret_cast<void*>(1));
    queue.Shutdown();
    while (queue.Next(&tag, &ok)) {
    }
    const bool acknowledged = call_status.ok();
    if (acknowledged) ++applied_before_kill;

    // Restart on the same data: all or none.
    ASSERT_NO_FATAL_FAILURE(daemon.Start());
    const size_t changed = ListAllOn(daemon.recipients(), kSeq, {to}).size();
    const size_t unchanged =
        ListAllOn(daemon.recipients(), kSeq, {from}).size();
    EXPECT_TRUE((changed == ids.size() && unchanged == 0) ||
                (changed == 0 && unchanged == ids.size()))
        << changed << " changed, " << unchanged << " unchanged";
    if (acknowledged) {
      EXPECT_EQ(changed, ids.size()) << "an acknowledged call was lost";
    }
    if (visible_before_kill) {
      EXPECT_EQ(changed, ids.size()) << "a visible change was lost";
      ++visible_rounds;
    }

    // A retry with the same request id completes the call exactly once:
    // either it answers the recorded outcome or it applies now.
    v1::BulkActionResponse retried;
    const absl::Time retry_start = absl::Now();
    grpc::Status status =
        daemon.recipients().BulkAction(WithDeadline().get(), request, &retried);
    ASSERT_TRUE(status.ok()) << status.error_message();
    if (changed == 0) call_duration = absl::Now() - retry_start;
    EXPECT_TRUE(retried.applied());
    EXPECT_EQ(retried.affected_count(), kRecipients);
    EXPECT_EQ(ListAllOn(daemon.recipients(), kSeq, {to}).size(), ids.size());
    all_paused = !all_paused;
  }
  // Informational: in how many rounds the call was answered, or its change
  // visible, before the kill.
  RecordProperty("applied_before_kill", applied_before_kill);
  RecordProperty("visible_before_kill", visible_rounds);

  const int wait_status = daemon.Stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0)
      << wait_status;
  auto verify = RunCommand(
      {SEQUENCERCTL_PATH, "verify", "--data_dir=" + data_dir}, kTimeout);
  ASSERT_TRUE(verify.ok()) << verify.status();
  EXPECT_EQ(verify->ExitCode(), 0) << verify->output;
}

}  // namespace
}  // namespace sequencer::testing
