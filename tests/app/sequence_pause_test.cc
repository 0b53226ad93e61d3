// RunSequencePause and FinishSequenceOps on the in-memory store, with more
// recipients than one chunk: every running recipient follows the sequence,
// no commit touches more than kSequenceOpChunk recipients, delays freeze and
// resume, and an operation that failed half-way is finished by a retry, by
// FinishSequenceOps, or by the next operation on the sequence.

#include "app/use_cases/sequence_pause.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "app/storage/store_layout.h"
#include "domain/recipient.h"
#include "domain/refusal.h"
#include "gtest/gtest.h"
#include "tests/app/app_fixture.h"

namespace sequencer::app::testing {
namespace {

constexpr char kSeq[] = "seq-1";
// Running recipients: more than two chunks.
constexpr int kRecipients = 2500;
static_assert(kRecipients > 2 * static_cast<int>(kSequenceOpChunk));
// Paused on their own before the sequence pauses; listed after the others,
// so that the first chunk is all running recipients.
constexpr char kPausedAlone[] = "z-alone";

std::string EncodePause(const SequencePauseResult& result) {
  return absl::StrCat(result.sequence.paused ? "paused" : "running", "@v",
                      result.sequence.version, ":", result.affected_recipients);
}

class AppSequencePauseTest : public AppFixture {
 protected:
  void SetUp() override {
    ASSERT_TRUE(CreateSequence(kSeq, {EmailStep(absl::Hours(1)),
                                      EmailStep(absl::Hours(24))})
                    .ok());
    ids_list_ = ManyIds(kRecipients);
    std::vector<std::string> all = ids_list_;
    all.push_back(kPausedAlone);
    ASSERT_TRUE(Enroll(kSeq, all).ok());
    ASSERT_TRUE(Act(kSeq, kPausedAlone, domain::PauseRecipient{}).ok());
    clock_.Advance(absl::Minutes(10));
    store_.commits = 0;
    store_.appended_streams.clear();
  }

  SequencePauseRequest Request(std::string request_id, bool pause) {
    SequencePauseRequest request;
    request.identity =
        Identity(std::move(request_id),
                 pause ? "/test/PauseSequence" : "/test/ResumeSequence", 11);
    request.sequence_id = kSeq;
    request.pause = pause;
    return request;
  }

  absl::StatusOr<Answered<SequencePauseResult>> Run(
      const SequencePauseRequest& request) {
    return RunSequencePause(deps_, Call(), request, EncodePause);
  }

  // How many of the running recipients are PAUSED by the sequence; fails
  // the test for any other state than PAUSED-by-sequence or IN_PROGRESS.
  int PausedBySequence() {
    int paused = 0;
    for (const std::string& id : ids_list_) {
      const domain::Recipient recipient = Recipient(kSeq, id);
      if (recipient.status == domain::RecipientStatus::kPaused) {
        EXPECT_TRUE(recipient.paused_by_sequence) << id;
        ++paused;
      } else {
        EXPECT_EQ(recipient.status, domain::RecipientStatus::kInProgress) << id;
      }
    }
    return paused;
  }

  void ExpectAloneStaysPausedByItself() {
    const domain::Recipient alone = Recipient(kSeq, kPausedAlone);
    EXPECT_EQ(alone.status, domain::RecipientStatus::kPaused);
    EXPECT_FALSE(alone.paused_by_sequence);
  }

  // No commit appended to more than one chunk of recipient streams.
  void ExpectBoundedCommits() {
    const std::string prefix = layout::RecipientStream(kTenant, kSeq, "");
    for (size_t i = 0; i < store_.appended_streams.size(); ++i) {
      size_t recipients = 0;
      for (const auto& stream : store_.appended_streams[i]) {
        if (absl::StartsWith(stream, prefix)) ++recipients;
      }
      EXPECT_LE(recipients, kSequenceOpChunk) << "commit " << i;
    }
  }

  // Fails the `n`th commit from now (1-based) with UNAVAILABLE.
  void FailCommit(int n) {
    const int fail_at = store_.commits + n;
    store_.before_commit = [this, fail_at](const eventstore::CommitBatch&) {
      return store_.commits == fail_at
                 ? absl::UnavailableError("injected: the disk is gone")
                 : absl::OkStatus();
    };
  }

  // A pause that failed at its second chunk: the sequence paused, the
  // first chunk of recipients paused, the operation's record left.
  void PauseThatFailsHalfWay(const std::string& request_id) {
    // 1: SequencePaused + seqop/, 2: first chunk, 3: second chunk.
    FailCommit(3);
    absl::StatusOr<Answered<SequencePauseResult>> failed =
        Run(Request(request_id, true));
    ASSERT_EQ(failed.status().code(), absl::StatusCode::kUnavailable)
        << failed.status();
    EXPECT_TRUE(HasIndex(layout::SequenceOpKey(kTenant, kSeq)));
    EXPECT_FALSE(HasIndex(layout::IdempotencyKey(kTenant, request_id)));
    EXPECT_TRUE(Sequence(kSeq).paused);
    EXPECT_EQ(PausedBySequence(), static_cast<int>(kSequenceOpChunk));
  }

  std::vector<std::string> ids_list_;
};

TEST_F(AppSequencePauseTest,
       PauseFollowsEveryRunningRecipientInBoundedCommits) {
  std::map<std::string, absl::Time> due_before;
  for (const std::string& id : ids_list_) {
    const domain::Recipient recipient = Recipient(kSeq, id);
    ASSERT_TRUE(recipient.due_at.has_value()) << id;
    due_before[id] = *recipient.due_at;
  }

  absl::StatusOr<Answered<SequencePauseResult>> paused =
      Run(Request("pause-1", true));
  ASSERT_TRUE(paused.ok()) << paused.status();
  ASSERT_TRUE(paused->result.has_value());
  EXPECT_EQ(paused->result->affected_recipients, kRecipients);
  EXPECT_TRUE(paused->result->sequence.paused);
  EXPECT_EQ(paused->response, EncodePause(*paused->result));
  EXPECT_EQ(PausedBySequence(), kRecipients);
  ExpectAloneStaysPausedByItself();
  EXPECT_FALSE(HasIndex(layout::SequenceOpKey(kTenant, kSeq)));
  // The sequence's commit, three chunks (1000, 1000, 500), the outcome.
  EXPECT_EQ(store_.commits, 5);
  ExpectBoundedCommits();
  for (const std::string& id : ids_list_) {
    const domain::Recipient recipient = Recipient(kSeq, id);
    EXPECT_FALSE(recipient.due_at.has_value()) << id;
    EXPECT_EQ(recipient.remaining_delay, absl::Minutes(50)) << id;
  }

  // Resume after two hours: every due time moves by the paused time.
  clock_.Advance(absl::Hours(2));
  store_.commits = 0;
  store_.appended_streams.clear();
  absl::StatusOr<Answered<SequencePauseResult>> resumed =
      Run(Request("resume-1", false));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  ASSERT_TRUE(resumed->result.has_value());
  EXPECT_EQ(resumed->result->affected_recipients, kRecipients);
  EXPECT_FALSE(resumed->result->sequence.paused);
  EXPECT_EQ(PausedBySequence(), 0);
  ExpectAloneStaysPausedByItself();
  ExpectBoundedCommits();
  for (const std::string& id : ids_list_) {
    const domain::Recipient recipient = Recipient(kSeq, id);
    ASSERT_TRUE(recipient.due_at.has_value()) << id;
    EXPECT_EQ(*recipient.due_at, due_before[id] + absl::Hours(2)) << id;
    EXPECT_TRUE(HasIndex(layout::DueKey(*recipient.due_at, kTenant, kSeq, id)))
        << id;
  }
}

TEST_F(AppSequencePauseTest, ARetryAnswersTheOutcomeAndWritesNothing) {
  absl::StatusOr<Answered<SequencePauseResult>> paused =
      Run(Request("pause-1", true));
  ASSERT_TRUE(paused.ok()) << paused.status();
  const StoreImage before = Image();
  absl::StatusOr<Answered<SequencePauseResult>> retry =
      Run(Request("pause-1", true));
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_FALSE(retry->result.has_value());
  EXPECT_EQ(retry->response, paused->response);
  EXPECT_EQ(Image(), before);

  // A new request to pause a paused sequence is refused.
  absl::StatusOr<Answered<SequencePauseResult>> again =
      Run(Request("pause-2", true));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition)
      << again.status();
  EXPECT_EQ(Image(), before);
}

TEST_F(AppSequencePauseTest, AStaleExpectedVersionWritesNothing) {
  const StoreImage before = Image();
  SequencePauseRequest request = Request("pause-1", true);
  request.expected_version = Sequence(kSeq).version + 1;
  absl::StatusOr<Answered<SequencePauseResult>> paused = Run(request);
  EXPECT_EQ(paused.status().code(), absl::StatusCode::kAborted)
      << paused.status();
  std::optional<domain::Refusal> refusal = domain::GetRefusal(paused.status());
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(refusal->reason, domain::RefusalReason::kVersionMismatch);
  EXPECT_EQ(Image(), before);
}

TEST_F(AppSequencePauseTest, FinishSequenceOpsFinishesAFailedPause) {
  ASSERT_NO_FATAL_FAILURE(PauseThatFailsHalfWay("pause-1"));

  std::vector<std::string> encoded;
  ASSERT_TRUE(FinishSequenceOps(deps_, [&](const SequencePauseResult& result) {
                encoded.push_back(EncodePause(result));
                return encoded.back();
              }).ok());
  EXPECT_EQ(PausedBySequence(), kRecipients);
  ExpectAloneStaysPausedByItself();
  EXPECT_FALSE(HasIndex(layout::SequenceOpKey(kTenant, kSeq)));
  ASSERT_EQ(encoded.size(), 1u);
  // Only what this run changed counts.
  EXPECT_EQ(encoded[0],
            absl::StrCat("paused@v", Sequence(kSeq).version, ":",
                         kRecipients - static_cast<int>(kSequenceOpChunk)));

  // The original request's retry answers the recorded outcome.
  const StoreImage before = Image();
  absl::StatusOr<Answered<SequencePauseResult>> retry =
      Run(Request("pause-1", true));
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_FALSE(retry->result.has_value());
  EXPECT_EQ(retry->response, encoded[0]);
  EXPECT_EQ(Image(), before);

  // Nothing left to finish.
  ASSERT_TRUE(FinishSequenceOps(deps_, EncodePause).ok());
  EXPECT_EQ(Image(), before);
}

TEST_F(AppSequencePauseTest, ARetryFinishesAFailedPause) {
  ASSERT_NO_FATAL_FAILURE(PauseThatFailsHalfWay("pause-1"));
  const uint64_t version = Sequence(kSeq).version;

  absl::StatusOr<Answered<SequencePauseResult>> retry =
      Run(Request("pause-1", true));
  ASSERT_TRUE(retry.ok()) << retry.status();
  ASSERT_TRUE(retry->result.has_value());
  EXPECT_EQ(retry->result->affected_recipients,
            kRecipients - static_cast<int>(kSequenceOpChunk));
  // The sequence was not paused twice.
  EXPECT_EQ(retry->result->sequence.version, version);
  EXPECT_EQ(Sequence(kSeq).version, version);
  EXPECT_EQ(PausedBySequence(), kRecipients);
  ExpectAloneStaysPausedByItself();
  EXPECT_FALSE(HasIndex(layout::SequenceOpKey(kTenant, kSeq)));
  EXPECT_TRUE(HasIndex(layout::IdempotencyKey(kTenant, "pause-1")));

  const StoreImage before = Image();
  absl::StatusOr<Answered<SequencePauseResult>> again =
      Run(Request("pause-1", true));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->result.has_value());
  EXPECT_EQ(again->response, retry->response);
  EXPECT_EQ(Image(), before);
}

TEST_F(AppSequencePauseTest,
       AnotherRequestFinishesTheUnfinishedOperationFirst) {
  ASSERT_NO_FATAL_FAILURE(PauseThatFailsHalfWay("pause-1"));

  absl::StatusOr<Answered<SequencePauseResult>> resumed =
      Run(Request("resume-1", false));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  ASSERT_TRUE(resumed->result.has_value());
  // The pause was finished (every recipient paused) before the resume, which
  // then resumed all of them.
  EXPECT_EQ(resumed->result->affected_recipients, kRecipients);
  EXPECT_FALSE(resumed->result->sequence.paused);
  EXPECT_EQ(PausedBySequence(), 0);
  ExpectAloneStaysPausedByItself();
  EXPECT_FALSE(HasIndex(layout::SequenceOpKey(kTenant, kSeq)));

  // The pause's outcome was recorded when it was finished.
  const StoreImage before = Image();
  absl::StatusOr<Answered<SequencePauseResult>> pause_retry =
      Run(Request("pause-1", true));
  ASSERT_TRUE(pause_retry.ok()) << pause_retry.status();
  EXPECT_FALSE(pause_retry->result.has_value());
  EXPECT_TRUE(absl::StartsWith(
      pause_retry->response,
      absl::StrCat("paused@v", resumed->result->sequence.version - 1, ":")))
      << pause_retry->response;
  EXPECT_EQ(Image(), before);
}

TEST_F(AppSequencePauseTest, TheIdOfAnUnfinishedOperationIsRefusedForAnother) {
  ASSERT_NO_FATAL_FAILURE(PauseThatFailsHalfWay("op-1"));
  const StoreImage before = Image();

  // The same id for a resume: refused, and nothing changes.
  absl::StatusOr<Answered<SequencePauseResult>> resumed =
      Run(Request("op-1", false));
  EXPECT_EQ(resumed.status().code(), absl::StatusCode::kInvalidArgument)
      << resumed.status();
  EXPECT_EQ(Image(), before);

  // The same id for a pause of another sequence: refused too.
  ASSERT_TRUE(CreateSequence("seq-2", {EmailStep(absl::Hours(1))}).ok());
  ASSERT_TRUE(Enroll("seq-2", {"s1"}).ok());
  const StoreImage with_second = Image();
  SequencePauseRequest other = Request("op-1", true);
  other.sequence_id = "seq-2";
  absl::StatusOr<Answered<SequencePauseResult>> paused = Run(other);
  EXPECT_EQ(paused.status().code(), absl::StatusCode::kInvalidArgument)
      << paused.status();
  EXPECT_EQ(Image(), with_second);

  // The operation can still be finished, and the sequence resumed after.
  ASSERT_TRUE(FinishSequenceOps(deps_, EncodePause).ok());
  EXPECT_EQ(PausedBySequence(), kRecipients);
  EXPECT_FALSE(HasIndex(layout::SequenceOpKey(kTenant, kSeq)));
  resumed = Run(Request("op-2", false));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(PausedBySequence(), 0);
  ASSERT_TRUE(FinishSequenceOps(deps_, EncodePause).ok());
}

TEST_F(AppSequencePauseTest, AnOperationWhoseIdWasTakenMeanwhileStillFinishes) {
  ASSERT_NO_FATAL_FAILURE(PauseThatFailsHalfWay("op-1"));
  // Another kind of request knows nothing of the operation and records its
  // outcome under the same id.
  ASSERT_TRUE(CreateSequence("seq-2", {EmailStep(absl::Hours(1))}).ok());
  ASSERT_TRUE(EnrollIds("seq-2", {"s1"}, "op-1").ok());

  // The operation finishes all the same, and the other operations after it.
  ASSERT_TRUE(FinishSequenceOps(deps_, EncodePause).ok());
  EXPECT_EQ(PausedBySequence(), kRecipients);
  EXPECT_FALSE(HasIndex(layout::SequenceOpKey(kTenant, kSeq)));
  // The id answers for the enrollment: the pause's retry is refused.
  const StoreImage before = Image();
  absl::StatusOr<Answered<SequencePauseResult>> retry =
      Run(Request("op-1", true));
  EXPECT_EQ(retry.status().code(), absl::StatusCode::kInvalidArgument)
      << retry.status();
  EXPECT_EQ(Image(), before);
  // The sequence is not stuck.
  absl::StatusOr<Answered<SequencePauseResult>> resumed =
      Run(Request("op-2", false));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(PausedBySequence(), 0);
}

}  // namespace
}  // namespace sequencer::app::testing
