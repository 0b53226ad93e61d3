// EventFeed on its own, over the in-memory store: the ring exposes only a
// contiguous range although concurrent commits reach it out of order, erased
// streams leave it at once, a reader behind it reads the log, a hole that
// never fills is given up, and no wake-up is lost.

#include "app/runtime/event_feed.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "eventstore/in_memory_event_store.h"
#include "gtest/gtest.h"

namespace sequencer::app {
namespace {

class RecordedWaiter : public FeedWaiter {
 public:
  void Wake(bool shutdown) override { wakes.push_back(shutdown); }
  std::vector<bool> wakes;
};

// Counts its wake-ups (never a shutdown), which may come on another thread,
// and can be marked cancelled.
class Waiter : public FeedWaiter {
 public:
  void Wake(bool shutdown) override {
    EXPECT_FALSE(shutdown);
    ++wakes;
    woken.Notify();
  }
  bool Cancelled() const override { return cancelled.load(); }
  std::atomic<int> wakes{0};
  absl::Notification woken;
  std::atomic<bool> cancelled{false};
};

eventstore::CommitBatch Append(const std::string& stream, int events) {
  eventstore::CommitBatch batch;
  eventstore::StreamAppend append{stream, eventstore::kAnyVersion, {}};
  for (int i = 0; i < events; ++i) {
    append.events.push_back({"Paused", absl::StrCat(stream, "#", i)});
  }
  batch.appends.push_back(std::move(append));
  return batch;
}

// "position stream vversion" of each event.
std::vector<std::string> Describe(const EventFeed::Chunk& chunk) {
  std::vector<std::string> out;
  for (const auto& ref : chunk.events) {
    const eventstore::StoredEvent& event = ref->event;
    out.push_back(
        absl::StrCat(event.position, " ", event.stream, " v", event.version));
  }
  return out;
}

class EventFeedTest : public ::testing::Test {
 protected:
  // Commits to the store only; the test tells the feed when it likes.
  std::pair<eventstore::CommitBatch, eventstore::CommitResult> Commit(
      eventstore::CommitBatch batch) {
    auto result = store_.Commit(batch);
    EXPECT_TRUE(result.ok()) << result.status();
    return {std::move(batch), *result};
  }

  eventstore::InMemoryEventStore store_;
};

using V = std::vector<std::string>;

TEST_F(EventFeedTest, OutOfOrderCommitsArePublishedInPositionOrder) {
  EventFeed feed(&store_);
  auto a = Commit(Append("s/a", 2));  // positions 1-2
  auto b = Commit(Append("s/b", 1));  // 3
  RecordedWaiter waiter;
  // B reaches the feed first: it waits behind A, and a reader at 0 is served
  // from the log (the store has both).
  feed.Committed(b.first, b.second);
  EXPECT_EQ(feed.stats().pending_commits, 1u);
  auto chunk = feed.Read(0, 10);
  ASSERT_TRUE(chunk.ok());
  EXPECT_TRUE(chunk->from_log);
  EXPECT_EQ(Describe(*chunk), (V{"1 s/a v1", "2 s/a v2", "3 s/b v1"}));
  EXPECT_EQ(chunk->through, 3u);
  // A waiter at 3 is not woken by A (the ring reaches 3 only with B, which
  // it already read).
  ASSERT_TRUE(feed.Park(&waiter, 3));
  feed.Committed(a.first, a.second);
  EXPECT_TRUE(waiter.wakes.empty());
  EXPECT_EQ(feed.stats().pending_commits, 0u);
  EXPECT_EQ(feed.stats().ring_events, 3u);
  chunk = feed.Read(1, 10);
  ASSERT_TRUE(chunk.ok());
  EXPECT_FALSE(chunk->from_log);
  EXPECT_EQ(Describe(*chunk), (V{"2 s/a v2", "3 s/b v1"}));
  // The next commit wakes it, once.
  auto c = Commit(Append("s/c", 1));
  feed.Committed(c.first, c.second);
  EXPECT_EQ(waiter.wakes, std::vector<bool>{false});
  EXPECT_FALSE(feed.Remove(&waiter));
  chunk = feed.Read(3, 10);
  ASSERT_TRUE(chunk.ok());
  EXPECT_EQ(Describe(*chunk), (V{"4 s/c v1"}));
  // At the edge: nothing, and through stays.
  chunk = feed.Read(4, 10);
  ASSERT_TRUE(chunk.ok());
  EXPECT_TRUE(chunk->events.empty());
  EXPECT_EQ(chunk->through, 4u);
}

TEST_F(EventFeedTest, ParkRefusesWhenTheRingHasMovedOn) {
  EventFeed feed(&store_);
  auto a = Commit(Append("s/a", 1));
  feed.Committed(a.first, a.second);
  RecordedWaiter waiter;
  EXPECT_FALSE(feed.Park(&waiter, 0));  // read again: position 1 is there
  EXPECT_TRUE(feed.Park(&waiter, 1));
  EXPECT_TRUE(feed.Remove(&waiter));
  EXPECT_FALSE(feed.Remove(&waiter));
  EXPECT_TRUE(feed.Park(&waiter, 1));
  feed.Shutdown();
  EXPECT_EQ(waiter.wakes, std::vector<bool>{true});
  EXPECT_FALSE(feed.Park(&waiter, 1));
  EXPECT_TRUE(feed.shut_down());
}

TEST_F(EventFeedTest, ErasedStreamsLeaveTheRingAtOnce) {
  EventFeed feed(&store_);
  for (const char* stream : {"rcp/t/s/victim", "rcp/t/s/keep"}) {
    auto commit = Commit(Append(stream, 2));
    feed.Committed(commit.first, commit.second);
  }
  eventstore::CommitBatch erase = Append("del/t/s/victim", 1);
  erase.erasures.push_back({"rcp/t/s/victim", eventstore::kAnyVersion, {}});
  auto erased = Commit(std::move(erase));
  EXPECT_EQ(feed.erasures(), 0u);
  feed.Committed(erased.first, erased.second);
  // Readers holding a chunk read before it know to read again.
  EXPECT_EQ(feed.erasures(), 1u);
  auto chunk = feed.Read(0, 10);
  ASSERT_TRUE(chunk.ok());
  // Positions 1 and 2 are erased: the ring (from 1) and the log agree.
  EXPECT_FALSE(chunk->from_log);
  EXPECT_EQ(Describe(*chunk), (V{"3 rcp/t/s/keep v1", "4 rcp/t/s/keep v2",
                                 "5 del/t/s/victim v1"}));
  EXPECT_EQ(chunk->through, 5u);
  auto from_log = store_.ReadAll(1, 10);
  ASSERT_TRUE(from_log.ok());
  ASSERT_EQ(from_log->size(), 3u);
  EXPECT_EQ((*from_log)[0].position, 3u);
}

TEST_F(EventFeedTest, AReaderBehindTheRingReadsTheLog) {
  EventFeed::Options options;
  options.max_events = 4;
  EventFeed feed(&store_, options);
  for (int i = 0; i < 10; ++i) {
    auto commit = Commit(Append(absl::StrCat("s/", i), 1));
    feed.Committed(commit.first, commit.second);
  }
  EXPECT_EQ(feed.stats().ring_events, 4u);
  auto chunk = feed.Read(0, 3);
  ASSERT_TRUE(chunk.ok());
  EXPECT_TRUE(chunk->from_log);
  EXPECT_EQ(Describe(*chunk), (V{"1 s/0 v1", "2 s/1 v1", "3 s/2 v1"}));
  EXPECT_EQ(chunk->through, 3u);
  chunk = feed.Read(6, 3);
  ASSERT_TRUE(chunk.ok());
  EXPECT_FALSE(chunk->from_log);
  EXPECT_EQ(Describe(*chunk), (V{"7 s/6 v1", "8 s/7 v1", "9 s/8 v1"}));
  EXPECT_EQ(chunk->through, 9u);
}

TEST_F(EventFeedTest, AHoleThatNeverFillsIsGivenUp) {
  EventFeed::Options options;
  options.max_pending_commits = 2;
  EventFeed feed(&store_, options);
  Commit(Append("s/lost", 1));  // the feed is never told of position 1
  RecordedWaiter waiter;
  ASSERT_TRUE(feed.Park(&waiter, 1));  // a reader that read 1 from the log
  for (int i = 0; i < 3; ++i) {
    auto commit = Commit(Append(absl::StrCat("s/", i), 1));
    feed.Committed(commit.first, commit.second);
  }
  EXPECT_EQ(feed.stats().pending_commits, 0u);
  EXPECT_EQ(waiter.wakes, std::vector<bool>{false});
  auto chunk = feed.Read(1, 10);
  ASSERT_TRUE(chunk.ok());
  EXPECT_TRUE(chunk->from_log);
  EXPECT_EQ(Describe(*chunk), (V{"2 s/0 v1", "3 s/1 v1", "4 s/2 v1"}));
  auto next = Commit(Append("s/next", 1));
  feed.Committed(next.first, next.second);
  chunk = feed.Read(4, 10);
  ASSERT_TRUE(chunk.ok());
  EXPECT_FALSE(chunk->from_log);
  EXPECT_EQ(Describe(*chunk), (V{"5 s/next v1"}));
}

// Committers race to tell the feed (their commits arrive out of order) while
// readers follow with Read and Park: each reader sees every position once,
// in order, and no wake-up is lost (a lost one would time out).
TEST_F(EventFeedTest, EachEventIsEncodedOnceAndItsBytesShared) {
  std::atomic<int> encodes{0};
  EventFeed::Options options;
  options.encode = [&encodes](const eventstore::StoredEvent& event) {
    ++encodes;
    return absl::StrCat(event.position, ":", event.data);
  };
  EventFeed feed(&store_, options);
  auto a = Commit(Append("s/a", 3));
  feed.Committed(a.first, a.second);
  EXPECT_EQ(encodes.load(), 3);
  EventFeed::Chunk first;
  EventFeed::Chunk second;
  ASSERT_TRUE(feed.ReadMemory(0, 10, &first));
  ASSERT_TRUE(feed.ReadMemory(1, 10, &second));
  ASSERT_EQ(first.events.size(), 3u);
  ASSERT_EQ(second.events.size(), 2u);
  EXPECT_EQ(first.events[0]->encoded, "1:s/a#0");
  EXPECT_EQ(first.events[2]->encoded, "3:s/a#2");
  // The ring keeps the encoded form only.
  EXPECT_TRUE(first.events[0]->event.data.empty());
  // Readers share the ring's bytes: no copy, no second encoding.
  EXPECT_EQ(first.events[1].get(), second.events[0].get());
  EXPECT_EQ(encodes.load(), 3);
  // Read from the log (before the ring), the events are encoded by the read.
  EventFeed late(&store_, options);
  auto from_log = late.Read(0, 10);
  ASSERT_TRUE(from_log.ok());
  ASSERT_TRUE(from_log->from_log);
  ASSERT_EQ(from_log->events.size(), 3u);
  EXPECT_EQ(from_log->events[1]->encoded, "2:s/a#1");
}

TEST_F(EventFeedTest, TheWakeThreadWakesEveryParkedWaiterOnce) {
  EventFeed::Options options;
  options.wake_thread = true;
  EventFeed feed(&store_, options);
  std::vector<std::unique_ptr<Waiter>> waiters;
  for (int i = 0; i < 10; ++i) {
    waiters.push_back(std::make_unique<Waiter>());
    ASSERT_TRUE(feed.Park(waiters.back().get(), 0));
  }
  // Commits that reach the feed (here several) move the ring past every
  // waiter; each is woken exactly once, on the feed's thread.
  for (int i = 0; i < 5; ++i) {
    auto a = Commit(Append(absl::StrCat("s/", i), 1));
    feed.Committed(a.first, a.second);
  }
  for (auto& waiter : waiters) {
    ASSERT_TRUE(
        waiter->woken.WaitForNotificationWithTimeout(absl::Seconds(30)));
  }
  EXPECT_EQ(feed.stats().waiting, 0u);
  EXPECT_EQ(feed.stats().woken, 10u);
  // Parked again behind the ring: refused (no wake-up lost).
  EXPECT_FALSE(feed.Park(waiters[0].get(), 0));
  feed.Shutdown();
  for (auto& waiter : waiters) EXPECT_EQ(waiter->wakes.load(), 1);
}

TEST_F(EventFeedTest, ParkForNextRoundParksBehindTheRingAndTheNextRoundWakes) {
  auto a = Commit(Append("s/a", 1));
  {
    // Without the wake thread it is Park: refused behind the ring.
    EventFeed feed(&store_);
    feed.Committed(a.first, a.second);
    Waiter waiter;
    EXPECT_FALSE(feed.ParkForNextRound(&waiter, 0));
  }
  EventFeed::Options options;
  options.wake_thread = true;
  options.min_round_interval = absl::Milliseconds(1);
  EventFeed feed(&store_, options);
  feed.Committed(a.first, a.second);
  Waiter behind;
  Waiter refused;
  EXPECT_FALSE(feed.Park(&refused, 0));
  // Behind the ring, with no commit to come: parked anyway, and woken by the
  // round its park asked for.
  ASSERT_TRUE(feed.ParkForNextRound(&behind, 0));
  ASSERT_TRUE(behind.woken.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(behind.wakes.load(), 1);
  EXPECT_EQ(refused.wakes.load(), 0);
  // At the ring's end: parked until a commit moves it.
  Waiter at_end;
  ASSERT_TRUE(feed.ParkForNextRound(&at_end, 1));
  EXPECT_EQ(feed.stats().waiting, 1u);
  auto b = Commit(Append("s/b", 1));
  feed.Committed(b.first, b.second);
  ASSERT_TRUE(at_end.woken.WaitForNotificationWithTimeout(absl::Seconds(30)));
  feed.Shutdown();
  Waiter late;
  EXPECT_FALSE(feed.ParkForNextRound(&late, 2));
  EXPECT_EQ(at_end.wakes.load(), 1);
}

// A waiter that is already cancelled is never parked (the feed asks under its
// lock), so its owner need not touch it after a successful park; one
// cancelled after parking is taken back by Remove and never woken.
TEST_F(EventFeedTest, ACancelledWaiterIsNotParked) {
  for (const bool wake_thread : {false, true}) {
    EventFeed::Options options;
    options.wake_thread = wake_thread;
    EventFeed feed(&store_, options);
    const uint64_t edge = feed.LastPosition();
    Waiter cancelled;
    cancelled.cancelled = true;
    EXPECT_FALSE(feed.Park(&cancelled, edge));
    EXPECT_FALSE(feed.ParkForNextRound(&cancelled, edge));
    EXPECT_EQ(feed.stats().waiting, 0u);
    Waiter parked;
    ASSERT_TRUE(feed.Park(&parked, edge));
    parked.cancelled = true;
    EXPECT_TRUE(feed.Remove(&parked));
    auto a = Commit(Append("s/a", 1));
    feed.Committed(a.first, a.second);
    feed.Shutdown();
    EXPECT_EQ(cancelled.wakes.load(), 0);
    EXPECT_EQ(parked.wakes.load(), 0);
  }
}

class ConcurrentFeedTest : public EventFeedTest,
                           public ::testing::WithParamInterface<bool> {};

// Both ways of waking (the committer's thread, the feed's own thread).
TEST_P(ConcurrentFeedTest, ConcurrentCommittersAndReadersAgreeOnTheOrder) {
  EventFeed::Options options;
  options.max_events = 64;  // readers also fall behind the ring
  options.wake_thread = GetParam();
  if (GetParam()) {
    options.encode = [](const eventstore::StoredEvent& event) {
      return absl::StrCat(event.position);
    };
  }
  EventFeed feed(&store_, options);
  constexpr int kCommitters = 4;
  constexpr int kCommits = 200;
  constexpr int kReaders = 4;
  constexpr uint64_t kTotal = kCommitters * kCommits * 2;

  class AnyWake : public FeedWaiter {
   public:
    void Wake(bool shutdown) override { woken.Notify(); }
    absl::Notification woken;
  };
  std::vector<std::vector<uint64_t>> seen(kReaders);
  std::vector<std::thread> threads;
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&feed, &seen, r] {
      uint64_t cursor = 0;
      while (cursor < kTotal) {
        auto chunk = feed.Read(cursor, 16);
        ASSERT_TRUE(chunk.ok());
        for (const auto& event : chunk->events) {
          seen[r].push_back(event->event.position);
          if (!event->encoded.empty()) {
            EXPECT_EQ(event->encoded, absl::StrCat(event->event.position));
          }
        }
        if (chunk->through == cursor) {
          AnyWake waiter;
          if (feed.Park(&waiter, cursor)) {
            ASSERT_TRUE(
                waiter.woken.WaitForNotificationWithTimeout(absl::Seconds(30)))
                << "no wake-up after " << cursor;
          }
        }
        cursor = chunk->through;
      }
    });
  }
  for (int c = 0; c < kCommitters; ++c) {
    threads.emplace_back([this, &feed, c] {
      for (int i = 0; i < kCommits; ++i) {
        eventstore::CommitBatch batch =
            Append(absl::StrCat("s/", c, "/", i), 2);
        auto result = store_.Commit(batch);
        ASSERT_TRUE(result.ok());
        feed.Committed(batch, *result);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int r = 0; r < kReaders; ++r) {
    ASSERT_EQ(seen[r].size(), kTotal) << r;
    for (uint64_t p = 0; p < kTotal; ++p) ASSERT_EQ(seen[r][p], p + 1) << r;
  }
}
INSTANTIATE_TEST_SUITE_P(Wakes, ConcurrentFeedTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "WakeThread" : "Committer";
                         });

}  // namespace
}  // namespace sequencer::app
