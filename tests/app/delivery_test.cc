// Delivery (lease, begin, report) on the in-memory store, with the
// scheduler run by hand on the manual clock.

#include "app/use_cases/delivery.h"

#include <map>
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

TEST_F(AppDeliveryTest, TheStepTheSchedulerResolvedIsWhatTheLeaseHandsOut) {
  // SetUp's scheduler pass resolved r1's step when it made it ready.
  ASSERT_EQ(ready_steps_.size(), 1u);
  // A memo at the recipient's and the sequence's current versions is used
  // as it is: this one is marked so that the lease shows where it came from.
  std::optional<ReadyStep> kept =
      ready_steps_.Take(layout::RecipientStream(kTenant, kSeq, "r1"));
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->content.subject, "Hello Ada");
  EXPECT_EQ(kept->recipient_version, Recipient(kSeq, "r1").version);
  EXPECT_EQ(kept->sequence_version, Sequence(kSeq).version);
  kept->content.subject = "from the memo";
  ready_steps_.Put(layout::RecipientStream(kTenant, kSeq, "r1"), *kept);
  const std::vector<LeasedStep> leased = Lease();
  ASSERT_EQ(leased.size(), 1u);
  EXPECT_EQ(leased[0].content.subject, "from the memo");
  EXPECT_EQ(ready_steps_.size(), 0u);  // taken by the lease
}

TEST_F(AppDeliveryTest, AMemoOfOtherVersionsIsNotUsed) {
  const std::string stream = layout::RecipientStream(kTenant, kSeq, "r1");
  std::optional<ReadyStep> kept = ready_steps_.Take(stream);
  ASSERT_TRUE(kept.has_value());
  kept->content.subject = "stale";
  ReadyStep older_recipient = *kept;
  older_recipient.recipient_version -= 1;
  ready_steps_.Put(stream, older_recipient);
  std::vector<LeasedStep> leased = Lease();
  ASSERT_EQ(leased.size(), 1u);
  EXPECT_EQ(leased[0].content.subject, "Hello Ada");

  // The lease is let go (the recipient is paused and resumed, which moves
  // its version, and the scheduler queues the step again), and a memo
  // naming another sequence version is refused too.
  ASSERT_TRUE(Act(kSeq, "r1", domain::PauseRecipient{}).ok());
  ASSERT_TRUE(Act(kSeq, "r1", domain::ResumeRecipient{}).ok());
  ASSERT_TRUE(Scheduler(deps_).RunDue().ok());
  std::optional<ReadyStep> fresh = ready_steps_.Take(stream);
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(fresh->recipient_version, Recipient(kSeq, "r1").version);
  ReadyStep other_sequence = *fresh;
  other_sequence.content.subject = "stale";
  other_sequence.sequence_version += 1;
  ready_steps_.Put(stream, other_sequence);
  leased = Lease();
  ASSERT_EQ(leased.size(), 1u);
  EXPECT_EQ(leased[0].content.subject, "Hello Ada");
}

TEST_F(AppDeliveryTest, AnEditAfterTheStepWasMadeReadyIsWhatIsLeased) {
  ASSERT_EQ(ready_steps_.size(), 1u);
  domain::EditContent edit;
  edit.step_index = 0;
  edit.edit.subject = "Edited for {{first_name}}";
  ASSERT_TRUE(Act(kSeq, "r1", edit).ok());
  // The edit takes the step off the delivery queue; the scheduler queues it
  // again, edited.
  EXPECT_TRUE(Lease().empty());
  ASSERT_TRUE(Scheduler(deps_).RunDue().ok());
  const std::vector<LeasedStep> leased = Lease();
  ASSERT_EQ(leased.size(), 1u);
  EXPECT_EQ(leased[0].content.subject, "Edited for Ada");
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

TEST_F(AppDeliveryTest, BatchFormsAnswerEachItemAsAloneInOneCommitEach) {
  ASSERT_TRUE(Enroll(kSeq, {"r2", "r3", "r4"}).ok());
  ASSERT_TRUE(Scheduler(deps_).RunDue().ok());
  const std::vector<LeasedStep> leased = Lease();
  ASSERT_EQ(leased.size(), 4u);
  std::map<std::string, std::string> token_of;
  for (const LeasedStep& step : leased) {
    token_of[step.recipient_id] = step.lease_token;
  }
  // r3 is paused after its lease: its send must not begin.
  ASSERT_TRUE(Act(kSeq, "r3", domain::PauseRecipient{}).ok());
  const std::vector<BeginSendRequest> sends = {
      {token_of["r1"], kSeq, "r1"},
      {"", kSeq, "r2"},  // malformed: INVALID_ARGUMENT
      {token_of["r3"], kSeq, "r3"},
      {token_of["r4"], kSeq, "r4"},
      {"lease_unknown", kSeq, "r2"},
  };
  int commits = store_.commits;
  const std::vector<absl::StatusOr<Answered<BeginSendResult>>> began =
      delivery_.BeginSends(Call(), sends, EncodeBegin);
  ASSERT_EQ(began.size(), sends.size());
  EXPECT_EQ(store_.commits, commits + 1);
  for (int i : {0, 3}) {
    ASSERT_TRUE(began[i].ok()) << i << ": " << began[i].status();
    EXPECT_EQ(began[i]->response, "began:Hello Ada");
  }
  EXPECT_EQ(began[1].status().code(), absl::StatusCode::kInvalidArgument)
      << began[1].status();
  EXPECT_EQ(ReasonOf(began[2].status()),
            std::string(domain::RefusalReasonName(
                domain::RefusalReason::kLeaseRevoked)))
      << began[2].status();
  EXPECT_EQ(ReasonOf(began[4].status()), "LEASE_EXPIRED") << began[4].status();
  EXPECT_EQ(Recipient(kSeq, "r1").in_flight_token, token_of["r1"]);
  EXPECT_EQ(Recipient(kSeq, "r4").in_flight_token, token_of["r4"]);
  EXPECT_TRUE(Recipient(kSeq, "r3").in_flight_token.empty());
  // r2's lease was not spent: the batch form of a retry, or the single form,
  // still begins it; r1's single-form retry answers the batch's response.
  const StoreImage before_retry = Image();
  absl::StatusOr<Answered<BeginSendResult>> retried =
      delivery_.BeginSend(Call(), sends[0], EncodeBegin);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->response, began[0]->response);
  EXPECT_EQ(Image(), before_retry);
  ASSERT_TRUE(
      delivery_.BeginSend(Call(), {token_of["r2"], kSeq, "r2"}, EncodeBegin)
          .ok());

  auto report = [&](const std::string& recipient_id,
                    domain::DeliveryOutcome outcome) {
    ReportDeliveryRequest request;
    request.sequence_id = kSeq;
    request.recipient_id = recipient_id;
    request.report.lease_token = token_of[recipient_id];
    request.report.outcome = outcome;
    request.report.provider_message_id = "msg-" + recipient_id;
    return request;
  };
  std::vector<absl::StatusOr<ReportDeliveryRequest>> reports = {
      report("r1", domain::DeliveryOutcome::kSent),
      report("r2", domain::DeliveryOutcome::kBounced),
      report("r3", domain::DeliveryOutcome::kSent),  // never began: stale
      report("r4", domain::DeliveryOutcome::kSent),
  };
  reports[2]->report.lease_token = "lease_other";
  commits = store_.commits;
  const std::vector<absl::StatusOr<Answered<CommandOutcome>>> reported =
      delivery_.ReportDeliveries(Call(), reports, EncodeOutcome);
  ASSERT_EQ(reported.size(), reports.size());
  EXPECT_EQ(store_.commits, commits + 1);
  for (int i : {0, 1, 3}) {
    ASSERT_TRUE(reported[i].ok()) << i << ": " << reported[i].status();
  }
  EXPECT_FALSE(reported[2].ok());
  EXPECT_EQ(Recipient(kSeq, "r1").current_step, 1);
  EXPECT_EQ(Recipient(kSeq, "r4").current_step, 1);
  EXPECT_EQ(Recipient(kSeq, "r2").status, domain::RecipientStatus::kBounced);
  EXPECT_EQ(reported[0]->response,
            absl::StrCat("RECIPIENT_STATUS_IN_PROGRESS@v",
                         Recipient(kSeq, "r1").version));

  // Reported again, in a batch: the same answers, nothing written, no commit
  // (the domain sees each result already recorded).
  const StoreImage before = Image();
  commits = store_.commits;
  const std::vector<absl::StatusOr<Answered<CommandOutcome>>> again =
      delivery_.ReportDeliveries(Call(), {reports[0], reports[1], reports[3]},
                                 EncodeOutcome);
  ASSERT_EQ(again.size(), 3u);
  for (size_t i = 0; i < again.size(); ++i) {
    ASSERT_TRUE(again[i].ok()) << i << ": " << again[i].status();
  }
  EXPECT_EQ(again[0]->response, reported[0]->response);
  EXPECT_EQ(again[1]->response, reported[1]->response);
  EXPECT_EQ(again[2]->response, reported[3]->response);
  EXPECT_EQ(store_.commits, commits);
  EXPECT_EQ(Image(), before);
}

}  // namespace
}  // namespace sequencer::app::testing
