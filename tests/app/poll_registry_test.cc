// PollRegistry on its own, with a manual clock and recorded polls: the rules
// that make waking targeted and lose no wake-up.

#include "app/runtime/poll_registry.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "app/runtime/clock.h"
#include "app/storage/store_layout.h"
#include "gtest/gtest.h"

namespace sequencer::app {
namespace {

constexpr char kEmailA[] = "ready/a/EMAIL/";
constexpr char kSmsA[] = "ready/a/SMS/";

class RecordedPoll : public app::WaitingPoll {
 public:
  void Resume(PollEnd why) override { ends.push_back(why); }
  bool cancelled() const override { return is_cancelled; }

  std::vector<PollEnd> ends;
  bool is_cancelled = false;
};

class PollRegistryTest : public ::testing::Test {
 protected:
  app::PollRegistry::ParkResult Park(RecordedPoll& poll,
                                     const std::string& queue,
                                     absl::Duration wait = absl::Seconds(30)) {
    return registry_.Park(&poll, queue, registry_.Generation(queue),
                          clock_.Now() + wait);
  }

  app::ManualClock clock_;
  // Before registry_: polls still parked at the end are resumed (shut down)
  // by its destructor.
  RecordedPoll first_, second_, third_, fourth_;
  app::PollRegistry registry_{&clock_};
};

TEST_F(PollRegistryTest, NotifyWakesUpToCountOldestPollsOfItsQueueOnly) {
  RecordedPoll& first = first_;
  RecordedPoll& second = second_;
  RecordedPoll& third = third_;
  RecordedPoll& sms = fourth_;
  ASSERT_EQ(Park(first, kEmailA), app::PollRegistry::ParkResult::kParked);
  ASSERT_EQ(Park(second, kEmailA), app::PollRegistry::ParkResult::kParked);
  ASSERT_EQ(Park(third, kEmailA), app::PollRegistry::ParkResult::kParked);
  ASSERT_EQ(Park(sms, kSmsA), app::PollRegistry::ParkResult::kParked);

  registry_.Notify(kEmailA, 2);
  EXPECT_EQ(first.ends, std::vector<PollEnd>{PollEnd::kWoken});
  EXPECT_EQ(second.ends, std::vector<PollEnd>{PollEnd::kWoken});
  EXPECT_TRUE(third.ends.empty());
  EXPECT_TRUE(sms.ends.empty());
  EXPECT_EQ(registry_.counts().waiting, 2);
  EXPECT_EQ(registry_.counts().woken, 2);

  registry_.Notify("ready/b/EMAIL/", 5);
  EXPECT_TRUE(third.ends.empty());
  EXPECT_EQ(registry_.counts().woken, 2);
}

TEST_F(PollRegistryTest, WorkQueuedBetweenTheLookAndTheParkIsNotMissed) {
  RecordedPoll& poll = first_;
  const uint64_t seen = registry_.Generation(kEmailA);
  registry_.Notify(kEmailA, 1);  // a commit lands after the poll looked
  EXPECT_EQ(
      registry_.Park(&poll, kEmailA, seen, clock_.Now() + absl::Seconds(30)),
      app::PollRegistry::ParkResult::kWorkArrived);
  // Another queue's commit does not count.
  const uint64_t seen_again = registry_.Generation(kEmailA);
  registry_.Notify(kSmsA, 1);
  EXPECT_EQ(registry_.Park(&poll, kEmailA, seen_again,
                           clock_.Now() + absl::Seconds(30)),
            app::PollRegistry::ParkResult::kParked);
  EXPECT_TRUE(registry_.Remove(&poll));
  EXPECT_TRUE(poll.ends.empty());
}

TEST_F(PollRegistryTest, ExpireDueEndsPollsAtOrBeforeNowOnly) {
  RecordedPoll& short_wait = first_;
  RecordedPoll& long_wait = second_;
  ASSERT_EQ(Park(long_wait, kEmailA, absl::Seconds(20)),
            app::PollRegistry::ParkResult::kParked);
  ASSERT_EQ(Park(short_wait, kEmailA, absl::Seconds(10)),
            app::PollRegistry::ParkResult::kParked);
  clock_.Advance(absl::Seconds(9));
  EXPECT_EQ(registry_.ExpireDue(), 0);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(registry_.ExpireDue(), 1);
  EXPECT_EQ(short_wait.ends, std::vector<PollEnd>{PollEnd::kExpired});
  EXPECT_TRUE(long_wait.ends.empty());
  // A deadline already passed is refused at once.
  EXPECT_EQ(Park(third_, kEmailA, absl::ZeroDuration()),
            app::PollRegistry::ParkResult::kExpired);
}

TEST_F(PollRegistryTest, RemoveTakesAParkedPollOutOnce) {
  RecordedPoll& poll = first_;
  ASSERT_EQ(Park(poll, kEmailA), app::PollRegistry::ParkResult::kParked);
  EXPECT_TRUE(registry_.Remove(&poll));
  EXPECT_FALSE(registry_.Remove(&poll));
  registry_.Notify(kEmailA, 1);
  clock_.Advance(absl::Minutes(1));
  registry_.ExpireDue();
  EXPECT_TRUE(poll.ends.empty()) << "a removed poll is never resumed";
  EXPECT_EQ(registry_.counts().waiting, 0);
}

TEST_F(PollRegistryTest, ACancelledPollIsNotParked) {
  RecordedPoll& poll = first_;
  poll.is_cancelled = true;
  EXPECT_EQ(Park(poll, kEmailA), app::PollRegistry::ParkResult::kCancelled);
  EXPECT_EQ(registry_.counts().waiting, 0);
}

TEST_F(PollRegistryTest, ShutdownResumesEveryPollAndRefusesNewOnes) {
  RecordedPoll& a = first_;
  RecordedPoll& b = second_;
  ASSERT_EQ(Park(a, kEmailA), app::PollRegistry::ParkResult::kParked);
  ASSERT_EQ(Park(b, kSmsA), app::PollRegistry::ParkResult::kParked);
  registry_.Shutdown();
  EXPECT_EQ(a.ends, std::vector<PollEnd>{PollEnd::kShutdown});
  EXPECT_EQ(b.ends, std::vector<PollEnd>{PollEnd::kShutdown});
  EXPECT_EQ(Park(third_, kEmailA), app::PollRegistry::ParkResult::kShutdown);
  registry_.Shutdown();  // idempotent
  EXPECT_EQ(a.ends.size(), 1u);
}

// Commits find the queue to notify from the ready/ keys they write.
TEST(ReadyQueueOfTest, NamesTheQueueOfAReadyKeyAndNothingElse) {
  const absl::Time due = app::ManualClock::DefaultStart();
  EXPECT_EQ(app::layout::ReadyQueueOf(
                app::layout::ReadyKey("t", "EMAIL", due, "s", "r")),
            app::layout::ReadyPrefix("t", "EMAIL"));
  EXPECT_EQ(app::layout::ReadyQueueOf(app::layout::DueKey(due, "t", "s", "r")),
            "");
  EXPECT_EQ(app::layout::ReadyQueueOf("ready/t"), "");
}

}  // namespace
}  // namespace sequencer::app
