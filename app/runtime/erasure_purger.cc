#include "app/runtime/erasure_purger.h"

namespace sequencer::app {

ErasurePurger::ErasurePurger(eventstore::EventStore* store, bool purge_at_start,
                             absl::Duration retry_after)
    : store_(*store), retry_after_(retry_after) {
  if (purge_at_start) requested_ = 1;
  thread_ = std::thread([this] { Loop(); });
}

ErasurePurger::~ErasurePurger() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void ErasurePurger::Notify() {
  absl::MutexLock lock(&mu_);
  ++requested_;
}

absl::Status ErasurePurger::PurgeNow() {
  absl::MutexLock run(&run_mu_);
  const absl::Status status = store_.PurgeErased();
  absl::MutexLock lock(&mu_);
  last_status_ = status;
  if (status.ok()) ++completed_runs_;
  return status;
}

uint64_t ErasurePurger::completed_runs() const {
  absl::MutexLock lock(&mu_);
  return completed_runs_;
}

absl::Status ErasurePurger::last_status() const {
  absl::MutexLock lock(&mu_);
  return last_status_;
}

void ErasurePurger::Loop() {
  bool failed = false;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto wanted = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || requested_ != started_;
      };
      if (failed) {
        // Retry after a while, or at once when asked again.
        mu_.AwaitWithTimeout(absl::Condition(&wanted), retry_after_);
      } else {
        mu_.Await(absl::Condition(&wanted));
      }
      if (stopping_) return;
      started_ = requested_;
    }
    failed = !PurgeNow().ok();
  }
}

}  // namespace sequencer::app
