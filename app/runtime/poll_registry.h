// Long polls that wait for work without holding a thread.
//
// A LeaseSteps call that finds nothing to lease parks here (by queue: the
// ready/ prefix of one tenant and channel, layout::ReadyPrefix) until one of:
//   - a commit queues work on that queue (Notify, called by
//   CommandRunner::Commit):
//     the poll is handed back to try leasing again;
//   - its deadline passes on the service's Clock: with the manual clock when
//     ExpireDue runs (ClockService/AdvanceTime), with the system clock on the
//     registry's timer thread (StartTimer);
//   - the server shuts down (Shutdown);
//   - the client goes away (Remove, from the call's OnCancel).
// A parked poll costs a list node and a map entry; no thread waits for it.
//
// Each queue has a generation, bumped by every Notify. A poll reads it before
// looking for work and passes it to Park, which refuses to park when it moved
// (work was queued meanwhile), so no wake-up is lost between the look and the
// park.
//
// Thread-safe. Every poll leaves the registry exactly once per Park, through
// exactly one of: Resume (woken, expired, shut down) or a Remove that returned
// true; the registry calls Resume without holding its lock.

#ifndef SEQUENCER_APP_RUNTIME_POLL_REGISTRY_H_
#define SEQUENCER_APP_RUNTIME_POLL_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <string>
#include <thread>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "app/runtime/clock.h"

namespace sequencer::app {

// Why a parked poll left the registry.
enum class PollEnd {
  kWoken,     // work was queued on its queue: try again
  kExpired,   // its deadline passed: answer with what it has (nothing)
  kShutdown,  // the server is stopping: answer now
};

// A poll as the registry sees it. Implemented by the LeaseSteps call.
class WaitingPoll {
 public:
  virtual ~WaitingPoll() = default;
  // Called once each time the poll leaves the registry other than by Remove,
  // on the thread that removed it (a committer, the timer, AdvanceTime,
  // Shutdown), without the registry's lock. Must not block.
  virtual void Resume(PollEnd why) = 0;
  // True once the client has gone; Park then refuses.
  virtual bool cancelled() const = 0;
};

class PollRegistry {
 public:
  enum class ParkResult {
    kParked,       // it waits; Resume or Remove will end the wait
    kWorkArrived,  // the queue's generation moved past `seen`: look again
    kExpired,      // the deadline has already passed
    kCancelled,    // poll->cancelled()
    kShutdown,     // Shutdown was called
  };

  struct Counts {
    // Polls that have started (Opened) and not yet ended (Closed).
    int open = 0;
    // Polls parked right now.
    int waiting = 0;
    // Times a parked poll was resumed because work arrived, since start.
    int64_t woken = 0;
  };

  // `clock` must outlive the registry.
  explicit PollRegistry(const Clock* clock) : clock_(*clock) {}
  PollRegistry(const PollRegistry&) = delete;
  PollRegistry& operator=(const PollRegistry&) = delete;
  // Shuts down (polls still parked are resumed) and stops the timer thread.
  ~PollRegistry();

  // The generation of `queue`, to pass to Park.
  uint64_t Generation(const std::string& queue);

  // Parks `poll` on `queue` until `deadline` (service time). `poll` must stay
  // valid until it leaves (Resume or a successful Remove) and must not be
  // parked already.
  ParkResult Park(WaitingPoll* poll, const std::string& queue, uint64_t seen,
                  absl::Time deadline);

  // Takes `poll` out of the registry if it is parked; true when it was (the
  // caller then owns the answer and Resume will not be called).
  bool Remove(WaitingPoll* poll);

  // `count` (> 0) entries were queued on `queue`: bumps its generation and
  // resumes (kWoken) up to `count` of its parked polls, longest waiting
  // first. Polls of other queues are not looked at.
  void Notify(const std::string& queue, int count);

  // Resumes (kExpired) every poll whose deadline is at or before the clock's
  // now; returns how many.
  int ExpireDue();

  // Starts a thread that runs ExpireDue at each poll's deadline (for a clock
  // that moves by itself; waits are computed as deadline - clock.Now() of real
  // time). Shutdown or the destructor stops it.
  void StartTimer();

  // Resumes (kShutdown) every parked poll and refuses new ones; stops the
  // timer. Idempotent.
  void Shutdown();

  // Bookkeeping of live polls, for Counts.
  void Opened();
  void Closed();

  Counts counts();
  // Waits until `done(counts())` holds or `timeout` (real time) passes; true
  // when it holds. For tests and benchmarks.
  bool AwaitCounts(const std::function<bool(const Counts&)>& done,
                   absl::Duration timeout);

 private:
  using Deadlines = std::multimap<absl::Time, WaitingPoll*>;
  struct Queue {
    uint64_t generation = 0;
    std::list<WaitingPoll*> waiting;  // oldest first
  };
  struct Parked {
    Queue* queue;
    std::list<WaitingPoll*>::iterator in_queue;
    Deadlines::iterator in_deadlines;
  };

  // Removes a parked poll from every index.
  void Unpark(WaitingPoll* poll) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TimerLoop();

  const Clock& clock_;
  absl::Mutex mu_;
  // Pointer-stable values (Parked::queue points into it). One entry per queue
  // that was ever polled or notified: tenants x channels.
  std::unordered_map<std::string, Queue> queues_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<WaitingPoll*, Parked> parked_ ABSL_GUARDED_BY(mu_);
  Deadlines deadlines_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t woken_ ABSL_GUARDED_BY(mu_) = 0;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  // Set when the earliest deadline moved earlier, to re-arm the timer.
  bool timer_kick_ ABSL_GUARDED_BY(mu_) = false;
  std::thread timer_;
};

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_RUNTIME_POLL_REGISTRY_H_
