// What the gRPC services share. Everything is owned elsewhere
// (server/sequencer_server.h) and outlives the services.

#ifndef SEQUENCER_SERVER_SERVICE_DEPS_H_
#define SEQUENCER_SERVER_SERVICE_DEPS_H_

#include "server/clock.h"
#include "server/id_generator.h"
#include "server/lock_table.h"
#include "server/poll_registry.h"
#include "server/queue_fronts.h"
#include "server/repository.h"
#include "server/request_budget.h"
#include "server/work_signal.h"
#include "server/worker_pool.h"

namespace sequencer::server {

struct ServiceDeps {
  Repository* repository = nullptr;
  const Clock* clock = nullptr;
  IdGenerator* ids = nullptr;
  LockTable* locks = nullptr;
  // Runs handlers off gRPC's threads; null runs them inline.
  WorkerPool* pool = nullptr;
  // Notified after a commit that wrote a due/ entry earlier than what the
  // scheduler waits for (QueueFronts::Watch), or any due/ entry without
  // `fronts` (wakes the scheduler).
  WorkSignal* work = nullptr;
  // Bounds the bytes of requests in progress; null admits everything.
  RequestBudget* budget = nullptr;
  // How long a delivery worker has, after BeginSend, to report the result;
  // past it the step goes to ERROR, "delivery outcome unknown".
  absl::Duration send_deadline = absl::Minutes(15);
  // Long polls waiting for delivery work, notified by delivery queue after
  // every commit that queued some.
  PollRegistry* polls = nullptr;
  // Lower bounds of the queue indexes (due/, ready/), told of every entry a
  // commit adds; scans of a queue start there. Null: scans start at the
  // beginning of the queue and every due/ entry wakes the scheduler.
  QueueFronts* fronts = nullptr;
};

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_SERVICE_DEPS_H_
