#include "app/runtime/queue_fronts.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace sequencer::app {

std::string QueueFronts::StartAfter(absl::string_view queue,
                                    absl::string_view front) {
  if (front.empty()) return "";
  // The greatest string below `front` that a key could start with: no key
  // holds the byte 0xff (ids are ASCII), and no entry ends in '\0'.
  std::string after = absl::StrCat(queue, front);
  if (front == kEmpty) return after;
  after.back() = static_cast<char>(after.back() - 1);
  after.push_back('\xff');
  return after;
}

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
    const std::string bound = std::min(std::string(first_live), it->second);
    if (bound > state.front) state.front = bound;
  }
  state.scans.erase(it);
}

bool QueueFronts::Added(absl::string_view queue, absl::string_view entry,
                        absl::string_view now_key) {
  absl::MutexLock lock(&mu_);
  State& state = queues_[std::string(queue)];
  if (entry < state.front) state.front = std::string(entry);
  for (auto& [id, earliest] : state.scans) {
    if (entry < earliest) earliest = std::string(entry);
  }
  return !state.watching || entry < state.watch ||
         (!now_key.empty() &&
          absl::string_view(state.watch).substr(0, now_key.size()) <= now_key);
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

}  // namespace sequencer::app
