// Long reads stop when their caller stops waiting: ReadDeadline's asks, and
// each long read of app/ with an injected stop check that turns true at its
// K-th ask (so after K-1 intervals of items). No wall clock, no sleep: the
// check counts.

#include "app/runtime/read_deadline.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "app/use_cases/audit.h"
#include "app/use_cases/recipient_queries.h"
#include "app/use_cases/sequence_report.h"
#include "app/use_cases/sequences.h"
#include "app/use_cases/store_admin.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/app/app_fixture.h"
#include "tests/util/status_matchers.h"

namespace sequencer::app::testing {
namespace {

using ::sequencer::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kSeq[] = "s";

// A stop check that says "stop" from its `stop_at`-th ask on (0: never), and
// counts its asks. Shared, so copies of the StopCheck count together.
struct FakeDeadline {
  explicit FakeDeadline(int stop_at) : stop_at(stop_at) {}
  StopCheck Check() {
    return [this] {
      const int ask = ++asks;
      return stop_at > 0 && ask >= stop_at;
    };
  }
  const int stop_at;
  std::atomic<int> asks{0};
};

TEST(ReadDeadlineTest, AsksBeforeTheFirstItemAndEveryInterval) {
  FakeDeadline never(0);
  ReadDeadline deadline(never.Check(), "items", 10);
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(deadline.Tick().ok());
  EXPECT_EQ(never.asks, 3);  // before items 0, 10 and 20
  EXPECT_EQ(deadline.items(), 25u);

  FakeDeadline third(3);
  ReadDeadline stopping(third.Check(), "items", 10);
  absl::Status status;
  int read = 0;
  while ((status = stopping.Tick()).ok()) ++read;
  EXPECT_EQ(read, 20);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kDeadlineExceeded,
                               HasSubstr("after 20 items were read")));
}

TEST(ReadDeadlineTest, WithoutACheckTheCallDeadlineIsUsed) {
  // No stop check and no deadline: never stops.
  ReadDeadline open(CallContext("t", "a"), "items", 1);
  EXPECT_TRUE(open.Tick().ok());
  // A deadline long past (real time, but no waiting: it passed in 1970).
  ReadDeadline past(CallContext("t", "a", absl::UnixEpoch()), "items", 1);
  EXPECT_THAT(past.Tick(), StatusIs(absl::StatusCode::kDeadlineExceeded));
  // An injected check wins over the deadline.
  CallContext call("t", "a", absl::UnixEpoch());
  call.stopped_waiting = [] { return false; };
  EXPECT_TRUE(ReadDeadline(call, "items", 1).Tick().ok());
}

class LongReadDeadlineTest : public AppFixture {
 protected:
  void SetUp() override {
    ASSERT_TRUE(CreateSequence(kSeq, {EmailStep(absl::Hours(1))}).ok());
    ASSERT_TRUE(Enroll(kSeq, ManyIds(1000)).ok());
  }
  CallContext CallWith(FakeDeadline& fake) {
    CallContext call = Call();
    call.stopped_waiting = fake.Check();
    return call;
  }
};

TEST_F(LongReadDeadlineTest, SequenceReportStopsAfterTheEntriesReadInTime) {
  FakeDeadline never(0);
  auto whole = GetSequenceReport(deps_, CallWith(never), kSeq);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(never.asks, 4);  // 1,000 entries: before 0, 256, 512, 768

  FakeDeadline third(3);
  auto stopped = GetSequenceReport(deps_, CallWith(third), kSeq);
  EXPECT_THAT(stopped.status(),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       HasSubstr("after 512 report entries were read")));
  EXPECT_EQ(third.asks, 3);  // and no more: the scan stopped
}

TEST_F(LongReadDeadlineTest, ListRecipientsStops) {
  FakeDeadline never(0);
  auto page = ListRecipients(deps_, CallWith(never), kSeq, {}, "", 1000);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->recipients.size(), 1000u);
  EXPECT_EQ(never.asks, 4);

  FakeDeadline second(2);
  auto stopped = ListRecipients(deps_, CallWith(second), kSeq, {}, "", 1000);
  EXPECT_THAT(stopped.status(),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       HasSubstr("after 256 recipients were read")));
}

TEST_F(LongReadDeadlineTest, ListSequencesStops) {
  FakeDeadline first(1);
  auto stopped = ListSequences(deps_, CallWith(first), "", 100);
  EXPECT_THAT(stopped.status(),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       HasSubstr("after 0 sequences were read")));
  FakeDeadline never(0);
  EXPECT_TRUE(ListSequences(deps_, CallWith(never), "", 100).ok());
}

TEST_F(LongReadDeadlineTest, ReadEventsStops) {
  FakeDeadline never(0);
  auto page = ReadEvents(deps_, CallWith(never), 1, 1000);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->events.size(), 1000u);

  FakeDeadline third(3);
  auto stopped = ReadEvents(deps_, CallWith(third), 1, 1000);
  EXPECT_THAT(stopped.status(),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       HasSubstr("after 512 events were read")));
}

TEST_F(LongReadDeadlineTest, GetRecipientAsOfStops) {
  AsOfRequest request;
  request.sequence_id = kSeq;
  request.recipient_id = "r0001";
  FakeDeadline never(0);
  EXPECT_TRUE(GetRecipientAsOf(deps_, CallWith(never), request).ok());
  // One count for both folds (one event each): asked once, before the first.
  EXPECT_EQ(never.asks, 1);
  FakeDeadline first(1);
  EXPECT_THAT(GetRecipientAsOf(deps_, CallWith(first), request).status(),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       HasSubstr("after 0 events were read")));
}

TEST_F(LongReadDeadlineTest, VerifyStopsDuringTheLogScan) {
  ProjectionVerifier::Options options;
  options.threads = 1;
  FakeDeadline never(0);
  options.stopped = never.Check();
  auto whole = ProjectionVerifier(&memory_, options).Verify();
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_TRUE(whole->ok()) << whole->Summary();
  EXPECT_GE(never.asks, 4);  // 1,001 events, and before the comparison

  FakeDeadline second(2);
  options.stopped = second.Check();
  auto stopped = ProjectionVerifier(&memory_, options).Verify();
  EXPECT_THAT(stopped.status(), StatusIs(absl::StatusCode::kDeadlineExceeded,
                                         HasSubstr("events were read")));
  EXPECT_EQ(second.asks, 2);
}

TEST_F(LongReadDeadlineTest, BackupDoesNotBeginAfterTheDeadline) {
  FakeDeadline first(1);
  auto stopped =
      Backup(memory_, StoreCopies(), "/nonexistent/backup", first.Check());
  EXPECT_THAT(stopped.status(), StatusIs(absl::StatusCode::kDeadlineExceeded,
                                         HasSubstr("before the backup began")));
  // Without the check, the in-memory store's own answer (it has no
  // checkpoints): the deadline answer above did not come from it.
  EXPECT_FALSE(absl::IsDeadlineExceeded(
      Backup(memory_, StoreCopies(), "/nonexistent/backup").status()));
}

}  // namespace
}  // namespace sequencer::app::testing
