// Per-call deadlines are honoured end to end (issue 13): a change whose
// caller's deadline passes before it is committed writes nothing (the
// unit-level check is in tests/app/command_runner_test.cc).

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "tests/util/api_helpers.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

v1::EnrollRecipientsRequest Enrollment(const std::string& request_id,
                                       const std::string& prefix, int count) {
  v1::EnrollRecipientsRequest request;
  request.set_request_id(request_id);
  request.set_sequence_id("s1");
  for (int i = 0; i < count; ++i) {
    v1::RecipientInput* input = request.add_recipients();
    input->set_recipient_id(absl::StrCat(prefix, i));
    input->mutable_contact()->set_email(absl::StrCat(prefix, i, "@x.com"));
    (*input->mutable_variables())["first_name"] = "Ada";
    (*input->mutable_variables())["company"] = "Acme";
  }
  return request;
}

TEST(DeadlineTest, AnEnrollmentWhoseCallerGaveUpWritesNothing) {
  TestServer server;
  CreateSequence(server, "s1", {EmailStep(absl::Hours(1))});
  // 10,000 recipients with a 1 ms deadline: the caller is gone long before
  // the server could commit (receiving and judging them takes longer).
  auto context = CallAs();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(1));
  v1::EnrollRecipientsResponse response;
  grpc::Status late = server.recipients().EnrollRecipients(
      context.get(), Enrollment("enroll-1", "late-", 10000), &response);
  EXPECT_EQ(late.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << late.error_message();
  // The same request id with another body: it waits for the first (same
  // request id lock) and runs only if the first recorded nothing; had the
  // first committed, this would be refused as a reused request id.
  auto retry = CallAs();
  grpc::Status status = server.recipients().EnrollRecipients(
      retry.get(), Enrollment("enroll-1", "other-", 1), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.enrolled_count(), 1);
  v1::ListRecipientsRequest list;
  list.set_sequence_id("s1");
  list.set_page_size(1000);
  v1::ListRecipientsResponse recipients;
  auto read = CallAs();
  ASSERT_TRUE(
      server.recipients().ListRecipients(read.get(), list, &recipients).ok());
  ASSERT_EQ(recipients.recipients_size(), 1);
  EXPECT_EQ(recipients.recipients(0).recipient_id(), "other-0");
}

}  // namespace
}  // namespace sequencer::testing
