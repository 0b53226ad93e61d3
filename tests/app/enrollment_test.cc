// EnrollRecipients on the in-memory store: all of a call's recipients or
// none, refusals naming the recipient, and the domain's rule that an id is
// enrolled once (also after it was deleted).

#include "app/use_cases/enrollment.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "app/storage/store_layout.h"
#include "domain/recipient.h"
#include "gtest/gtest.h"
#include "tests/app/app_fixture.h"

namespace sequencer::app::testing {
namespace {

constexpr char kSeq[] = "seq-1";

class AppEnrollmentTest : public AppFixture {
 protected:
  void SetUp() override {
    ASSERT_TRUE(CreateSequence(kSeq, {EmailStep(absl::Hours(1))}).ok());
  }

  // What the domain answers for enrolling `id` again, given its state now.
  absl::Status DomainAnswer(const std::string& id) {
    return domain::DecideEnroll(Enrollee(id), Sequence(kSeq),
                                Recipient(kSeq, id),
                                {kTenant, kActor, "x", clock_.Now()})
        .status();
  }
};

TEST_F(AppEnrollmentTest, EnrollsAllInOneCommitAndAnswersARetry) {
  const int commits = store_.commits;
  EnrollRequest request;
  request.identity = Identity("enroll-1", "/test/Enroll");
  request.sequence_id = kSeq;
  request.recipients = {Enrollee("a"), Enrollee("b"), Enrollee("c")};
  auto encode = [](const EnrollResult& result) {
    return absl::StrCat("enrolled:", result.enrolled_count);
  };
  absl::StatusOr<Answered<EnrollResult>> answered =
      EnrollRecipients(deps_, Call(), request, encode);
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_EQ(answered->response, "enrolled:3");
  EXPECT_EQ(store_.commits, commits + 1);
  for (const char* id : {"a", "b", "c"}) {
    const domain::Recipient recipient = Recipient(kSeq, id);
    EXPECT_TRUE(recipient.exists) << id;
    EXPECT_EQ(recipient.status, domain::RecipientStatus::kInProgress) << id;
    EXPECT_EQ(recipient.due_at, clock_.Now() + absl::Hours(1)) << id;
    EXPECT_TRUE(HasIndex(layout::RecipientListKey(kTenant, kSeq, id))) << id;
  }

  const StoreImage before = Image();
  absl::StatusOr<Answered<EnrollResult>> retry =
      EnrollRecipients(deps_, Call(), request, encode);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_FALSE(retry->result.has_value());
  EXPECT_EQ(retry->response, "enrolled:3");
  EXPECT_EQ(Image(), before);
}

TEST_F(AppEnrollmentTest, OneRecipientAlreadyEnrolledWritesNothing) {
  ASSERT_TRUE(Enroll(kSeq, {"old"}).ok());
  const absl::Status domain_answer = DomainAnswer("old");
  ASSERT_EQ(domain_answer.code(), absl::StatusCode::kAlreadyExists);

  const StoreImage before = Image();
  absl::StatusOr<Answered<EnrollResult>> answered =
      EnrollIds(kSeq, {"new-1", "old", "new-2"}, "enroll-2");
  ASSERT_EQ(answered.status().code(), absl::StatusCode::kAlreadyExists)
      << answered.status();
  EXPECT_TRUE(absl::StartsWith(answered.status().message(), "recipients[1]"))
      << answered.status();
  EXPECT_TRUE(
      absl::EndsWith(answered.status().message(), domain_answer.message()))
      << answered.status() << " vs the domain's " << domain_answer;
  EXPECT_EQ(Image(), before);
  EXPECT_FALSE(Recipient(kSeq, "new-1").exists);
  EXPECT_FALSE(Recipient(kSeq, "new-2").exists);
  EXPECT_FALSE(HasIndex(layout::IdempotencyKey(kTenant, "enroll-2")));
}

TEST_F(AppEnrollmentTest, ADeletedRecipientIsEnrolledAgainAsANewRecipient) {
  ASSERT_TRUE(Enroll(kSeq, {"gone"}).ok());
  clock_.Advance(absl::Minutes(30));
  ASSERT_TRUE(Act(kSeq, "gone", domain::PauseRecipient{}).ok());
  ASSERT_TRUE(Act(kSeq, "gone", domain::DeleteRecipient{}).ok());
  // Erased: nothing of it is left to fold.
  EXPECT_FALSE(Recipient(kSeq, "gone").exists);
  EXPECT_FALSE(HasIndex(layout::RecipientListKey(kTenant, kSeq, "gone")));
  const absl::Status domain_answer = DomainAnswer("gone");
  ASSERT_TRUE(domain_answer.ok()) << domain_answer;

  clock_.Advance(absl::Minutes(5));
  absl::StatusOr<Answered<EnrollResult>> answered =
      EnrollIds(kSeq, {"gone"}, "enroll-2");
  ASSERT_TRUE(answered.ok()) << answered.status();
  const domain::Recipient again = Recipient(kSeq, "gone");
  EXPECT_TRUE(again.exists);
  EXPECT_FALSE(again.deleted);
  EXPECT_EQ(again.version, 1u);
  EXPECT_EQ(again.status, domain::RecipientStatus::kInProgress);
  EXPECT_EQ(again.enrolled_at, clock_.Now());
  EXPECT_TRUE(HasIndex(layout::RecipientListKey(kTenant, kSeq, "gone")));
}

TEST_F(AppEnrollmentTest, BadInputNamesTheRecipientAndWritesNothing) {
  const StoreImage before = Image();
  EnrollRequest request;
  request.identity = Identity("enroll-3", "/test/Enroll");
  request.sequence_id = kSeq;
  request.recipients = {Enrollee("a"), Enrollee("b"), Enrollee("a")};
  absl::StatusOr<Answered<EnrollResult>> answered =
      EnrollRecipients(deps_, Call(), request, nullptr);
  EXPECT_EQ(answered.status().code(), absl::StatusCode::kAlreadyExists)
      << answered.status();
  EXPECT_TRUE(absl::StartsWith(answered.status().message(),
                               "recipients[2].recipient_id"))
      << answered.status();

  request.recipients = {Enrollee("a"), Enrollee("b")};
  request.recipients[1].variables["not a name"] = "x";
  answered = EnrollRecipients(deps_, Call(), request, nullptr);
  EXPECT_EQ(answered.status().code(), absl::StatusCode::kInvalidArgument)
      << answered.status();
  EXPECT_TRUE(absl::StartsWith(answered.status().message(), "recipients[1]"))
      << answered.status();

  request.recipients = {Enrollee("a")};
  request.sequence_id = "no-such-seq";
  answered = EnrollRecipients(deps_, Call(), request, nullptr);
  EXPECT_EQ(answered.status().code(), absl::StatusCode::kNotFound)
      << answered.status();

  EXPECT_EQ(Image(), before);
  EXPECT_FALSE(Recipient(kSeq, "a").exists);
}

}  // namespace
}  // namespace sequencer::app::testing
