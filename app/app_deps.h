// What the use cases, the command pipeline and the scheduler share.
// Everything is owned elsewhere (the composition root, server/main.cc via
// server/sequencer_server.h, or a test) and outlives its users.

#ifndef SEQUENCER_APP_APP_DEPS_H_
#define SEQUENCER_APP_APP_DEPS_H_

#include "app/runtime/clock.h"
#include "app/runtime/erasure_purger.h"
#include "app/runtime/event_feed.h"
#include "app/runtime/id_generator.h"
#include "app/runtime/lock_table.h"
#include "app/runtime/poll_registry.h"
#include "app/runtime/queue_fronts.h"
#include "app/runtime/ready_steps.h"
#include "app/runtime/runtime_counters.h"
#include "app/runtime/work_signal.h"
#include "app/storage/repository.h"

namespace sequencer::app {

struct AppDeps {
  Repository* repository = nullptr;
  const Clock* clock = nullptr;
  IdGenerator* ids = nullptr;
  LockTable* locks = nullptr;
  // Notified after a commit that wrote a due/ entry earlier than what the
  // scheduler waits for (QueueFronts::Watch), or any due/ entry without
  // `fronts` (wakes the scheduler).
  WorkSignal* work = nullptr;
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
  // Told of every commit that erased something, so that the erased data
  // leaves the store's files promptly. Null: nothing purges by itself.
  ErasurePurger* purger = nullptr;
  // Counted after each commit (null: not counted).
  RuntimeCounters* counters = nullptr;
  // Steps the scheduler made ready, resolved for leasing (see
  // app/runtime/ready_steps.h). Null: leasing folds every recipient.
  ReadySteps* ready_steps = nullptr;
  // Told of every commit's events (and erasures), for event subscriptions.
  // Null: no subscription is served.
  EventFeed* feed = nullptr;
};

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_APP_DEPS_H_
