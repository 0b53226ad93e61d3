#include "app/runtime/lock_table.h"

#include <algorithm>
#include <functional>

namespace sequencer::app {

LockTable::LockTable(size_t stripes)
    : mutexes_(new absl::Mutex[stripes]),
      long_running_(new absl::Mutex[stripes]),
      stripes_(stripes) {}

LockTable::Guard::Guard(Guard&& other) noexcept
    : held_(std::move(other.held_)) {
  other.held_.clear();
}

LockTable::Guard& LockTable::Guard::operator=(Guard&& other) noexcept {
  if (this != &other) {
    for (auto it = held_.rbegin(); it != held_.rend(); ++it) (*it)->Unlock();
    held_ = std::move(other.held_);
    other.held_.clear();
  }
  return *this;
}

LockTable::Guard::~Guard() {
  for (auto it = held_.rbegin(); it != held_.rend(); ++it) (*it)->Unlock();
}

LockTable::Guard LockTable::LockLongRunning(const std::string& key) {
  absl::Mutex* mutex = &long_running_[std::hash<std::string>{}(key) % stripes_];
  mutex->Lock();
  return Guard({mutex});
}

LockTable::Guard LockTable::Lock(const std::vector<std::string>& keys) {
  std::vector<size_t> indexes;
  indexes.reserve(keys.size());
  for (const auto& key : keys)
    indexes.push_back(std::hash<std::string>{}(key) % stripes_);
  std::sort(indexes.begin(), indexes.end());
  indexes.erase(std::unique(indexes.begin(), indexes.end()), indexes.end());
  std::vector<absl::Mutex*> held;
  held.reserve(indexes.size());
  for (size_t index : indexes) {
    mutexes_[index].Lock();
    held.push_back(&mutexes_[index]);
  }
  return Guard(std::move(held));
}

}  // namespace sequencer::app
