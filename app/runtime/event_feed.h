// The committed events, for subscribers that follow the log (issue 12,
// SubscribeEvents): a bounded in-memory ring of the most recent events, an
// accelerator in front of the log, and the wake-ups of subscribers waiting at
// the live edge.
//
// The log (EventStore::ReadAll) is the source of truth; the ring only saves
// reading it for subscribers that keep up. CommandRunner::Commit tells the
// feed of every commit (Committed) after the store accepted it. Commits of
// concurrent groups may arrive out of position order: a commit whose
// positions do not follow the ring's last one waits in `pending` until the
// commits before it arrive, so the ring always holds a contiguous range of
// positions (minus erased events). A hole that never fills (a commit the
// feed is not told of) is given up after `max_pending_commits` later
// commits: the ring restarts after them and the hole is read from the log.
//
// Erasures: Committed drops the erased streams' events from the ring (and
// from pending commits) before it returns, so once a delete has answered, no
// reader gets the erased events from memory; the log already skips them.
//
// Readers (Read) keep their own cursor, the last position they covered: a
// position still in the ring is copied from it, an older one is read from the
// log (catch-up), in chunks. A reader costs the feed nothing between reads,
// so a slow one costs no memory and never holds up a writer: writers take
// the feed's lock only to append to the ring.
//
// A reader at the live edge parks a FeedWaiter (Park), which is woken once
// when the ring moves past its cursor or at Shutdown. As in PollRegistry, a
// Park after a commit that already moved past the cursor refuses, so no
// wake-up is lost between the last read and the park. With
// Options::wake_thread the wake-ups run on the feed's own thread, not the
// committer's: a commit costs its writer O(1) whatever the number of waiters,
// and the commits that arrive while the thread is waking waiters are covered
// by its next round (one wake per waiter per round, not per commit). Rounds
// start at most every Options::min_round_interval, so a reader that keeps up
// and parks with ParkForNextRound after each message it sends sends one
// message per round, with whatever committed meanwhile, rather than one per
// commit.
//
// Encoding once: with Options::encode, each event is encoded (for the
// subscribers' wire format) once as it enters the ring, and every reader
// shares the bytes (FeedEvent::encoded); events read from the log are
// encoded by the read.
//
// Thread-safe.

#ifndef SEQUENCER_APP_RUNTIME_EVENT_FEED_H_
#define SEQUENCER_APP_RUNTIME_EVENT_FEED_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "eventstore/event_store.h"

namespace sequencer::app {

// A reader waiting at the live edge. Implemented by a subscription.
class FeedWaiter {
 public:
  virtual ~FeedWaiter() = default;
  // Called once per successful Park, unless Remove took it back first: when
  // events after its cursor are there (`shutdown` false) or the feed shuts
  // down (true). Runs on the thread that noticed (a committer, the feed's
  // wake thread, Shutdown), without the feed's lock; must not block.
  virtual void Wake(bool shutdown) = 0;
  // True once the reader's caller has gone. Asked under the feed's lock by
  // Park and ParkForNextRound, which then refuse: a reader that sets it and
  // then calls Remove is either refused its park or taken back by Remove,
  // so it never has to touch itself after a successful park (where a Wake
  // on another thread may already have finished and freed it).
  virtual bool Cancelled() const { return false; }
};

// An event as the feed hands it out: immutable, shared by the ring and every
// reader that read it.
struct FeedEvent {
  // Its `data` is empty when the feed encodes (Options::encode): `encoded`
  // holds it.
  eventstore::StoredEvent event;
  // Options::encode(event) (with the data), or empty without an encoder.
  std::string encoded;
};
using FeedEventRef = std::shared_ptr<const FeedEvent>;

class EventFeed {
 public:
  struct Options {
    // Bounds of the ring: the oldest events leave first.
    size_t max_bytes = 16 << 20;
    size_t max_events = 1 << 16;
    // Commits waiting behind a hole before the hole is given up.
    size_t max_pending_commits = 1024;
    // The wire form of an event (FeedEvent::encoded), computed once per
    // event; must be thread-safe and not block. Null: nothing encoded.
    std::function<std::string(const eventstore::StoredEvent&)> encode;
    // Wake parked waiters on a thread of the feed's (true) rather than on
    // the committer's thread inside Committed (false: what tests that
    // count wake-ups synchronously rely on).
    bool wake_thread = false;
    // With wake_thread: the least time between the starts of two rounds of
    // wake-ups (what a parked reader may wait past a commit, at most).
    absl::Duration min_round_interval = absl::ZeroDuration();
  };

  // What Read found.
  struct Chunk {
    // In position order; erased positions are not there.
    std::vector<FeedEventRef> events;
    // The last position this read covered (>= every event's position): pass
    // it to the next Read. Equal to `after` when nothing new was found.
    uint64_t through = 0;
    // Read from the log rather than the ring.
    bool from_log = false;
    // Read from the ring up to its last position then (nothing more was
    // there to read).
    bool at_end = false;
  };

  struct Stats {
    size_t ring_events = 0;
    size_t ring_bytes = 0;
    size_t pending_commits = 0;
    size_t waiting = 0;
    uint64_t ring_reads = 0;
    uint64_t log_reads = 0;
    // Rounds of wake-ups (Options::wake_thread) and waiters woken.
    uint64_t wake_rounds = 0;
    uint64_t woken = 0;
  };

  // Starts after the store's last position. `store` must outlive the feed.
  explicit EventFeed(const eventstore::EventStore* store)
      : EventFeed(store, Options()) {}
  EventFeed(const eventstore::EventStore* store, Options options);
  EventFeed(const EventFeed&) = delete;
  EventFeed& operator=(const EventFeed&) = delete;
  // Stops the wake thread. No waiter may be parked any more (Shutdown first).
  ~EventFeed();

  // `batch` was committed with `result`: adds its events to the ring
  // (encoding them, outside the lock), drops the streams it erased, wakes the
  // waiters the ring moved past (or has the wake thread wake them).
  void Committed(const eventstore::CommitBatch& batch,
                 const eventstore::CommitResult& result);

  // The events after position `after`, at most `max_events`, from the ring
  // when it still holds them, else from the log. Errors: the store's.
  absl::StatusOr<Chunk> Read(uint64_t after, size_t max_events) const;

  // Read without the log (never blocks on I/O): false when the events after
  // `after` are only in the log (then Read them). At the live edge: true,
  // with no events and `through` = `after`.
  bool ReadMemory(uint64_t after, size_t max_events, Chunk* chunk) const;

  // How many commits have erased something so far. A reader that read a
  // chunk before it last changed may hold erased events: it reads again.
  uint64_t erasures() const { return erasures_.load(); }

  // The last position a reader can reach now (the store's last position).
  uint64_t LastPosition() const { return store_.LastPosition(); }

  // Parks `waiter` until the ring moves past `after`. False when it already
  // has (read again), the feed is shut down or the waiter is Cancelled (then
  // it is not parked). `waiter` must stay valid until woken or removed, and
  // may be woken (and gone) before Park returns.
  bool Park(FeedWaiter* waiter, uint64_t after);
  // With wake_thread: parks `waiter` even when the ring has already moved
  // past `after`; it is then woken by the next round (at most
  // min_round_interval after the last one). False only once shut down or
  // when the waiter is Cancelled. Without wake_thread: Park.
  bool ParkForNextRound(FeedWaiter* waiter, uint64_t after);
  bool has_wake_thread() const { return options_.wake_thread; }
  // Takes `waiter` back; true when it was parked (Wake will not be called).
  bool Remove(FeedWaiter* waiter);

  // Wakes every waiter (shutdown, on the calling thread) and refuses to
  // park from now on.
  void Shutdown();
  bool shut_down() const;

  Stats stats() const;

 private:
  struct Pending {
    uint64_t last = 0;
    std::vector<FeedEventRef> events;
  };

  FeedEventRef Share(eventstore::StoredEvent event) const;
  void AddToRingLocked(std::vector<FeedEventRef> events, uint64_t last)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waiters whose cursor the ring has moved past, removed.
  std::vector<FeedWaiter*> TakeWokenLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The wake thread (Options::wake_thread).
  void WakeLoop();
  bool WakeDueLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return wake_due_ || stop_waking_;
  }

  const eventstore::EventStore& store_;
  const Options options_;
  mutable absl::Mutex mu_;
  // Events at positions [ring_begin_, ring_end_], erased ones dropped.
  std::deque<FeedEventRef> ring_ ABSL_GUARDED_BY(mu_);
  uint64_t ring_begin_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t ring_end_ ABSL_GUARDED_BY(mu_) = 0;
  size_t ring_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Commits that arrived before one with earlier positions, by first
  // position.
  std::map<uint64_t, Pending> pending_ ABSL_GUARDED_BY(mu_);
  // Parked waiters and the position after which they wait.
  absl::flat_hash_map<FeedWaiter*, uint64_t> waiters_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  // The ring moved while waiters were parked (for the wake thread).
  bool wake_due_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_waking_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t wake_rounds_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_round_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint64_t woken_ ABSL_GUARDED_BY(mu_) = 0;
  // Bumped under mu_, after the erased events left the ring.
  std::atomic<uint64_t> erasures_{0};
  mutable uint64_t ring_reads_ ABSL_GUARDED_BY(mu_) = 0;
  mutable uint64_t log_reads_ ABSL_GUARDED_BY(mu_) = 0;
  // Last: started once everything above is ready.
  std::thread wake_thread_;
};

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_RUNTIME_EVENT_FEED_H_
