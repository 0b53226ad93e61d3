// The sequencer server inside a benchmark's own process, as the in-process
// benches run it: a RocksDB store in <dir>/db, the manual clock (the bench
// moves time itself), sequential ids, gRPC on a free loopback port.
// Header-only; for bench/ programs only.

#ifndef SEQUENCER_BENCH_IN_PROCESS_SERVER_H_
#define SEQUENCER_BENCH_IN_PROCESS_SERVER_H_

#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "app/runtime/clock.h"
#include "app/runtime/id_generator.h"
#include "eventstore/rocksdb_event_store.h"
#include "server/sequencer_server.h"

namespace sequencer::bench {

// Members are destroyed server first, store last.
struct InProcessServer {
  std::unique_ptr<eventstore::RocksDbEventStore> store;
  app::ManualClock clock;
  app::SequentialIdGenerator ids;
  std::unique_ptr<server::SequencerServer> server;
};

// Starts it with `options` (its listen address is replaced by a free
// loopback port). Null, with the reason on stderr, when the store or the
// server does not start.
inline std::unique_ptr<InProcessServer> StartInProcessServer(
    const std::string& dir, server::ServerOptions options = {}) {
  auto bench = std::make_unique<InProcessServer>();
  auto store = eventstore::RocksDbEventStore::Open(dir + "/db");
  if (!store.ok()) {
    std::fprintf(stderr, "store: %s\n", store.status().ToString().c_str());
    return nullptr;
  }
  bench->store = *std::move(store);
  options.listen_address = "127.0.0.1:0";
  auto server = server::SequencerServer::Start(
      options, bench->store.get(), &bench->clock, &bench->clock, &bench->ids);
  if (!server.ok()) {
    std::fprintf(stderr, "server: %s\n", server.status().ToString().c_str());
    return nullptr;
  }
  bench->server = *std::move(server);
  return bench;
}

}  // namespace sequencer::bench

#endif  // SEQUENCER_BENCH_IN_PROCESS_SERVER_H_
