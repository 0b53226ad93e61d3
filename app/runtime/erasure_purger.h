// Makes erasures physically gone soon after they commit: a thread that calls
// EventStore::PurgeErased whenever commits that erased something have been
// notified since its last run (several deletions in a row share one run). A
// failed purge is retried after `retry_after` (real time), and the next
// Notify retries at once.
//
// Thread-safe. The store must outlive the purger; the destructor stops the
// thread after the run in progress, if any (what is left is purged at the
// store's next Open: see RocksDbEventStore::PurgeErased).

#ifndef SEQUENCER_APP_RUNTIME_ERASURE_PURGER_H_
#define SEQUENCER_APP_RUNTIME_ERASURE_PURGER_H_

#include <cstdint>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "eventstore/event_store.h"

namespace sequencer::app {

class ErasurePurger {
 public:
  // Starts the thread. `purge_at_start`: run once now (a store may hold
  // erasures a previous process did not purge).
  ErasurePurger(eventstore::EventStore* store, bool purge_at_start,
                absl::Duration retry_after = absl::Seconds(5));
  ErasurePurger(const ErasurePurger&) = delete;
  ErasurePurger& operator=(const ErasurePurger&) = delete;
  ~ErasurePurger();

  // An erasure committed: purge soon.
  void Notify();

  // Purges everything erased before this call, on the calling thread (after
  // a run in progress), and returns its status. For operators
  // (sequencerctl compact) and tests.
  absl::Status PurgeNow();

  // How many runs have succeeded, and the status of the last one.
  uint64_t completed_runs() const;
  absl::Status last_status() const;

 private:
  void Loop();

  eventstore::EventStore& store_;
  const absl::Duration retry_after_;
  // Serializes runs (the thread's and PurgeNow's).
  absl::Mutex run_mu_;
  mutable absl::Mutex mu_;
  uint64_t requested_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t started_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t completed_runs_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status last_status_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_RUNTIME_ERASURE_PURGER_H_
