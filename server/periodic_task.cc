#include "server/periodic_task.h"

#include <utility>

namespace sequencer::server {

PeriodicTask::PeriodicTask(absl::Duration interval, std::function<void()> run)
    : thread_([this, interval, run = std::move(run)] {
        while (true) {
          {
            absl::MutexLock lock(&mu_);
            if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval)) {
              return;
            }
          }
          run();
        }
      }) {}

PeriodicTask::~PeriodicTask() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

}  // namespace sequencer::server
