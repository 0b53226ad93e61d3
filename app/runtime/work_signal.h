// Wakes the scheduler thread when a commit made something wait for a due time
// earlier than what the thread waits for (app/pipeline/command_runner.h,
// CommandRunner::Commit; app/runtime/queue_fronts.h): a generation counter
// under a mutex. Long polls for delivery work wait in
// app/runtime/poll_registry.h instead. Thread-safe.

#ifndef SEQUENCER_APP_RUNTIME_WORK_SIGNAL_H_
#define SEQUENCER_APP_RUNTIME_WORK_SIGNAL_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace sequencer::app {

class WorkSignal {
 public:
  // The current generation; pass it to WaitAfter.
  uint64_t generation() const {
    absl::MutexLock lock(&mu_);
    return generation_;
  }

  void Notify() {
    absl::MutexLock lock(&mu_);
    ++generation_;
  }

  // Waits until the generation moves past `seen` or `timeout` (real time)
  // passes. True when it moved.
  bool WaitAfter(uint64_t seen, absl::Duration timeout) const {
    absl::MutexLock lock(&mu_);
    auto moved = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return generation_ != seen;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&moved), timeout);
  }

 private:
  mutable absl::Mutex mu_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_RUNTIME_WORK_SIGNAL_H_
