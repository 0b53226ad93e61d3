// The queue indexes at scale: in-memory fronts (app/runtime/queue_fronts.h),
// the scheduler's batches (CommandRunner::RunRecipientBatch), and leasing from
// the front.

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "app/pipeline/command_runner.h"
#include "app/runtime/lock_table.h"
#include "app/runtime/queue_fronts.h"
#include "app/storage/repository.h"
#include "app/storage/store_layout.h"
#include "app/use_cases/scheduler.h"
#include "domain/recipient.h"
#include "gtest/gtest.h"
#include "tests/util/api_helpers.h"
#include "tests/util/forwarding_event_store.h"
#include "tests/util/status_matchers.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

using app::QueueFronts;

constexpr char kQueue[] = "due/";

// ---- QueueFronts on its own.

TEST(QueueFrontsTest, UnknownUntilScannedThenTheFirstLiveEntry) {
  QueueFronts fronts;
  EXPECT_EQ(fronts.Front(kQueue), "");
  QueueFronts::Scan scan = fronts.BeginScan(kQueue);
  EXPECT_EQ(scan.front, "");
  fronts.EndScan(scan, "0000000000000005");
  EXPECT_EQ(fronts.Front(kQueue), "0000000000000005");
  // The next scan starts there.
  EXPECT_EQ(fronts.BeginScan(kQueue).front, "0000000000000005");
}

TEST(QueueFrontsTest, AnEarlierAdditionLowersTheFrontALaterOneDoesNot) {
  QueueFronts fronts;
  fronts.EndScan(fronts.BeginScan(kQueue), "0000000000000005");
  fronts.Added(kQueue, "0000000000000009");
  EXPECT_EQ(fronts.Front(kQueue), "0000000000000005");
  fronts.Added(kQueue, "0000000000000003");
  EXPECT_EQ(fronts.Front(kQueue), "0000000000000003");
}

TEST(QueueFrontsTest, AnEmptyQueueHasTheEmptyFrontUntilSomethingIsAdded) {
  QueueFronts fronts;
  fronts.EndScan(fronts.BeginScan(kQueue), QueueFronts::kEmpty);
  EXPECT_EQ(fronts.Front(kQueue), QueueFronts::kEmpty);
  fronts.Added(kQueue, "0000000000000007");
  EXPECT_EQ(fronts.Front(kQueue), "0000000000000007");
}

// An entry added behind a running scan's starting point, which the scan
// cannot have seen, keeps the front from moving past it.
TEST(QueueFrontsTest, AnAdditionDuringAScanBoundsWhatTheScanMaySet) {
  QueueFronts fronts;
  fronts.EndScan(fronts.BeginScan(kQueue), "0000000000000005");
  QueueFronts::Scan scan = fronts.BeginScan(kQueue);
  fronts.Added(kQueue, "0000000000000002");
  fronts.EndScan(scan, "0000000000000009");
  EXPECT_EQ(fronts.Front(kQueue), "0000000000000002");

  // Two scans at once: the one that ends later cannot undo an addition the
  // first one did not know of.
  QueueFronts::Scan a = fronts.BeginScan(kQueue);
  QueueFronts::Scan b = fronts.BeginScan(kQueue);
  fronts.EndScan(a, "0000000000000008");
  EXPECT_EQ(fronts.Front(kQueue), "0000000000000008");
  fronts.Added(kQueue, "0000000000000004");
  fronts.EndScan(b, "0000000000000008");
  EXPECT_EQ(fronts.Front(kQueue), "0000000000000004");
}

TEST(QueueFrontsTest, AScanFromTheFrontIncludesTheFrontEntry) {
  EXPECT_EQ(QueueFronts::StartAfter("due/", ""), "");
  EXPECT_EQ(QueueFronts::StartAfter("due/", QueueFronts::kEmpty), "due/~");
  const std::string after = QueueFronts::StartAfter("due/", "00a/t/s/r1");
  EXPECT_LT(after, "due/00a/t/s/r1");
  EXPECT_GT(after, "due/00a/t/s/r0");
  EXPECT_GT(after, "due/00a/t/s/r0:@+-._zZ9");
  EXPECT_GT(after, "due/00a/t/s/r");
}

TEST(QueueFrontsTest, AFailedScanLeavesTheFront) {
  QueueFronts fronts;
  fronts.EndScan(fronts.BeginScan(kQueue), "0000000000000005");
  fronts.EndScan(fronts.BeginScan(kQueue), "");
  EXPECT_EQ(fronts.Front(kQueue), "0000000000000005");
}

TEST(QueueFrontsTest, AWatchWakesOnlyForAnEarlierEntryOrWhenTimeHasPassedIt) {
  QueueFronts fronts;
  // Not watching: every addition wakes.
  EXPECT_TRUE(fronts.Added(kQueue, "0000000000000009"));
  fronts.EndScan(fronts.BeginScan(kQueue), "0000000000000005");
  EXPECT_EQ(fronts.Watch(kQueue), "0000000000000005");
  EXPECT_FALSE(fronts.Added(kQueue, "0000000000000006"));
  EXPECT_FALSE(fronts.Added(kQueue, "0000000000000006", "0000000000000004"));
  // The clock has passed what the watcher waits for.
  EXPECT_TRUE(fronts.Added(kQueue, "0000000000000006", "0000000000000005"));
  EXPECT_TRUE(fronts.Added(kQueue, "0000000000000004"));
  fronts.Unwatch(kQueue);
  EXPECT_TRUE(fronts.Added(kQueue, "0000000000000009"));
  // A front not known yet watches nothing.
  QueueFronts fresh;
  EXPECT_EQ(fresh.Watch(kQueue), "");
  EXPECT_TRUE(fresh.Added(kQueue, "0000000000000009"));
}

// ---- The scheduler's batch through the recipient pipeline.

constexpr char kSeq[] = "seq-q";

// An event store that lets a test change a stream just before a commit of
// several recipients lands, as a writer outside the lock table could.
class InterposingStore final : public ForwardingEventStore {
 public:
  using ForwardingEventStore::ForwardingEventStore;

  // Runs once, before the first commit that appends to two streams or more.
  std::function<void()> before_batch;

  absl::StatusOr<eventstore::CommitResult> Commit(
      const eventstore::CommitBatch& batch) override {
    if (batch.appends.size() > 1 && before_batch) {
      std::function<void()> hook = std::move(before_batch);
      before_batch = nullptr;
      hook();
    }
    ++commits;
    return ForwardingEventStore::Commit(batch);
  }

  int commits = 0;
};

class SchedulerBatchTest : public ::testing::Test {
 protected:
  SchedulerBatchTest() : store_(&server_.store()), repository_(&store_) {
    deps_.repository = &repository_;
    deps_.clock = &server_.clock();
    deps_.locks = &locks_;
    deps_.fronts = &fronts_;
  }

  app::BatchCommandItem Item(const std::string& recipient_id) {
    app::BatchCommandItem item;
    item.call = app::CallContext{kTenant, app::kSchedulerActor};
    item.request.identity = {"scheduler", "scheduler", 0, false};
    item.request.sequence_id = kSeq;
    item.request.recipient_id = recipient_id;
    return item;
  }

  std::vector<std::string> LeaseAll() {
    v1::LeaseStepsRequest request;
    request.set_channel(v1::STEP_TYPE_EMAIL);
    request.set_max_steps(100);
    v1::LeaseStepsResponse response;
    EXPECT_TRUE(
        server_.delivery().LeaseSteps(CallAs().get(), request, &response).ok());
    std::vector<std::string> ids;
    for (const auto& lease : response.leases()) {
      ids.push_back(lease.recipient_id());
    }
    return ids;
  }

  TestServer server_;
  InterposingStore store_;
  app::Repository repository_;
  app::LockTable locks_;
  app::QueueFronts fronts_;
  app::AppDeps deps_;
};

TEST_F(SchedulerBatchTest, RefusedItemsChangeNothingAndTheOthersCommitOnce) {
  CreateSequence(server_, kSeq, {EmailStep(absl::Hours(1))});
  Enroll(server_, kSeq, {"r1", "r2", "paused", "stopped"});
  MustAct(server_, v1::ACTION_PAUSE, kSeq, "paused");
  MustAct(server_, v1::ACTION_STOP, kSeq, "stopped");
  server_.clock().Advance(absl::Hours(1));  // not through the scheduler

  const std::vector<app::BatchCommandItem> items = {
      Item("r1"),      Item("paused"), Item("missing"), Item("bad/id"),
      Item("stopped"), Item("r2"),     Item("r1")};
  const int commits_before = store_.commits;
  const std::vector<app::BatchItemResult> results =
      app::CommandRunner(deps_).RunRecipientBatch(items, domain::MarkStepDue{});
  ASSERT_EQ(results.size(), items.size());
  EXPECT_TRUE(results[0].status.ok()) << results[0].status;
  EXPECT_TRUE(results[0].changed);
  EXPECT_TRUE(results[1].status.ok()) << results[1].status;  // nothing due
  EXPECT_FALSE(results[1].changed);
  EXPECT_THAT(results[2].status, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(results[3].status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(results[4].changed);
  EXPECT_TRUE(results[5].changed);
  EXPECT_THAT(results[6].status, StatusIs(absl::StatusCode::kAborted));
  EXPECT_FALSE(results[6].changed);
  EXPECT_EQ(store_.commits - commits_before, 1);  // one durable write

  EXPECT_EQ(MustGetRecipient(server_, kSeq, "paused").status(),
            v1::RECIPIENT_STATUS_PAUSED);
  EXPECT_EQ(MustGetRecipient(server_, kSeq, "stopped").status(),
            v1::RECIPIENT_STATUS_STOPPED);
  std::vector<std::string> leased = LeaseAll();
  std::sort(leased.begin(), leased.end());
  EXPECT_EQ(leased, (std::vector<std::string>{"r1", "r2"}));
}

// A recipient changed by someone outside the lock table between the batch's
// fold and its commit makes the store refuse the whole write; the batch then
// runs each recipient alone, on what it finds.
TEST_F(SchedulerBatchTest, AConcurrentlyChangedRecipientDoesNotFailTheOthers) {
  CreateSequence(server_, kSeq, {EmailStep(absl::Hours(1))});
  Enroll(server_, kSeq, {"r1", "r2", "r3"});
  server_.clock().Advance(absl::Hours(1));
  store_.before_batch = [this] {
    // Pause r2 behind the batch's back (as a separate writer would).
    auto sequence = repository_.GetSequence(kTenant, kSeq);
    auto r2 = repository_.GetRecipient(kTenant, kSeq, "r2");
    ASSERT_TRUE(sequence.ok() && r2.ok());
    auto events =
        domain::Decide(domain::PauseRecipient{}, *r2, *sequence,
                       domain::DecisionContext{kTenant, "someone", "req-pause",
                                               server_.clock().Now()});
    ASSERT_TRUE(events.ok()) << events.status();
    eventstore::CommitBatch pause;
    app::CommandRunner::AddRecipientEvents(kTenant, kSeq, "r2", *r2, *events,
                                           *sequence, &pause);
    ASSERT_TRUE(server_.store().Commit(pause).ok());
  };

  const std::vector<app::BatchItemResult> results =
      app::CommandRunner(deps_).RunRecipientBatch(
          {Item("r1"), Item("r2"), Item("r3")}, domain::MarkStepDue{});
  EXPECT_EQ(store_.before_batch, nullptr);  // the hook ran
  ASSERT_EQ(results.size(), 3u);
  for (const auto& result : results) {
    EXPECT_TRUE(result.status.ok()) << result.status;
  }
  EXPECT_TRUE(results[0].changed);
  EXPECT_FALSE(results[1].changed);
  EXPECT_TRUE(results[2].changed);
  EXPECT_EQ(MustGetRecipient(server_, kSeq, "r2").status(),
            v1::RECIPIENT_STATUS_PAUSED);
  std::vector<std::string> leased = LeaseAll();
  std::sort(leased.begin(), leased.end());
  EXPECT_EQ(leased, (std::vector<std::string>{"r1", "r3"}));
}

// ---- Through the server: fronts follow commits and restarts.

class QueueServerTest : public ::testing::Test {
 protected:
  std::vector<std::string> Lease(int max = 100) {
    v1::LeaseStepsRequest request;
    request.set_channel(v1::STEP_TYPE_EMAIL);
    request.set_max_steps(max);
    v1::LeaseStepsResponse response;
    EXPECT_TRUE(
        server_.delivery().LeaseSteps(CallAs().get(), request, &response).ok());
    std::vector<std::string> ids;
    for (const auto& lease : response.leases()) {
      ids.push_back(lease.recipient_id());
    }
    return ids;
  }

  TestServer server_;
};

TEST_F(QueueServerTest, AnEntryEarlierThanTheFrontIsStillMadeDue) {
  CreateSequence(server_, "late", {EmailStep(absl::Hours(2))});
  CreateSequence(server_, "early", {EmailStep(absl::Minutes(10))});
  Enroll(server_, "late", {"r-late"});
  // A pass with nothing due moves the front to r-late's time.
  server_.AdvanceTime(absl::Minutes(1));
  EXPECT_TRUE(Lease().empty());
  Enroll(server_, "early", {"r-early"});
  server_.AdvanceTime(absl::Minutes(10));
  EXPECT_EQ(Lease(), std::vector<std::string>{"r-early"});
  server_.AdvanceTime(absl::Hours(2));
  // r-early's lease (60 s) has expired: it is offered again.
  std::vector<std::string> leased = Lease();
  std::sort(leased.begin(), leased.end());
  EXPECT_EQ(leased, (std::vector<std::string>{"r-early", "r-late"}));
}

TEST_F(QueueServerTest, ARestartRebuildsTheFrontsFromTheIndex) {
  CreateSequence(server_, kSeq, {EmailStep(absl::Hours(1))});
  std::vector<std::string> paused;
  for (int i = 0; i < 50; ++i) paused.push_back("p" + std::to_string(i));
  Enroll(server_, kSeq, paused);
  server_.AdvanceTime(absl::Minutes(1));
  Enroll(server_, kSeq, {"r1", "r2"});
  // Deleted keys at the front of due/.
  for (const auto& id : paused) MustAct(server_, v1::ACTION_PAUSE, kSeq, id);
  server_.AdvanceTime(absl::Minutes(1));  // the front moves past them

  server_.Restart();
  server_.AdvanceTime(absl::Hours(1));
  std::vector<std::string> leased = Lease(1);
  EXPECT_EQ(leased, std::vector<std::string>{"r1"});

  // The ready/ front is rebuilt too: after another restart the step not yet
  // leased is found, and the leased one (leases do not survive a restart) is
  // offered again.
  server_.Restart();
  leased = Lease();
  std::sort(leased.begin(), leased.end());
  EXPECT_EQ(leased, (std::vector<std::string>{"r1", "r2"}));
  for (const auto& id : paused) {
    EXPECT_EQ(MustGetRecipient(server_, kSeq, id).status(),
              v1::RECIPIENT_STATUS_PAUSED);
  }
}

// A leased step is skipped without being offered again while the recipient
// stays as it was leased; a change to the recipient (here an edit of the
// step's content, which queues the step again through the scheduler) offers
// it again.
TEST_F(QueueServerTest, ALeasedStepIsOfferedAgainOnlyAfterTheRecipientChanges) {
  CreateSequence(server_, kSeq, {EmailStep(absl::Hours(1))});
  Enroll(server_, kSeq, {"r1", "r2"});
  server_.AdvanceTime(absl::Hours(1));
  EXPECT_EQ(Lease(1), std::vector<std::string>{"r1"});
  EXPECT_EQ(Lease(), std::vector<std::string>{"r2"});
  EXPECT_TRUE(Lease().empty());
  v1::ContentEdit edit;
  edit.set_subject("Hello {{first_name}}");
  ASSERT_TRUE(EditContent(server_, kSeq, "r1", 0, edit).ok());
  server_.AdvanceTime(absl::ZeroDuration());
  EXPECT_EQ(Lease(), std::vector<std::string>{"r1"});
}

// Many recipients due at once go through the scheduler in batches; every one
// is made due before AdvanceTime answers.
TEST_F(QueueServerTest, AdvanceTimeMakesEveryDueRecipientDueAcrossBatches) {
  CreateSequence(server_, kSeq, {EmailStep(absl::Hours(1))});
  std::vector<std::string> ids;
  for (int i = 0; i < 1200; ++i) ids.push_back("r" + std::to_string(i));
  Enroll(server_, kSeq, ids);
  server_.AdvanceTime(absl::Hours(1));
  int leased = 0;
  for (int i = 0; i < 13; ++i) leased += static_cast<int>(Lease().size());
  EXPECT_EQ(leased, 1200);
}

}  // namespace
}  // namespace sequencer::testing
