// CommandRunner, run directly on the in-memory store: what a change writes
// (all of it in one commit, or nothing), what a retried request id answers,
// and how RunRecipient and RunRecipientBatch check and decide.

#include "app/pipeline/command_runner.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "app/storage/store_layout.h"
#include "domain/recipient.h"
#include "domain/refusal.h"
#include "gtest/gtest.h"
#include "tests/app/app_fixture.h"

namespace sequencer::app::testing {
namespace {

constexpr char kSeq[] = "seq-1";

class AppCommandRunnerTest : public AppFixture {
 protected:
  // A body that appends one event to `stream` (expecting it empty) and
  // writes one index entry; counts its calls.
  CommandRunner::Body<int> WritingBody(std::string stream = "x/t/stream") {
    return [this, stream](eventstore::CommitBatch* batch) {
      ++body_calls_;
      batch->appends.push_back({stream, 0, {{"Thing", "data"}}});
      batch->index_writes.push_back({"test/entry", "value"});
      return absl::StatusOr<int>(42);
    };
  }

  static std::string EncodeInt(const int& value) {
    return absl::StrCat("answer:", value);
  }

  int body_calls_ = 0;
  bool competed_ = false;
  StoreImage competing_image_;
};

TEST_F(AppCommandRunnerTest, ABodyErrorWritesNothing) {
  const StoreImage before = Image();
  CommandRunner runner(deps_);
  absl::StatusOr<Answered<int>> answered = runner.Run<int>(
      Call(), Identity("req-1"), {"k"},
      [&](eventstore::CommitBatch* batch) -> absl::StatusOr<int> {
        ++body_calls_;
        batch->appends.push_back({"x/t/stream", 0, {{"Thing", "data"}}});
        batch->index_writes.push_back({"test/entry", "value"});
        return absl::FailedPreconditionError("no, thanks");
      },
      EncodeInt);
  EXPECT_EQ(body_calls_, 1);
  ASSERT_EQ(answered.status(), absl::FailedPreconditionError("no, thanks"));
  EXPECT_EQ(store_.commits, 0);
  EXPECT_EQ(Image(), before);
  // Nothing was recorded: the same id runs the body again.
  answered = runner.Run<int>(Call(), Identity("req-1"), {"k"}, WritingBody(),
                             EncodeInt);
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_EQ(body_calls_, 2);
  EXPECT_TRUE(answered->result.has_value());
}

TEST_F(AppCommandRunnerTest, ARetryAnswersTheRecordedResponseWithoutRunning) {
  CommandRunner runner(deps_);
  absl::StatusOr<Answered<int>> first = runner.Run<int>(
      Call(), Identity("req-1"), {"k"}, WritingBody(), EncodeInt);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->result.has_value());
  EXPECT_EQ(*first->result, 42);
  EXPECT_EQ(first->response, "answer:42");
  EXPECT_EQ(body_calls_, 1);
  EXPECT_EQ(store_.commits, 1);
  EXPECT_TRUE(HasIndex(layout::IdempotencyKey(kTenant, "req-1")));

  const StoreImage before = Image();
  // The body would now answer something else (and conflict on the stream):
  // the retry must not run it.
  absl::StatusOr<Answered<int>> retry = runner.Run<int>(
      Call(), Identity("req-1"), {"k"},
      [&](eventstore::CommitBatch*) -> absl::StatusOr<int> {
        ++body_calls_;
        return 7;
      },
      EncodeInt);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_FALSE(retry->result.has_value());
  EXPECT_EQ(retry->response, "answer:42");
  EXPECT_EQ(body_calls_, 1);
  EXPECT_EQ(store_.commits, 1);
  EXPECT_EQ(Image(), before);
}

TEST_F(AppCommandRunnerTest,
       TheSameIdForAnotherRequestIsInvalidAndWritesNothing) {
  CommandRunner runner(deps_);
  ASSERT_TRUE(runner
                  .Run<int>(Call(), Identity("req-1", "/test/A", 1), {"k"},
                            WritingBody(), EncodeInt)
                  .ok());
  const StoreImage before = Image();
  const int commits = store_.commits;

  absl::StatusOr<Answered<int>> other_fingerprint =
      runner.Run<int>(Call(), Identity("req-1", "/test/A", 2), {"k"},
                      WritingBody("x/t/other"), EncodeInt);
  EXPECT_EQ(other_fingerprint.status().code(),
            absl::StatusCode::kInvalidArgument)
      << other_fingerprint.status();

  absl::StatusOr<Answered<int>> other_method =
      runner.Run<int>(Call(), Identity("req-1", "/test/B", 1), {"k"},
                      WritingBody("x/t/other"), EncodeInt);
  EXPECT_EQ(other_method.status().code(), absl::StatusCode::kInvalidArgument)
      << other_method.status();

  EXPECT_EQ(body_calls_, 1);
  EXPECT_EQ(store_.commits, commits);
  EXPECT_EQ(Image(), before);
}

TEST_F(AppCommandRunnerTest, ABadRequestIdIsInvalidAndRunsNothing) {
  CommandRunner runner(deps_);
  const StoreImage before = Image();
  for (const std::string& bad : std::vector<std::string>{
           "", "has/slash", "has space", std::string(200, 'a')}) {
    absl::StatusOr<Answered<int>> answered =
        runner.Run<int>(Call(), Identity(bad), {"k"}, WritingBody(), EncodeInt);
    EXPECT_EQ(answered.status().code(), absl::StatusCode::kInvalidArgument)
        << "request id \"" << bad << "\": " << answered.status();
    EXPECT_TRUE(absl::StartsWith(answered.status().message(), "request_id"))
        << answered.status();
  }
  EXPECT_EQ(body_calls_, 0);
  EXPECT_EQ(Image(), before);
}

TEST_F(AppCommandRunnerTest,
       AStoreConflictIsAbortedAndWritesNothingOfTheChange) {
  // Another writer, outside the lock table, appends to the stream between
  // the body and the commit.
  store_.before_commit = [this](const eventstore::CommitBatch&) {
    if (competed_) return absl::OkStatus();
    competed_ = true;
    eventstore::CommitBatch competing;
    competing.appends.push_back({"x/t/stream", 0, {{"Other", "theirs"}}});
    EXPECT_TRUE(store_.CommitInner(competing).ok());
    competing_image_ = Image();
    return absl::OkStatus();
  };
  CommandRunner runner(deps_);
  absl::StatusOr<Answered<int>> answered = runner.Run<int>(
      Call(), Identity("req-1"), {"k"}, WritingBody(), EncodeInt);
  EXPECT_EQ(answered.status().code(), absl::StatusCode::kAborted)
      << answered.status();
  EXPECT_TRUE(
      absl::StartsWith(answered.status().message(), "concurrent modification"))
      << answered.status();
  // Only the competitor's event is there: no entry, no outcome record.
  EXPECT_EQ(Image(), competing_image_);
  EXPECT_FALSE(HasIndex("test/entry"));
  EXPECT_FALSE(HasIndex(layout::IdempotencyKey(kTenant, "req-1")));
}

TEST_F(AppCommandRunnerTest, AStaleExpectedVersionInTheBodyIsAborted) {
  eventstore::CommitBatch first;
  first.appends.push_back({"x/t/stream", 0, {{"Thing", "first"}}});
  ASSERT_TRUE(store_.Commit(first).ok());
  const StoreImage before = Image();
  CommandRunner runner(deps_);
  absl::StatusOr<Answered<int>> answered = runner.Run<int>(
      Call(), Identity("req-1"), {"k"}, WritingBody(), EncodeInt);
  EXPECT_EQ(answered.status().code(), absl::StatusCode::kAborted)
      << answered.status();
  EXPECT_TRUE(
      absl::StartsWith(answered.status().message(), "concurrent modification"))
      << answered.status();
  EXPECT_EQ(Image(), before);
}

TEST_F(AppCommandRunnerTest, ARequestThatIsNotIdempotentRecordsNothing) {
  CommandRunner runner(deps_);
  RequestIdentity identity = Identity("req-1");
  identity.idempotent = false;

  // Nothing to write: no commit at all.
  const StoreImage empty = Image();
  absl::StatusOr<Answered<int>> answered = runner.Run<int>(
      Call(), identity, {"k"},
      [&](eventstore::CommitBatch*) -> absl::StatusOr<int> {
        ++body_calls_;
        return 1;
      },
      EncodeInt);
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_EQ(store_.commits, 0);
  EXPECT_EQ(Image(), empty);

  // Its writes, and no outcome record.
  answered = runner.Run<int>(Call(), identity, {"k"}, WritingBody(), EncodeInt);
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_EQ(store_.commits, 1);
  EXPECT_TRUE(HasIndex("test/entry"));
  EXPECT_FALSE(HasIndex(layout::IdempotencyKey(kTenant, "req-1")));
  const StoreImage image = Image();
  EXPECT_EQ(image.index.size(), 1u);

  // The same id runs again.
  answered = runner.Run<int>(Call(), identity, {"k"}, WritingBody("x/t/second"),
                             EncodeInt);
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_TRUE(answered->result.has_value());
  EXPECT_EQ(body_calls_, 3);
}

Change<int> ChangeOf(const CallContext& call, RequestIdentity identity,
                     std::vector<std::string> lock_keys,
                     CommandRunner::Body<int> body) {
  return {call, std::move(identity), std::move(lock_keys), std::move(body),
          [](const int& value) { return absl::StrCat("answer:", value); }};
}

TEST_F(AppCommandRunnerTest,
       ABatchCommitsOnceAndAFailingChangeDoesNotStopTheOthers) {
  CommandRunner runner(deps_);
  const std::vector<absl::StatusOr<Change<int>>> changes = {
      ChangeOf(Call(), Identity("req-a"), {"a"}, WritingBody("x/t/a")),
      ChangeOf(Call(), Identity("req-b"), {"b"},
               [&](eventstore::CommitBatch* batch) -> absl::StatusOr<int> {
                 ++body_calls_;
                 batch->appends.push_back({"x/t/b", 0, {{"Thing", "data"}}});
                 return absl::FailedPreconditionError("not b");
               }),
      ChangeOf(Call(), Identity("bad id!"), {"c"}, WritingBody("x/t/c")),
      ChangeOf(Call(), Identity("req-d"), {"d"}, WritingBody("x/t/d")),
  };
  const std::vector<absl::StatusOr<Answered<int>>> answers =
      runner.RunBatch(changes);
  ASSERT_EQ(answers.size(), 4u);
  EXPECT_EQ(store_.commits, 1);
  EXPECT_EQ(store_.appended_streams.back(),
            (std::vector<std::string>{"x/t/a", "x/t/d"}));
  for (int i : {0, 3}) {
    ASSERT_TRUE(answers[i].ok()) << i << ": " << answers[i].status();
    EXPECT_EQ(answers[i]->response, "answer:42");
    EXPECT_TRUE(answers[i]->result.has_value());
  }
  EXPECT_EQ(answers[1].status(), absl::FailedPreconditionError("not b"));
  EXPECT_EQ(answers[2].status().code(), absl::StatusCode::kInvalidArgument)
      << answers[2].status();
  EXPECT_EQ(body_calls_, 3);  // a, b, d: the bad id never ran
  EXPECT_TRUE(HasIndex(layout::IdempotencyKey(kTenant, "req-a")));
  EXPECT_TRUE(HasIndex(layout::IdempotencyKey(kTenant, "req-d")));
  EXPECT_FALSE(HasIndex(layout::IdempotencyKey(kTenant, "req-b")));

  // The same batch again: a and d answer their records without running, b
  // runs again (nothing was recorded for it) and fails again; no commit.
  const StoreImage before = Image();
  const std::vector<absl::StatusOr<Answered<int>>> retried =
      runner.RunBatch(changes);
  ASSERT_EQ(retried.size(), 4u);
  for (int i : {0, 3}) {
    ASSERT_TRUE(retried[i].ok()) << i << ": " << retried[i].status();
    EXPECT_EQ(retried[i]->response, "answer:42");
    EXPECT_FALSE(retried[i]->result.has_value());
  }
  EXPECT_EQ(retried[1].status(), absl::FailedPreconditionError("not b"));
  EXPECT_EQ(body_calls_, 4);
  EXPECT_EQ(store_.commits, 1);
  EXPECT_EQ(Image(), before);
}

TEST_F(AppCommandRunnerTest, AChangeGivenAsAnErrorAnswersItAndRunsNothing) {
  CommandRunner runner(deps_);
  const std::vector<absl::StatusOr<Answered<int>>> answers =
      runner.RunBatch(std::vector<absl::StatusOr<Change<int>>>{
          absl::InvalidArgumentError("lease_token: must be the token"),
          ChangeOf(Call(), Identity("req-1"), {"a"}, WritingBody("x/t/a")),
      });
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].status(),
            absl::InvalidArgumentError("lease_token: must be the token"));
  ASSERT_TRUE(answers[1].ok()) << answers[1].status();
  EXPECT_EQ(answers[1]->response, "answer:42");
  EXPECT_EQ(body_calls_, 1);
  EXPECT_EQ(store_.commits, 1);
}

TEST_F(AppCommandRunnerTest, ChangesSharingAKeyRunAloneAfterTheBatch) {
  CommandRunner runner(deps_);
  // Appends to "x/t/shared" at its current version: two such changes in one
  // write would conflict, so the second must see the first committed.
  auto append_shared =
      [this](eventstore::CommitBatch* batch) -> absl::StatusOr<int> {
    ++body_calls_;
    absl::StatusOr<uint64_t> version = store_.StreamVersion("x/t/shared");
    if (!version.ok()) return version.status();
    batch->appends.push_back(
        {"x/t/shared", static_cast<int64_t>(*version), {{"Thing", "data"}}});
    return static_cast<int>(*version);
  };
  const std::vector<absl::StatusOr<Answered<int>>> answers =
      runner.RunBatch(std::vector<absl::StatusOr<Change<int>>>{
          ChangeOf(Call(), Identity("req-1"), {"shared"}, append_shared),
          ChangeOf(Call(), Identity("req-2"), {"other"}, WritingBody()),
          ChangeOf(Call(), Identity("req-3"), {"shared"}, append_shared),
          // The same request id as the first: answered from its record.
          ChangeOf(Call(), Identity("req-1"), {"elsewhere"}, append_shared),
      });
  ASSERT_EQ(answers.size(), 4u);
  for (const auto& answer : answers)
    ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answers[0]->response, "answer:0");
  EXPECT_EQ(answers[2]->response, "answer:1");
  EXPECT_TRUE(answers[2]->result.has_value());
  EXPECT_EQ(answers[3]->response, "answer:0");
  EXPECT_FALSE(answers[3]->result.has_value());
  EXPECT_EQ(store_.commits, 2);  // the batch (1 and 2), then 3 alone
  absl::StatusOr<uint64_t> version = store_.StreamVersion("x/t/shared");
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, 2u);
}

TEST_F(AppCommandRunnerTest, ABatchAbortedByTheStoreRunsEachChangeAlone) {
  CommandRunner runner(deps_);
  bool aborted = false;
  store_.before_commit = [&](const eventstore::CommitBatch&) {
    if (aborted) return absl::OkStatus();
    aborted = true;
    return absl::AbortedError("a writer outside the lock table got in first");
  };
  const std::vector<absl::StatusOr<Answered<int>>> answers =
      runner.RunBatch(std::vector<absl::StatusOr<Change<int>>>{
          ChangeOf(Call(), Identity("req-1"), {"a"}, WritingBody("x/t/a")),
          ChangeOf(Call(), Identity("req-2"), {"b"}, WritingBody("x/t/b")),
      });
  ASSERT_EQ(answers.size(), 2u);
  for (const auto& answer : answers) {
    ASSERT_TRUE(answer.ok()) << answer.status();
    EXPECT_EQ(answer->response, "answer:42");
  }
  EXPECT_EQ(store_.commits, 3);
  EXPECT_EQ(body_calls_, 4);
  EXPECT_TRUE(HasIndex(layout::IdempotencyKey(kTenant, "req-1")));
  EXPECT_TRUE(HasIndex(layout::IdempotencyKey(kTenant, "req-2")));
}

TEST_F(AppCommandRunnerTest, ABatchCommitErrorIsEveryWritingChangesAnswer) {
  CommandRunner runner(deps_);
  store_.before_commit = [](const eventstore::CommitBatch&) {
    return absl::UnavailableError("disk full");
  };
  const StoreImage before = Image();
  const std::vector<absl::StatusOr<Answered<int>>> answers =
      runner.RunBatch(std::vector<absl::StatusOr<Change<int>>>{
          ChangeOf(Call(), Identity("req-1"), {"a"}, WritingBody("x/t/a")),
          ChangeOf(Call(), Identity("req-2"), {"b"}, WritingBody("x/t/b")),
      });
  ASSERT_EQ(answers.size(), 2u);
  for (const auto& answer : answers) {
    EXPECT_EQ(answer.status(), absl::UnavailableError("disk full"));
  }
  EXPECT_EQ(store_.commits, 1);
  EXPECT_EQ(Image(), before);
}

class AppRunRecipientTest : public AppFixture {
 protected:
  void SetUp() override {
    ASSERT_TRUE(CreateSequence(kSeq, {EmailStep(absl::Hours(1)),
                                      EmailStep(absl::Hours(24))})
                    .ok());
    ASSERT_TRUE(Enroll(kSeq, {"r1", "r2", "r3", "r4"}).ok());
  }

  RecipientCommandRequest Request(std::string recipient_id,
                                  std::string request_id = "req-1") {
    RecipientCommandRequest request;
    request.identity = Identity(std::move(request_id), "/test/Pause");
    request.sequence_id = kSeq;
    request.recipient_id = std::move(recipient_id);
    return request;
  }

  absl::StatusOr<Answered<CommandOutcome>> Run(
      const RecipientCommandRequest& request,
      const domain::RecipientCommand& command) {
    return CommandRunner(deps_).RunRecipient(Call(), request, command,
                                             EncodeOutcome);
  }
};

TEST_F(AppRunRecipientTest, RunsRecordsAndReplays) {
  const uint64_t version = Recipient(kSeq, "r1").version;
  RecipientCommandRequest request = Request("r1");
  request.expected_version = version;
  absl::StatusOr<Answered<CommandOutcome>> first =
      Run(request, domain::PauseRecipient{});
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->result.has_value());
  EXPECT_EQ(first->result->before.version, version);
  EXPECT_EQ(first->response,
            absl::StrCat("RECIPIENT_STATUS_PAUSED@v", version + 1));
  EXPECT_EQ(Recipient(kSeq, "r1").status, domain::RecipientStatus::kPaused);

  // The retry answers the same bytes although the expected version is now
  // stale and a pause would be refused.
  const StoreImage before = Image();
  absl::StatusOr<Answered<CommandOutcome>> retry =
      Run(request, domain::PauseRecipient{});
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_FALSE(retry->result.has_value());
  EXPECT_EQ(retry->response, first->response);
  EXPECT_EQ(Image(), before);
}

TEST_F(AppRunRecipientTest,
       AnExpectedVersionMismatchIsAbortedAndWritesNothing) {
  const uint64_t actual = Recipient(kSeq, "r1").version;
  const StoreImage before = Image();
  RecipientCommandRequest request = Request("r1");
  request.expected_version = actual + 5;
  absl::StatusOr<Answered<CommandOutcome>> answered =
      Run(request, domain::PauseRecipient{});
  ASSERT_EQ(answered.status().code(), absl::StatusCode::kAborted)
      << answered.status();
  std::optional<domain::Refusal> refusal =
      domain::GetRefusal(answered.status());
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(refusal->reason, domain::RefusalReason::kVersionMismatch);
  EXPECT_EQ(refusal->metadata["expected_version"], absl::StrCat(actual + 5));
  EXPECT_EQ(refusal->metadata["actual_version"], absl::StrCat(actual));
  EXPECT_EQ(Image(), before);
  EXPECT_EQ(Recipient(kSeq, "r1").status, domain::RecipientStatus::kInProgress);
}

TEST_F(AppRunRecipientTest, UnknownRecipientOrSequenceIsNotFound) {
  const StoreImage before = Image();
  absl::StatusOr<Answered<CommandOutcome>> answered =
      Run(Request("nobody"), domain::PauseRecipient{});
  EXPECT_EQ(answered.status().code(), absl::StatusCode::kNotFound)
      << answered.status();

  RecipientCommandRequest request = Request("r1", "req-2");
  request.sequence_id = "no-such-seq";
  answered = Run(request, domain::PauseRecipient{});
  EXPECT_EQ(answered.status().code(), absl::StatusCode::kNotFound)
      << answered.status();

  // A deleted recipient is gone too.
  ASSERT_TRUE(Act(kSeq, "r2", domain::DeleteRecipient{}).ok());
  const StoreImage after_delete = Image();
  answered = Run(Request("r2", "req-3"), domain::PauseRecipient{});
  EXPECT_EQ(answered.status().code(), absl::StatusCode::kNotFound)
      << answered.status();
  EXPECT_EQ(Image(), after_delete);
  EXPECT_NE(before, after_delete);
}

TEST_F(AppRunRecipientTest, ADomainRefusalPassesThroughUnchanged) {
  const domain::Recipient current = Recipient(kSeq, "r1");
  const domain::DecisionContext context{kTenant, kActor, "req-1", clock_.Now()};
  const absl::Status expected = domain::Decide(domain::ResumeRecipient{},
                                               current, Sequence(kSeq), context)
                                    .status();
  ASSERT_EQ(expected.code(), absl::StatusCode::kFailedPrecondition);

  const StoreImage before = Image();
  absl::StatusOr<Answered<CommandOutcome>> answered =
      Run(Request("r1"), domain::ResumeRecipient{});
  EXPECT_EQ(answered.status(), expected);
  std::optional<domain::Refusal> refusal =
      domain::GetRefusal(answered.status());
  std::optional<domain::Refusal> expected_refusal =
      domain::GetRefusal(expected);
  ASSERT_TRUE(refusal.has_value());
  ASSERT_TRUE(expected_refusal.has_value());
  EXPECT_EQ(refusal->reason, domain::RefusalReason::kActionNotAvailable);
  EXPECT_EQ(refusal->reason, expected_refusal->reason);
  EXPECT_EQ(refusal->metadata, expected_refusal->metadata);
  EXPECT_EQ(Image(), before);
}

TEST_F(AppRunRecipientTest, BatchCommitsOnceAndRefusedItemsDoNotStopTheOthers) {
  ASSERT_TRUE(Act(kSeq, "r3", domain::PauseRecipient{}).ok());
  const uint64_t r3_version = Recipient(kSeq, "r3").version;
  auto item = [&](const std::string& recipient_id) {
    BatchCommandItem item;
    item.call = Call();
    item.request.identity = {"/test/Batch", "batch-1", 0, false};
    item.request.sequence_id = kSeq;
    item.request.recipient_id = recipient_id;
    return item;
  };
  const std::vector<BatchCommandItem> items = {item("r1"), item("r2"),
                                               item("r3"), item("nobody"),
                                               item("r4"), item("r2")};
  const int commits = store_.commits;
  const std::vector<BatchItemResult> results =
      CommandRunner(deps_).RunRecipientBatch(items, domain::PauseRecipient{});
  ASSERT_EQ(results.size(), items.size());
  EXPECT_EQ(store_.commits, commits + 1);
  ASSERT_EQ(store_.appended_streams.size(), static_cast<size_t>(commits + 1));
  EXPECT_EQ(
      store_.appended_streams.back(),
      (std::vector<std::string>{layout::RecipientStream(kTenant, kSeq, "r1"),
                                layout::RecipientStream(kTenant, kSeq, "r2"),
                                layout::RecipientStream(kTenant, kSeq, "r4")}));

  for (int i : {0, 1, 4}) {
    EXPECT_TRUE(results[i].status.ok()) << i << ": " << results[i].status;
    EXPECT_TRUE(results[i].changed) << i;
  }
  // Already paused: the domain's refusal, nothing changed.
  EXPECT_EQ(results[2].status.code(), absl::StatusCode::kFailedPrecondition)
      << results[2].status;
  EXPECT_FALSE(results[2].changed);
  EXPECT_EQ(results[3].status.code(), absl::StatusCode::kNotFound)
      << results[3].status;
  EXPECT_FALSE(results[3].changed);
  // Named twice: the second is refused, the first went through.
  EXPECT_EQ(results[5].status.code(), absl::StatusCode::kAborted)
      << results[5].status;
  EXPECT_TRUE(absl::StrContains(results[5].status.message(), "appears twice"))
      << results[5].status;
  EXPECT_FALSE(results[5].changed);

  for (const char* id : {"r1", "r2", "r4"}) {
    EXPECT_EQ(Recipient(kSeq, id).status, domain::RecipientStatus::kPaused)
        << id;
  }
  // r2 paused once: one event, not two.
  EXPECT_EQ(Recipient(kSeq, "r2").version, Recipient(kSeq, "r1").version);
  EXPECT_EQ(Recipient(kSeq, "r3").version, r3_version);
}

TEST_F(AppRunRecipientTest, BatchWithNothingToChangeDoesNotCommit) {
  auto item = [&](const std::string& recipient_id) {
    BatchCommandItem item;
    item.call = Call();
    item.request.identity = {"/test/Batch", "batch-1", 0, false};
    item.request.sequence_id = kSeq;
    item.request.recipient_id = recipient_id;
    return item;
  };
  const StoreImage before = Image();
  const int commits = store_.commits;
  // Nothing is due yet: MarkStepDue decides no event for anyone.
  const std::vector<BatchItemResult> results =
      CommandRunner(deps_).RunRecipientBatch({item("r1"), item("r2")},
                                             domain::MarkStepDue{});
  ASSERT_EQ(results.size(), 2u);
  for (const auto& result : results) {
    EXPECT_TRUE(result.status.ok()) << result.status;
    EXPECT_FALSE(result.changed);
  }
  EXPECT_EQ(store_.commits, commits);
  EXPECT_EQ(Image(), before);
}

TEST_F(AppRunRecipientTest, BatchAbortedByTheStoreRunsEachItemAloneAgain) {
  // A writer outside this lock table (another process's runner on the same
  // log) pauses r1 between the batch's decisions and its commit.
  LockTable other_locks;
  Repository other_repository(&memory_);
  AppDeps other = deps_;
  other.repository = &other_repository;
  other.locks = &other_locks;
  bool competed = false;
  store_.before_commit = [&](const eventstore::CommitBatch&) {
    if (competed) return absl::OkStatus();
    competed = true;
    RecipientCommandRequest request;
    request.identity = {"/test/Other", "other-1", 0, false};
    request.sequence_id = kSeq;
    request.recipient_id = "r1";
    EXPECT_TRUE(
        CommandRunner(other)
            .RunRecipient(Call(), request, domain::PauseRecipient{}, nullptr)
            .ok());
    return absl::OkStatus();
  };
  auto item = [&](const std::string& recipient_id) {
    BatchCommandItem item;
    item.call = Call();
    item.request.identity = {"/test/Batch", "batch-1", 0, false};
    item.request.sequence_id = kSeq;
    item.request.recipient_id = recipient_id;
    return item;
  };
  const uint64_t r1_version = Recipient(kSeq, "r1").version;
  const std::vector<BatchItemResult> results =
      CommandRunner(deps_).RunRecipientBatch({item("r1"), item("r2")},
                                             domain::PauseRecipient{});
  ASSERT_TRUE(competed);
  ASSERT_EQ(results.size(), 2u);
  // r1 was decided again on what it found: paused by the other writer.
  EXPECT_EQ(results[0].status.code(), absl::StatusCode::kFailedPrecondition)
      << results[0].status;
  EXPECT_FALSE(results[0].changed);
  EXPECT_EQ(Recipient(kSeq, "r1").version, r1_version + 1);
  // r2 did not suffer from r1's conflict.
  EXPECT_TRUE(results[1].status.ok()) << results[1].status;
  EXPECT_TRUE(results[1].changed);
  EXPECT_EQ(Recipient(kSeq, "r2").status, domain::RecipientStatus::kPaused);
}

TEST_F(AppCommandRunnerTest, AChangePastItsCallersDeadlineWritesNothing) {
  const StoreImage before = Image();
  CommandRunner runner(deps_);
  CallContext gone = Call();
  gone.deadline = absl::Now() - absl::Seconds(1);
  absl::StatusOr<Answered<int>> answered =
      runner.Run<int>(gone, Identity("req-1"), {"k"}, WritingBody(), EncodeInt);
  EXPECT_EQ(answered.status().code(), absl::StatusCode::kDeadlineExceeded)
      << answered.status();
  EXPECT_EQ(store_.commits, 0);
  EXPECT_EQ(Image(), before);
  // Nothing was recorded: a retry in time runs the change.
  CallContext in_time = Call();
  in_time.deadline = absl::Now() + absl::Hours(1);
  answered = runner.Run<int>(in_time, Identity("req-1"), {"k"}, WritingBody(),
                             EncodeInt);
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_EQ(store_.commits, 1);
}

TEST_F(AppCommandRunnerTest, ABatchPastItsCallersDeadlineWritesNothing) {
  const StoreImage before = Image();
  CommandRunner runner(deps_);
  CallContext gone = Call();
  gone.deadline = absl::Now() - absl::Seconds(1);
  const std::vector<absl::StatusOr<Answered<int>>> answers =
      runner.RunBatch(std::vector<absl::StatusOr<Change<int>>>{
          ChangeOf(gone, Identity("req-a"), {"a"}, WritingBody("x/t/a")),
          ChangeOf(gone, Identity("req-b"), {"b"}, WritingBody("x/t/b"))});
  ASSERT_EQ(answers.size(), 2u);
  for (const auto& answer : answers) {
    EXPECT_EQ(answer.status().code(), absl::StatusCode::kDeadlineExceeded)
        << answer.status();
  }
  EXPECT_EQ(store_.commits, 0);
  EXPECT_EQ(Image(), before);
}

}  // namespace
}  // namespace sequencer::app::testing
