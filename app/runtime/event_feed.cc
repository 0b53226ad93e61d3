#include "app/runtime/event_feed.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"

namespace sequencer::app {
namespace {

size_t BytesOf(const FeedEventRef& ref) {
  const eventstore::StoredEvent& event = ref->event;
  return sizeof(FeedEvent) + event.stream.size() + event.type.size() +
         event.data.size() + ref->encoded.size();
}

uint64_t PositionOf(const FeedEventRef& ref) { return ref->event.position; }

}  // namespace

EventFeed::EventFeed(const eventstore::EventStore* store, Options options)
    : store_(*store), options_(std::move(options)) {
  {
    absl::MutexLock lock(&mu_);
    ring_end_ = store_.LastPosition();
    ring_begin_ = ring_end_ + 1;
  }
  if (options_.wake_thread) wake_thread_ = std::thread([this] { WakeLoop(); });
}

EventFeed::~EventFeed() {
  if (!wake_thread_.joinable()) return;
  {
    absl::MutexLock lock(&mu_);
    stop_waking_ = true;
  }
  wake_thread_.join();
}

void EventFeed::WakeLoop() {
  while (true) {
    std::vector<FeedWaiter*> woken;
    {
      absl::MutexLock lock(&mu_,
                           absl::Condition(this, &EventFeed::WakeDueLocked));
      if (stop_waking_) return;
      // Commits arriving meanwhile join this round.
      mu_.AwaitWithDeadline(absl::Condition(&stop_waking_),
                            last_round_ + options_.min_round_interval);
      if (stop_waking_) return;
      last_round_ = absl::Now();
      wake_due_ = false;
      woken = TakeWokenLocked();
      ++wake_rounds_;
      woken_ += woken.size();
    }
    for (FeedWaiter* waiter : woken) waiter->Wake(/*shutdown=*/false);
  }
}

FeedEventRef EventFeed::Share(eventstore::StoredEvent event) const {
  auto shared = std::make_shared<FeedEvent>();
  if (options_.encode) {
    shared->encoded = options_.encode(event);
    event.data.clear();
    event.data.shrink_to_fit();
  }
  shared->event = std::move(event);
  return shared;
}

void EventFeed::Committed(const eventstore::CommitBatch& batch,
                          const eventstore::CommitResult& result) {
  std::vector<FeedEventRef> events;
  if (result.last_position != 0) {
    events.reserve(result.last_position - result.first_position + 1);
    uint64_t position = result.first_position;
    for (size_t i = 0; i < batch.appends.size(); ++i) {
      const eventstore::StreamAppend& append = batch.appends[i];
      const uint64_t after = i < result.stream_versions.size()
                                 ? result.stream_versions[i]
                                 : append.events.size();
      uint64_t version = after - append.events.size();
      for (const eventstore::NewEvent& event : append.events) {
        events.push_back(Share(eventstore::StoredEvent{
            append.stream, ++version, position++, event.type, event.data}));
      }
    }
    if (position != result.last_position + 1) {
      // The result does not describe the batch: leave these positions to
      // the log (the ring restarts after them).
      events.clear();
    }
  }
  std::vector<FeedWaiter*> woken;
  {
    absl::MutexLock lock(&mu_);
    if (!batch.erasures.empty()) {
      absl::flat_hash_set<absl::string_view> erased;
      for (const eventstore::StreamErasure& erasure : batch.erasures) {
        erased.insert(erasure.stream);
      }
      auto is_erased = [&erased](const FeedEventRef& event) {
        return erased.contains(event->event.stream);
      };
      for (const FeedEventRef& event : ring_) {
        if (is_erased(event)) ring_bytes_ -= BytesOf(event);
      }
      ring_.erase(std::remove_if(ring_.begin(), ring_.end(), is_erased),
                  ring_.end());
      for (auto& [first, commit] : pending_) {
        commit.events.erase(std::remove_if(commit.events.begin(),
                                           commit.events.end(), is_erased),
                            commit.events.end());
      }
      // This commit's own appends come after its erasures: kept.
      erasures_.fetch_add(1);
    }
    if (result.last_position == 0 || result.last_position <= ring_end_) {
      return;  // no event, or positions the ring has already given up
    }
    if (events.empty()) {
      // Positions the feed cannot describe: read them from the log.
      pending_.clear();
      ring_.clear();
      ring_bytes_ = 0;
      ring_end_ = result.last_position;
      ring_begin_ = ring_end_ + 1;
    } else {
      pending_[result.first_position] =
          Pending{result.last_position, std::move(events)};
      while (!pending_.empty() && pending_.begin()->first <= ring_end_ + 1) {
        auto next = pending_.begin();
        if (next->second.last > ring_end_) {
          AddToRingLocked(std::move(next->second.events), next->second.last);
        }
        pending_.erase(next);
      }
      if (pending_.size() > options_.max_pending_commits) {
        // A hole that does not fill: the ring restarts after the newest
        // pending commit, and the positions before it are read from the log.
        ring_end_ = pending_.rbegin()->second.last;
        ring_begin_ = ring_end_ + 1;
        pending_.clear();
        ring_.clear();
        ring_bytes_ = 0;
      }
      EvictLocked();
    }
    if (!options_.wake_thread) {
      woken = TakeWokenLocked();
    } else if (!waiters_.empty()) {
      wake_due_ = true;  // the wake thread runs when mu_ is released
    }
  }
  for (FeedWaiter* waiter : woken) waiter->Wake(/*shutdown=*/false);
}

void EventFeed::AddToRingLocked(std::vector<FeedEventRef> events,
                                uint64_t last) {
  if (ring_.empty()) ring_begin_ = ring_end_ + 1;
  for (FeedEventRef& event : events) {
    if (PositionOf(event) <= ring_end_) continue;
    ring_bytes_ += BytesOf(event);
    ring_.push_back(std::move(event));
  }
  ring_end_ = last;
}

void EventFeed::EvictLocked() {
  while (!ring_.empty() && (ring_bytes_ > options_.max_bytes ||
                            ring_.size() > options_.max_events)) {
    ring_bytes_ -= BytesOf(ring_.front());
    ring_begin_ = PositionOf(ring_.front()) + 1;
    ring_.pop_front();
  }
  if (ring_.empty()) ring_begin_ = ring_end_ + 1;
}

std::vector<FeedWaiter*> EventFeed::TakeWokenLocked() {
  std::vector<FeedWaiter*> woken;
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->second < ring_end_) {
      woken.push_back(it->first);
      waiters_.erase(it++);
    } else {
      ++it;
    }
  }
  return woken;
}

bool EventFeed::ReadMemory(uint64_t after, size_t max_events,
                           Chunk* chunk) const {
  chunk->events.clear();
  chunk->through = after;
  chunk->from_log = false;
  chunk->at_end = false;
  if (max_events == 0) return true;
  {
    absl::MutexLock lock(&mu_);
    if (after + 1 >= ring_begin_ && after < ring_end_) {
      ++ring_reads_;
      auto it =
          std::upper_bound(ring_.begin(), ring_.end(), after,
                           [](uint64_t position, const FeedEventRef& event) {
                             return position < PositionOf(event);
                           });
      for (; it != ring_.end() && chunk->events.size() < max_events; ++it) {
        chunk->events.push_back(*it);
      }
      chunk->through =
          it == ring_.end() ? ring_end_ : PositionOf(chunk->events.back());
      chunk->at_end = it == ring_.end();
      return true;
    }
  }
  if (after < store_.LastPosition()) return false;
  chunk->at_end = true;
  return true;
}

absl::StatusOr<EventFeed::Chunk> EventFeed::Read(uint64_t after,
                                                 size_t max_events) const {
  Chunk chunk;
  if (ReadMemory(after, max_events, &chunk)) return chunk;
  {
    absl::MutexLock lock(&mu_);
    ++log_reads_;
  }
  // Before the ring (catch-up), or past it (a commit the ring has not been
  // told of yet): the log. Every position up to `last` is visible to the
  // read that follows.
  const uint64_t last = store_.LastPosition();
  if (after >= last) return chunk;
  absl::StatusOr<std::vector<eventstore::StoredEvent>> events =
      store_.ReadAll(after + 1, max_events);
  if (!events.ok()) return events.status();
  chunk.from_log = true;
  chunk.events.reserve(events->size());
  for (eventstore::StoredEvent& event : *events) {
    chunk.events.push_back(Share(std::move(event)));
  }
  if (chunk.events.size() == max_events) {
    chunk.through = PositionOf(chunk.events.back());
  } else {
    chunk.through = std::max(
        last, chunk.events.empty() ? 0 : PositionOf(chunk.events.back()));
  }
  return chunk;
}

bool EventFeed::Park(FeedWaiter* waiter, uint64_t after) {
  absl::MutexLock lock(&mu_);
  if (shut_down_ || ring_end_ > after || waiter->Cancelled()) return false;
  waiters_[waiter] = after;
  return true;
}

bool EventFeed::ParkForNextRound(FeedWaiter* waiter, uint64_t after) {
  if (!options_.wake_thread) return Park(waiter, after);
  absl::MutexLock lock(&mu_);
  if (shut_down_ || waiter->Cancelled()) return false;
  waiters_[waiter] = after;
  if (ring_end_ > after) wake_due_ = true;
  return true;
}

bool EventFeed::Remove(FeedWaiter* waiter) {
  absl::MutexLock lock(&mu_);
  return waiters_.erase(waiter) > 0;
}

void EventFeed::Shutdown() {
  std::vector<FeedWaiter*> woken;
  {
    absl::MutexLock lock(&mu_);
    shut_down_ = true;
    for (const auto& [waiter, after] : waiters_) woken.push_back(waiter);
    waiters_.clear();
  }
  for (FeedWaiter* waiter : woken) waiter->Wake(/*shutdown=*/true);
}

bool EventFeed::shut_down() const {
  absl::MutexLock lock(&mu_);
  return shut_down_;
}

EventFeed::Stats EventFeed::stats() const {
  absl::MutexLock lock(&mu_);
  Stats stats;
  stats.ring_events = ring_.size();
  stats.ring_bytes = ring_bytes_;
  stats.pending_commits = pending_.size();
  stats.waiting = waiters_.size();
  stats.ring_reads = ring_reads_;
  stats.log_reads = log_reads_;
  stats.wake_rounds = wake_rounds_;
  stats.woken = woken_;
  return stats;
}

}  // namespace sequencer::app
