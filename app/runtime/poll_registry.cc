#include "app/runtime/poll_registry.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace sequencer::app {

PollRegistry::~PollRegistry() {
  Shutdown();
  if (timer_.joinable()) timer_.join();
}

uint64_t PollRegistry::Generation(const std::string& queue) {
  absl::MutexLock lock(&mu_);
  return queues_[queue].generation;
}

PollRegistry::ParkResult PollRegistry::Park(WaitingPoll* poll,
                                            const std::string& queue,
                                            uint64_t seen,
                                            absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return ParkResult::kShutdown;
  if (poll->cancelled()) return ParkResult::kCancelled;
  Queue& entry = queues_[queue];
  if (entry.generation != seen) return ParkResult::kWorkArrived;
  if (deadline <= clock_.Now()) return ParkResult::kExpired;
  if (deadlines_.empty() || deadline < deadlines_.begin()->first) {
    timer_kick_ = true;
  }
  entry.waiting.push_back(poll);
  parked_.emplace(poll, Parked{&entry, std::prev(entry.waiting.end()),
                               deadlines_.emplace(deadline, poll)});
  return ParkResult::kParked;
}

void PollRegistry::Unpark(WaitingPoll* poll) {
  auto it = parked_.find(poll);
  it->second.queue->waiting.erase(it->second.in_queue);
  deadlines_.erase(it->second.in_deadlines);
  parked_.erase(it);
}

bool PollRegistry::Remove(WaitingPoll* poll) {
  absl::MutexLock lock(&mu_);
  if (parked_.count(poll) == 0) return false;
  Unpark(poll);
  return true;
}

void PollRegistry::Notify(const std::string& queue, int count) {
  std::vector<WaitingPoll*> woken;
  {
    absl::MutexLock lock(&mu_);
    Queue& entry = queues_[queue];
    ++entry.generation;
    while (static_cast<int>(woken.size()) < count && !entry.waiting.empty()) {
      WaitingPoll* poll = entry.waiting.front();
      Unpark(poll);
      woken.push_back(poll);
    }
    woken_ += static_cast<int64_t>(woken.size());
  }
  for (WaitingPoll* poll : woken) poll->Resume(PollEnd::kWoken);
}

int PollRegistry::ExpireDue() {
  std::vector<WaitingPoll*> expired;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      WaitingPoll* poll = deadlines_.begin()->second;
      Unpark(poll);
      expired.push_back(poll);
    }
  }
  for (WaitingPoll* poll : expired) poll->Resume(PollEnd::kExpired);
  return static_cast<int>(expired.size());
}

void PollRegistry::StartTimer() {
  timer_ = std::thread([this] { TimerLoop(); });
}

void PollRegistry::TimerLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (shut_down_) return;
      absl::Duration wait = absl::InfiniteDuration();
      if (!deadlines_.empty()) {
        wait = std::max(absl::ZeroDuration(),
                        deadlines_.begin()->first - clock_.Now());
      }
      timer_kick_ = false;
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return shut_down_ || timer_kick_;
      };
      if (wait > absl::ZeroDuration() &&
          mu_.AwaitWithTimeout(absl::Condition(&woken), wait)) {
        continue;  // re-arm for the new earliest deadline, or stop
      }
    }
    ExpireDue();
  }
}

void PollRegistry::Shutdown() {
  std::vector<WaitingPoll*> all;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
    all.reserve(parked_.size());
    while (!deadlines_.empty()) {
      WaitingPoll* poll = deadlines_.begin()->second;
      Unpark(poll);
      all.push_back(poll);
    }
  }
  for (WaitingPoll* poll : all) poll->Resume(PollEnd::kShutdown);
}

void PollRegistry::Opened() {
  absl::MutexLock lock(&mu_);
  ++open_;
}

void PollRegistry::Closed() {
  absl::MutexLock lock(&mu_);
  --open_;
}

PollRegistry::Counts PollRegistry::counts() {
  absl::MutexLock lock(&mu_);
  return Counts{open_, static_cast<int>(parked_.size()), woken_};
}

bool PollRegistry::AwaitCounts(const std::function<bool(const Counts&)>& done,
                               absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto holds = [this, &done]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return done(Counts{open_, static_cast<int>(parked_.size()), woken_});
  };
  return mu_.AwaitWithTimeout(absl::Condition(&holds), timeout);
}

}  // namespace sequencer::app
