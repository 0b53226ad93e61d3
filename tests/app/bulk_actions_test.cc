// RunBulkAction on the in-memory store: a dry run and a refusal write
// nothing, and STOP needs a single-use confirmation token.

#include "app/use_cases/bulk_actions.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "app/storage/store_layout.h"
#include "domain/bulk.h"
#include "domain/recipient.h"
#include "domain/refusal.h"
#include "gtest/gtest.h"
#include "tests/app/app_fixture.h"

namespace sequencer::app::testing {
namespace {

constexpr char kSeq[] = "seq-1";

std::string EncodeBulk(const BulkActionResult& result) {
  std::string out = absl::StrCat(result.applied ? "applied:" : "not-applied:",
                                 result.affected_count);
  if (result.confirmation.has_value()) {
    absl::StrAppend(&out, ":confirm:", result.confirmation->token, ":",
                    result.confirmation->count);
  }
  return out;
}

std::string ReasonOf(const absl::Status& status) {
  std::optional<domain::Refusal> refusal = domain::GetRefusal(status);
  return refusal.has_value()
             ? std::string(domain::RefusalReasonName(refusal->reason))
             : "(no refusal)";
}

class AppBulkActionsTest : public AppFixture {
 protected:
  void SetUp() override {
    ASSERT_TRUE(CreateSequence(kSeq, {EmailStep(absl::Hours(1))}).ok());
    ASSERT_TRUE(Enroll(kSeq, {"r1", "r2", "r3"}).ok());
    ASSERT_TRUE(Act(kSeq, "r3", domain::PauseRecipient{}).ok());
  }

  BulkActionRequest Request(std::string request_id, domain::BulkAction action,
                            std::vector<std::string> ids) {
    BulkActionRequest request;
    request.identity = Identity(std::move(request_id), "/test/BulkAction");
    request.sequence_id = kSeq;
    request.action = action;
    request.recipient_ids = std::move(ids);
    return request;
  }

  absl::StatusOr<Answered<BulkActionResult>> Run(
      const BulkActionRequest& request) {
    return RunBulkAction(deps_, Call(), request, EncodeBulk);
  }
};

TEST_F(AppBulkActionsTest, ValidateOnlyListsOffendersAndWritesNothing) {
  const StoreImage before = Image();
  BulkActionRequest request =
      Request("bulk-1", domain::BulkAction::kPause, {"r1", "r3", "ghost"});
  request.validate_only = true;
  absl::StatusOr<Answered<BulkActionResult>> answered = Run(request);
  ASSERT_TRUE(answered.ok()) << answered.status();
  ASSERT_TRUE(answered->result.has_value());
  EXPECT_FALSE(answered->result->applied);
  std::vector<std::string> offenders;
  for (const auto& offender : answered->result->offenders) {
    offenders.push_back(offender.recipient_id);
  }
  EXPECT_EQ(offenders, (std::vector<std::string>{"r3", "ghost"}));
  ASSERT_EQ(answered->result->offenders.size(), 2u);
  EXPECT_EQ(answered->result->offenders[0].status,
            domain::RecipientStatus::kPaused);
  EXPECT_FALSE(answered->result->offenders[1].exists);
  // Not even an outcome record.
  EXPECT_EQ(Image(), before);

  // A dry run of a valid selection writes nothing either, and the request id
  // stays free for the real run.
  request.recipient_ids = {"r1", "r2"};
  answered = Run(request);
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_TRUE(answered->result->offenders.empty());
  EXPECT_EQ(Image(), before);
  request.validate_only = false;
  answered = Run(request);
  ASSERT_TRUE(answered.ok()) << answered.status();
  ASSERT_TRUE(answered->result.has_value());
  EXPECT_TRUE(answered->result->applied);
  EXPECT_EQ(answered->result->affected_count, 2);
  EXPECT_EQ(Recipient(kSeq, "r1").status, domain::RecipientStatus::kPaused);
  EXPECT_EQ(Recipient(kSeq, "r2").status, domain::RecipientStatus::kPaused);
}

TEST_F(AppBulkActionsTest, ARefusedActionWritesNothing) {
  const StoreImage before = Image();
  absl::StatusOr<Answered<BulkActionResult>> answered =
      Run(Request("bulk-1", domain::BulkAction::kPause, {"r1", "r2", "r3"}));
  EXPECT_EQ(answered.status().code(), absl::StatusCode::kFailedPrecondition)
      << answered.status();
  EXPECT_EQ(ReasonOf(answered.status()), "BULK_ACTION_REFUSED");
  EXPECT_EQ(Image(), before);
  EXPECT_EQ(Recipient(kSeq, "r1").status, domain::RecipientStatus::kInProgress);
  EXPECT_EQ(Recipient(kSeq, "r2").status, domain::RecipientStatus::kInProgress);
}

TEST_F(AppBulkActionsTest, StopNeedsASingleUseConfirmation) {
  const std::vector<std::string> selection = {"r1", "r2", "r3"};
  absl::StatusOr<Answered<BulkActionResult>> first =
      Run(Request("stop-1", domain::BulkAction::kStop, selection));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->result.has_value());
  EXPECT_FALSE(first->result->applied);
  ASSERT_TRUE(first->result->confirmation.has_value());
  const std::string token = first->result->confirmation->token;
  EXPECT_EQ(first->result->confirmation->count, 3);
  EXPECT_EQ(first->result->confirmation->expires_at,
            clock_.Now() + kConfirmationLifetime);
  EXPECT_TRUE(HasIndex(layout::ConfirmationKey(kTenant, token)));
  // Nobody stopped yet.
  for (const char* id : {"r1", "r2", "r3"}) {
    EXPECT_NE(Recipient(kSeq, id).status, domain::RecipientStatus::kStopped)
        << id;
  }

  // A token for another selection is refused.
  const StoreImage before = Image();
  BulkActionRequest other =
      Request("stop-2", domain::BulkAction::kStop, {"r1", "r2"});
  other.confirmation_token = token;
  absl::StatusOr<Answered<BulkActionResult>> refused = Run(other);
  EXPECT_EQ(ReasonOf(refused.status()), "CONFIRMATION_INVALID")
      << refused.status();
  EXPECT_EQ(Image(), before);

  BulkActionRequest confirmed =
      Request("stop-3", domain::BulkAction::kStop, selection);
  confirmed.confirmation_token = token;
  absl::StatusOr<Answered<BulkActionResult>> stopped = Run(confirmed);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  ASSERT_TRUE(stopped->result.has_value());
  EXPECT_TRUE(stopped->result->applied);
  EXPECT_EQ(stopped->result->affected_count, 3);
  for (const char* id : {"r1", "r2", "r3"}) {
    EXPECT_EQ(Recipient(kSeq, id).status, domain::RecipientStatus::kStopped)
        << id;
  }
  EXPECT_FALSE(HasIndex(layout::ConfirmationKey(kTenant, token)));

  // Spent: a new request with the same token is refused and writes nothing.
  const StoreImage after = Image();
  BulkActionRequest reused =
      Request("stop-4", domain::BulkAction::kStop, selection);
  reused.confirmation_token = token;
  refused = Run(reused);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition)
      << refused.status();
  EXPECT_EQ(ReasonOf(refused.status()), "CONFIRMATION_INVALID");
  EXPECT_EQ(Image(), after);

  // The retry of the confirmed request answers its outcome.
  absl::StatusOr<Answered<BulkActionResult>> retry = Run(confirmed);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_FALSE(retry->result.has_value());
  EXPECT_EQ(retry->response, stopped->response);
  EXPECT_EQ(Image(), after);
}

}  // namespace
}  // namespace sequencer::app::testing
