// What the gRPC services share. Everything is owned elsewhere
// (server/sequencer_server.h) and outlives the services.

#ifndef SEQUENCER_SERVER_SERVICE_DEPS_H_
#define SEQUENCER_SERVER_SERVICE_DEPS_H_

#include "server/clock.h"
#include "server/id_generator.h"
#include "server/lock_table.h"
#include "server/repository.h"

namespace sequencer::server {

struct ServiceDeps {
  Repository* repository = nullptr;
  const Clock* clock = nullptr;
  IdGenerator* ids = nullptr;
  LockTable* locks = nullptr;
};

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_SERVICE_DEPS_H_
