// Bounded memory through the real sequencerd (issue: eight near-limit requests
// took the server to 2.3 GB; one recipient with 5,000 variables of 12 KB was
// accepted): requests are at most the largest valid request (16 MiB), a
// recipient's variables are bounded, and the bytes of requests in progress are
// bounded by --max_inflight_request_mib, beyond which a request answers
// RESOURCE_EXHAUSTED and writes nothing. The memory figures themselves come
// from bench/memory_burst_bench.cc.

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "server/status_conversion.h"
#include "tests/util/api_helpers.h"
#include "tests/util/daemon.h"
#include "tests/util/grpc_status_matchers.h"
#include "tests/util/temp_dir.h"

namespace sequencer::testing {
namespace {

constexpr char kSeq[] = "seq-m";

class BoundedMemoryTest : public ::testing::Test {
 protected:
  void StartDaemon(std::vector<std::string> flags = {}) {
    daemon_.set_extra_flags(std::move(flags));
    ASSERT_NO_FATAL_FAILURE(daemon_.Start());
    v1::CreateSequenceRequest create;
    create.set_request_id(NextRequestId());
    create.set_sequence_id(kSeq);
    create.set_name("Memory");
    *create.add_steps() = EmailStep(absl::Hours(24));
    v1::CreateSequenceResponse created;
    grpc::Status status =
        daemon_.sequences().CreateSequence(CallAs().get(), create, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // `count` recipients "<prefix>-<i>", each with one variable of
  // `value_bytes`.
  v1::EnrollRecipientsRequest Enrollment(const std::string& prefix, int count,
                                         size_t value_bytes) {
    v1::EnrollRecipientsRequest request;
    request.set_request_id(NextRequestId());
    request.set_sequence_id(kSeq);
    for (int i = 0; i < count; ++i) {
      v1::RecipientInput* input = request.add_recipients();
      input->set_recipient_id(absl::StrCat(prefix, "-", i));
      (*input->mutable_variables())["note"] = std::string(value_bytes, 'n');
    }
    return request;
  }

  grpc::Status Enroll(const v1::EnrollRecipientsRequest& request) {
    v1::EnrollRecipientsResponse response;
    return daemon_.recipients().EnrollRecipients(CallAs().get(), request,
                                                 &response);
  }

  // How many of `prefix`-0 .. `prefix`-(count-1) are enrolled.
  int Enrolled(const std::string& prefix, int count) {
    int found = 0;
    for (int i = 0; i < count; ++i) {
      v1::GetRecipientRequest request;
      request.set_sequence_id(kSeq);
      request.set_recipient_id(absl::StrCat(prefix, "-", i));
      v1::Recipient recipient;
      if (daemon_.recipients()
              .GetRecipient(CallAs().get(), request, &recipient)
              .ok()) {
        ++found;
      }
    }
    return found;
  }

  TempDir dir_;
  Daemon daemon_{dir_.path() + "/data"};
};

TEST_F(BoundedMemoryTest, ARequestOverTheLargestValidSizeIsRefusedUnread) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  // 5,000 variables of 12 KB on one recipient: about 60 MB.
  v1::EnrollRecipientsRequest huge;
  huge.set_request_id(NextRequestId());
  huge.set_sequence_id(kSeq);
  v1::RecipientInput* input = huge.add_recipients();
  input->set_recipient_id("huge");
  for (int i = 0; i < 5000; ++i) {
    (*input->mutable_variables())[absl::StrCat("v", i)] =
        std::string(12000, 'x');
  }
  grpc::Status status = Enroll(huge);
  EXPECT_THAT(status, StatusIs(grpc::StatusCode::RESOURCE_EXHAUSTED))
      << status.error_message();
  EXPECT_EQ(Enrolled("huge", 1), 0);

  // Just over 16 MiB is refused; a request within it is read and judged.
  v1::EnrollRecipientsRequest over = Enrollment("over", 2200, 8000);
  ASSERT_GT(over.ByteSizeLong(), 16u << 20);
  EXPECT_THAT(Enroll(over), StatusIs(grpc::StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_EQ(Enrolled("over", 3), 0);
  v1::EnrollRecipientsRequest within = Enrollment("within", 2000, 8000);
  ASSERT_LT(within.ByteSizeLong(), 16u << 20);
  grpc::Status ok = Enroll(within);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(Enrolled("within", 3), 3);
}

TEST_F(BoundedMemoryTest, ARecipientsVariablesAreBoundedWithTheFieldNamed) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  v1::EnrollRecipientsRequest request = Enrollment("v", 2, 10);
  auto& variables = *request.mutable_recipients(1)->mutable_variables();
  for (int i = 0; i < 5; ++i) {
    variables[absl::StrCat("big", i)] = std::string(8 * 1024, 'b');
  }
  grpc::Status status = Enroll(request);
  EXPECT_THAT(status, StatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  std::optional<google::rpc::BadRequest> bad_request =
      server::BadRequestFromGrpcStatus(status);
  ASSERT_TRUE(bad_request.has_value()) << status.error_message();
  EXPECT_EQ(bad_request->field_violations(0).field(),
            "recipients[1].variables");
  EXPECT_EQ(Enrolled("v", 2), 0);
}

TEST_F(BoundedMemoryTest,
       RequestsBeyondTheBudgetInProgressAreBusyAndWriteNothing) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--max_inflight_request_mib=2"}));
  // Alone, a request larger than the budget still runs.
  v1::EnrollRecipientsRequest alone = Enrollment("alone", 500, 6000);
  ASSERT_GT(alone.ByteSizeLong(), 2u << 20);
  grpc::Status alone_status = Enroll(alone);
  ASSERT_TRUE(alone_status.ok()) << alone_status.error_message();

  // Eight at once: each either runs whole or is refused as busy, untouched.
  constexpr int kCalls = 8;
  constexpr int kEach = 300;
  std::vector<v1::EnrollRecipientsRequest> requests;
  for (int c = 0; c < kCalls; ++c) {
    requests.push_back(Enrollment(absl::StrCat("c", c), kEach, 6000));
  }
  std::vector<grpc::Status> statuses(kCalls);
  std::vector<std::thread> threads;
  for (int c = 0; c < kCalls; ++c) {
    threads.emplace_back([&, c] { statuses[c] = Enroll(requests[c]); });
  }
  for (auto& thread : threads) thread.join();
  int ok = 0;
  for (int c = 0; c < kCalls; ++c) {
    SCOPED_TRACE(c);
    const std::string prefix = absl::StrCat("c", c);
    if (statuses[c].ok()) {
      ++ok;
      EXPECT_EQ(Enrolled(prefix, kEach), kEach);
      continue;
    }
    EXPECT_THAT(statuses[c], StatusIs(grpc::StatusCode::RESOURCE_EXHAUSTED));
    EXPECT_TRUE(
        absl::StrContains(statuses[c].error_message(), "retry with backoff"))
        << statuses[c].error_message();
    EXPECT_EQ(Enrolled(prefix, kEach), 0);
    // The retry the message asks for succeeds once the server is idle.
    grpc::Status retried = Enroll(requests[c]);
    EXPECT_TRUE(retried.ok()) << retried.error_message();
    EXPECT_EQ(Enrolled(prefix, kEach), kEach);
  }
  EXPECT_GE(ok, 1);
}

}  // namespace
}  // namespace sequencer::testing
