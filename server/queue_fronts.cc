#include "server/queue_fronts.h"

#include <algorithm>

namespace sequencer::server {

QueueFronts::Scan QueueFronts::BeginScan(const std::string& queue) {
  absl::MutexLock lock(&mu_);
  State& state = queues_[queue];
  Scan scan{queue, state.front, next_scan_++};
  state.scans.emplace(scan.id, kEmpty);
  return scan;
}

void QueueFronts::EndScan(const Scan& scan, absl::string_view first_live) {
  absl::MutexLock lock(&mu_);
  State& state = queues_[scan.queue];
  auto it = state.scans.find(scan.id);
  if (it == state.scans.end()) return;
  if (!first_live.empty()) {
    // Nothing live lay between the scan's start and `first_live` when it
    // read; entries added since are no earlier than it->second. Either bound
    // holds now, and so does the current front: keep the higher.
    const std::string bound =
        std::min(std::string(first_live), it->second);
    if (bound > state.front) state.front = bound;
  }
  state.scans.erase(it);
}

bool QueueFronts::Added(absl::string_view queue, absl::string_view time_key,
                        absl::string_view now_key) {
  absl::MutexLock lock(&mu_);
  State& state = queues_[std::string(queue)];
  if (time_key < state.front) state.front = std::string(time_key);
  for (auto& [id, earliest] : state.scans) {
    if (time_key < earliest) earliest = std::string(time_key);
  }
  return !state.watching || time_key < state.watch ||
         (!now_key.empty() && state.watch <= now_key);
}

std::string QueueFronts::Watch(const std::string& queue) {
  absl::MutexLock lock(&mu_);
  State& state = queues_[queue];
  // An unknown front ("") watches nothing: every addition wakes.
  state.watching = !state.front.empty();
  state.watch = state.front;
  return state.front;
}

void QueueFronts::Unwatch(const std::string& queue) {
  absl::MutexLock lock(&mu_);
  queues_[queue].watching = false;
}

std::string QueueFronts::Front(const std::string& queue) {
  absl::MutexLock lock(&mu_);
  return queues_[queue].front;
}

}  // namespace sequencer::server
