// Runs a function on a thread of its own every `interval` (the first run
// one interval after construction) until the object is destroyed; the
// destructor waits for a run in progress, then joins the thread. Used by the
// watchers of files sequencerd reloads when their content changes
// (principals, TLS files, CRLs).

#ifndef SEQUENCER_SERVER_PERIODIC_TASK_H_
#define SEQUENCER_SERVER_PERIODIC_TASK_H_

#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace sequencer::server {

class PeriodicTask {
 public:
  PeriodicTask(absl::Duration interval, std::function<void()> run);
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;
  ~PeriodicTask();

 private:
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_PERIODIC_TASK_H_
