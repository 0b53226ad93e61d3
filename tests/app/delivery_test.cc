// Delivery (lease, begin, report) on the in-memory store, with the
// scheduler run by hand on the manual clock.

#include "app/use_cases/delivery.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "app/storage/store_layout.h"
#include "app/use_cases/scheduler.h"
#include "app/use_cases/sequence_pause.h"
#include "domain/recipient.h"
#include "domain/refusal.h"
#include "gtest/gtest.h"
#include "tests/app/app_fixture.h"

namespace sequencer::app::testing {
namespace {

constexpr char kSeq[] = "seq-1";

std::string EncodeBegin(const BeginSendResult& result) {
  return result.content.has_value() ? "began:" + result.content->subject
                                    : "began:nothing";
}

std::string ReasonOf(const absl::Status& status) {
  std::optional<domain::Refusal> refusal = domain::GetRefusal(status);
  return refusal.has_value()
             ? std::string(domain::RefusalReasonName(refusal->reason))
             : "(no refusal)";
}

class AppDeliveryTest : public AppFixture {
 protected:
  void SetUp() override {
    // The first email is due at once, the second a day later.
    ASSERT_TRUE(CreateSequence(kSeq, {EmailStep(absl::ZeroDuration()),
                                      EmailStep(absl::Hours(24))})
                    .ok());
    ASSERT_TRUE(Enroll(kSeq, {"r1"}).ok());
    Scheduler scheduler(deps_);
    absl::StatusOr<int> ran = scheduler.RunDue();
    ASSERT_TRUE(ran.ok()) << ran.status();
    ASSERT_EQ(*ran, 1);
    ASSERT_TRUE(Recipient(kSeq, "r1").awaiting_delivery);
  }

  std::vector<LeasedStep> Lease() {
    absl::StatusOr<std::vector<LeasedStep>> leased = delivery_.TryLease(
        kTenant, domain::StepType::kEmail, 10, absl::Minutes(1));
    EXPECT_TRUE(leased.ok()) << leased.status();
    return leased.ok() ? *leased : std::vector<LeasedStep>{};
  }

  absl::StatusOr<Answered<BeginSendResult>> Begin(const std::string& token) {
    return delivery_.BeginSend(Call(), {token, kSeq, "r1"}, EncodeBegin);
  }

  Delivery delivery_{deps_};
};

TEST_F(AppDeliveryTest, LeaseBeginAndReportAdvanceTheRecipient) {
  const std::vector<LeasedStep> leased = Lease();
  ASSERT_EQ(leased.size(), 1u);
  EXPECT_EQ(leased[0].recipient_id, "r1");
  EXPECT_EQ(leased[0].step_index, 0);
  EXPECT_EQ(leased[0].content.subject, "Hello Ada");
  EXPECT_EQ(leased[0].contact.email, "r1@example.com");
  // Leased once: a second look finds nothing while the lease holds.
  EXPECT_TRUE(Lease().empty());

  absl::StatusOr<Answered<BeginSendResult>> began =
      Begin(leased[0].lease_token);
  ASSERT_TRUE(began.ok()) << began.status();
  EXPECT_EQ(began->response, "began:Hello Ada");
  domain::Recipient recipient = Recipient(kSeq, "r1");
  EXPECT_EQ(recipient.in_flight_token, leased[0].lease_token);
  EXPECT_FALSE(recipient.awaiting_delivery);
  // Begun: off the queue.
  EXPECT_TRUE(Lease().empty());

  ReportDeliveryRequest report;
  report.sequence_id = kSeq;
  report.recipient_id = "r1";
  report.report.lease_token = leased[0].lease_token;
  report.report.outcome = domain::DeliveryOutcome::kSent;
  report.report.provider_message_id = "msg-1";
  absl::StatusOr<Answered<CommandOutcome>> reported =
      delivery_.ReportDelivery(Call(), report, EncodeOutcome);
  ASSERT_TRUE(reported.ok()) << reported.status();
  recipient = Recipient(kSeq, "r1");
  EXPECT_EQ(recipient.status, domain::RecipientStatus::kInProgress);
  EXPECT_EQ(recipient.current_step, 1);
  EXPECT_TRUE(recipient.in_flight_token.empty());
  EXPECT_EQ(recipient.due_at, clock_.Now() + absl::Hours(24));
  ASSERT_TRUE(recipient.steps[0].sent_content.has_value());
  EXPECT_EQ(recipient.steps[0].sent_content->subject, "Hello Ada");
  EXPECT_EQ(reported->response,
            absl::StrCat("RECIPIENT_STATUS_IN_PROGRESS@v", recipient.version));
}

TEST_F(AppDeliveryTest, APauseAfterTheLeaseRevokesItAndBeginWritesNothing) {
  const std::vector<LeasedStep> leased = Lease();
  ASSERT_EQ(leased.size(), 1u);
  ASSERT_TRUE(Act(kSeq, "r1", domain::PauseRecipient{}).ok());
  const StoreImage before = Image();
  absl::StatusOr<Answered<BeginSendResult>> began =
      Begin(leased[0].lease_token);
  EXPECT_EQ(began.status().code(), absl::StatusCode::kFailedPrecondition)
      << began.status();
  EXPECT_EQ(ReasonOf(began.status()),
            std::string(domain::RefusalReasonName(
                domain::RefusalReason::kLeaseRevoked)));
  EXPECT_EQ(Image(), before);
  EXPECT_TRUE(Recipient(kSeq, "r1").in_flight_token.empty());
}

TEST_F(AppDeliveryTest, ARetriedBeginAnswersAgainAndWritesNothing) {
  const std::vector<LeasedStep> leased = Lease();
  ASSERT_EQ(leased.size(), 1u);
  absl::StatusOr<Answered<BeginSendResult>> began =
      Begin(leased[0].lease_token);
  ASSERT_TRUE(began.ok()) << began.status();
  const StoreImage before = Image();
  absl::StatusOr<Answered<BeginSendResult>> again =
      Begin(leased[0].lease_token);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->response, began->response);
  ASSERT_TRUE(again->result.has_value());
  ASSERT_TRUE(again->result->content.has_value());
  EXPECT_EQ(again->result->content->body, began->result->content->body);
  EXPECT_EQ(Image(), before);
}

TEST_F(AppDeliveryTest, AnUnknownTokenIsLeaseExpiredAndWritesNothing) {
  ASSERT_EQ(Lease().size(), 1u);
  const StoreImage before = Image();
  absl::StatusOr<Answered<BeginSendResult>> began = Begin("lease_unknown");
  EXPECT_EQ(began.status().code(), absl::StatusCode::kFailedPrecondition)
      << began.status();
  EXPECT_EQ(ReasonOf(began.status()), "LEASE_EXPIRED");
  EXPECT_EQ(Image(), before);

  // So is a real token after its lease ran out.
  clock_.Advance(absl::Minutes(2));
  const std::vector<LeasedStep> leased = Lease();  // offered again
  ASSERT_EQ(leased.size(), 1u);
  clock_.Advance(absl::Minutes(2));
  const StoreImage later = Image();
  began = Begin(leased[0].lease_token);
  EXPECT_EQ(ReasonOf(began.status()), "LEASE_EXPIRED") << began.status();
  EXPECT_EQ(Image(), later);
}

TEST_F(AppDeliveryTest, ASequencePauseAfterTheLeaseRevokesIt) {
  const std::vector<LeasedStep> leased = Lease();
  ASSERT_EQ(leased.size(), 1u);
  SequencePauseRequest pause;
  pause.identity = Identity("pause-1", "/test/PauseSequence");
  pause.sequence_id = kSeq;
  ASSERT_TRUE(RunSequencePause(deps_, Call(), pause, nullptr).ok());
  ASSERT_TRUE(Recipient(kSeq, "r1").paused_by_sequence);
  const StoreImage before = Image();
  absl::StatusOr<Answered<BeginSendResult>> began =
      Begin(leased[0].lease_token);
  EXPECT_EQ(ReasonOf(began.status()),
            std::string(domain::RefusalReasonName(
                domain::RefusalReason::kLeaseRevoked)))
      << began.status();
  EXPECT_EQ(Image(), before);
  // Nothing to lease while the sequence is paused.
  EXPECT_TRUE(Lease().empty());
}

TEST_F(AppDeliveryTest, AReportOfAnotherTokenIsStaleAndWritesNothing) {
  const std::vector<LeasedStep> leased = Lease();
  ASSERT_EQ(leased.size(), 1u);
  ASSERT_TRUE(Begin(leased[0].lease_token).ok());
  const StoreImage before = Image();
  ReportDeliveryRequest report;
  report.sequence_id = kSeq;
  report.recipient_id = "r1";
  report.report.lease_token = "lease_other";
  report.report.outcome = domain::DeliveryOutcome::kSent;
  absl::StatusOr<Answered<CommandOutcome>> reported =
      delivery_.ReportDelivery(Call(), report, EncodeOutcome);
  EXPECT_EQ(ReasonOf(reported.status()),
            std::string(
                domain::RefusalReasonName(domain::RefusalReason::kStaleLease)))
      << reported.status();
  EXPECT_EQ(Image(), before);
  EXPECT_EQ(Recipient(kSeq, "r1").in_flight_token, leased[0].lease_token);
}

}  // namespace
}  // namespace sequencer::app::testing
