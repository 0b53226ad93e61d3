// Time as the service sees it. Everything that needs "now" takes a Clock;
// server/main.cc picks SystemClock, or ManualClock with --clock=manual (tests
// and demos move time explicitly, nothing depends on the wall clock).

#ifndef SEQUENCER_APP_RUNTIME_CLOCK_H_
#define SEQUENCER_APP_RUNTIME_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace sequencer::app {

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  // The fixed instant --clock=manual starts at: 2026-01-05T09:00:00Z (a Monday
  // morning).
  static absl::Time DefaultStart();

  explicit ManualClock(absl::Time start = DefaultStart()) : now_(start) {}

  absl::Time Now() const override;
  // Moves time forward by `by` (>= 0) and returns the new time.
  absl::Time Advance(absl::Duration by);

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_RUNTIME_CLOCK_H_
