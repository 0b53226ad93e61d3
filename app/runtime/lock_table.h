// Serializes calls that touch the same keys (a recipient, a request id) without
// a global lock: keys hash onto a fixed set of mutexes, taken in ascending
// order so that calls locking several keys cannot deadlock. Two keys may share
// a mutex; that only costs concurrency. Thread-safe.

#ifndef SEQUENCER_APP_RUNTIME_LOCK_TABLE_H_
#define SEQUENCER_APP_RUNTIME_LOCK_TABLE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace sequencer::app {

class LockTable {
 public:
  explicit LockTable(size_t stripes = 4096);
  LockTable(const LockTable&) = delete;
  LockTable& operator=(const LockTable&) = delete;

  // Holds the locks of a set of keys until destroyed.
  class Guard {
   public:
    // Holds nothing.
    Guard() = default;
    Guard(Guard&& other) noexcept;
    // Releases what this guard held, then takes over `other`'s locks.
    Guard& operator=(Guard&& other) noexcept;
    ~Guard();

   private:
    friend class LockTable;
    explicit Guard(std::vector<absl::Mutex*> held) : held_(std::move(held)) {}
    std::vector<absl::Mutex*> held_;
  };

  Guard Lock(const std::vector<std::string>& keys);

  // A lock of its own stripes for changes that run as several commits (a
  // sequence pause, chunk by chunk) and must exclude each other for their
  // whole length. Take it before any Lock, never while holding one: a chunk
  // of such a change then takes ordinary locks without deadlock.
  Guard LockLongRunning(const std::string& key);

 private:
  std::unique_ptr<absl::Mutex[]> mutexes_;
  std::unique_ptr<absl::Mutex[]> long_running_;
  size_t stripes_;
};

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_RUNTIME_LOCK_TABLE_H_
