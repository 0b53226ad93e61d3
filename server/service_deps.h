// What the gRPC services share: the application's dependencies plus the
// server's own. Everything is owned elsewhere (server/sequencer_server.h) and
// outlives the services.

#ifndef SEQUENCER_SERVER_SERVICE_DEPS_H_
#define SEQUENCER_SERVER_SERVICE_DEPS_H_

#include "app/app_deps.h"
#include "app/runtime/worker_pool.h"
#include "server/access_control.h"
#include "server/request_budget.h"

namespace sequencer::server {

struct ServiceDeps : app::AppDeps {
  // Runs handlers off gRPC's threads; null runs them inline.
  app::WorkerPool* pool = nullptr;
  // Bounds the bytes of requests in progress; null admits everything.
  RequestBudget* budget = nullptr;
  // Admits every call (server/access_control.h); null refuses every call.
  AccessControl* access = nullptr;
};

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_SERVICE_DEPS_H_
