// Serializes calls that touch the same keys (a recipient, a request id) without
// a global lock: keys hash onto a fixed set of mutexes, taken in ascending
// order so that calls locking several keys cannot deadlock. Two keys may share
// a mutex; that only costs concurrency. Thread-safe.

#ifndef SEQUENCER_APP_PIPELINE_LOCK_TABLE_H_
#define SEQUENCER_APP_PIPELINE_LOCK_TABLE_H_

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
    Guard(Guard&& other) noexcept;
    Guard& operator=(Guard&&) = delete;
    ~Guard();

   private:
    friend class LockTable;
    explicit Guard(std::vector<absl::Mutex*> held) : held_(std::move(held)) {}
    std::vector<absl::Mutex*> held_;
  };

  Guard Lock(const std::vector<std::string>& keys);
  // Every stripe: excludes every other caller (sequence-wide changes).
  Guard LockAll();

 private:
  std::unique_ptr<absl::Mutex[]> mutexes_;
  size_t stripes_;
};

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_PIPELINE_LOCK_TABLE_H_
