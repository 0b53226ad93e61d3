// A fixed set of threads that run the services' blocking work (reads and
// durable commits), so gRPC's callback threads never wait on fsync and many
// calls can share one group commit. Thread-safe. The destructor runs every task
// already scheduled, then joins the threads.

#ifndef SEQUENCER_APP_RUNTIME_WORKER_POOL_H_
#define SEQUENCER_APP_RUNTIME_WORKER_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace sequencer::app {

class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  ~WorkerPool();

  void Schedule(std::function<void()> task);

 private:
  void Work();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_RUNTIME_WORKER_POOL_H_
