// Long reads honour the call's deadline through the real sequencerd (issue
// 13). --testing_hold_long_reads makes a read's first deadline check wait
// until the call's deadline has passed, as a read longer than its deadline
// would; the read must then stop and answer DEADLINE_EXCEEDED, which the
// daemon's call log records (the client sees DEADLINE_EXCEEDED either way, so
// the log is what tells). A read that never checked its deadline would never
// be held, and would log OK. The app-level tests (stop after K items, no wall
// clock) are in tests/app/read_deadline_test.cc.

#include <chrono>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sequencer/v1/admin.grpc.pb.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "tests/util/api_helpers.h"
#include "tests/util/daemon.h"
#include "tests/util/temp_dir.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

class LongReadDeadlineDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_.set_extra_flags({"--log=stderr", "--testing_hold_long_reads"});
    ASSERT_NO_FATAL_FAILURE(daemon_.Start());
    auto create = CallAs();
    v1::CreateSequenceRequest sequence;
    sequence.set_request_id(NextRequestId());
    sequence.set_sequence_id("s1");
    sequence.set_name("Outreach");
    *sequence.add_steps() = EmailStep(absl::Hours(1));
    v1::CreateSequenceResponse created;
    ASSERT_TRUE(daemon_.sequences()
                    .CreateSequence(create.get(), sequence, &created)
                    .ok());
    auto enroll = CallAs();
    v1::EnrollRecipientsRequest enrollment;
    enrollment.set_request_id(NextRequestId());
    enrollment.set_sequence_id("s1");
    for (int i = 0; i < 10; ++i) {
      v1::RecipientInput* input = enrollment.add_recipients();
      input->set_recipient_id(absl::StrCat("r", i));
      input->mutable_contact()->set_email(absl::StrCat("r", i, "@x.com"));
      (*input->mutable_variables())["first_name"] = "Ada";
    }
    v1::EnrollRecipientsResponse enrolled;
    ASSERT_TRUE(daemon_.recipients()
                    .EnrollRecipients(enroll.get(), enrollment, &enrolled)
                    .ok());
  }

  // A context of tenant acme whose deadline is `ms` from now.
  static std::unique_ptr<grpc::ClientContext> WithDeadline(int ms) {
    auto context = CallAs();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::milliseconds(ms));
    return context;
  }

  // The code the daemon's call log records for the next call of `method`
  // ("GetSequenceReport").
  std::string LoggedCode(const std::string& method) {
    while (true) {
      absl::StatusOr<std::string> line =
          daemon_.process().ReadLine(Daemon::kTimeout);
      if (!line.ok()) return line.status().ToString();
      if (!absl::StrContains(*line, "\"event\":\"call\"") ||
          !absl::StrContains(*line, "/" + method + "\"")) {
        continue;
      }
      const size_t at = line->find("\"code\":\"");
      if (at == std::string::npos) return *line;
      const size_t begin = at + sizeof("\"code\":\"") - 1;
      return line->substr(begin, line->find('"', begin) - begin);
    }
  }

  TempDir dir_;
  Daemon daemon_{dir_.Sub("data"), /*capture_stderr=*/true};
};

TEST_F(LongReadDeadlineDaemonTest,
       ReportListingsAuditAndVerifyStopAtTheDeadline) {
  {
    auto context = WithDeadline(300);
    v1::GetSequenceReportRequest request;
    request.set_sequence_id("s1");
    v1::SequenceReport report;
    EXPECT_EQ(daemon_.sequences()
                  .GetSequenceReport(context.get(), request, &report)
                  .error_code(),
              grpc::StatusCode::DEADLINE_EXCEEDED);
    EXPECT_EQ(LoggedCode("GetSequenceReport"), "DEADLINE_EXCEEDED");
  }
  {
    auto context = WithDeadline(300);
    v1::ListRecipientsRequest request;
    request.set_sequence_id("s1");
    v1::ListRecipientsResponse response;
    EXPECT_EQ(daemon_.recipients()
                  .ListRecipients(context.get(), request, &response)
                  .error_code(),
              grpc::StatusCode::DEADLINE_EXCEEDED);
    EXPECT_EQ(LoggedCode("ListRecipients"), "DEADLINE_EXCEEDED");
  }
  {
    auto audit = v1::AuditService::NewStub(daemon_.channel());
    auto context = WithDeadline(300);
    v1::ReadEventsRequest request;
    v1::ReadEventsResponse response;
    EXPECT_EQ(audit->ReadEvents(context.get(), request, &response).error_code(),
              grpc::StatusCode::DEADLINE_EXCEEDED);
    EXPECT_EQ(LoggedCode("ReadEvents"), "DEADLINE_EXCEEDED");
  }
  {
    auto admin = v1::AdminService::NewStub(daemon_.channel());
    auto context = WithDeadline(300);
    v1::VerifyStoreRequest request;
    v1::VerifyStoreResponse response;
    EXPECT_EQ(
        admin->VerifyStore(context.get(), request, &response).error_code(),
        grpc::StatusCode::DEADLINE_EXCEEDED);
    EXPECT_EQ(LoggedCode("VerifyStore"), "DEADLINE_EXCEEDED");
  }
  // Without a deadline nothing is held, and the same reads answer.
  {
    auto context = CallAs();
    v1::GetSequenceReportRequest request;
    request.set_sequence_id("s1");
    v1::SequenceReport report;
    grpc::Status status =
        daemon_.sequences().GetSequenceReport(context.get(), request, &report);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(LoggedCode("GetSequenceReport"), "OK");
  }
}

}  // namespace
}  // namespace sequencer::testing
