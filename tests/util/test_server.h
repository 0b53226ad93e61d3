// A real sequencer server for tests: the RocksDB event store in a fresh
// temporary directory, a manual clock, sequential ids, gRPC on 127.0.0.1 with
// an ephemeral port, and client stubs.

#ifndef SEQUENCER_TESTS_UTIL_TEST_SERVER_H_
#define SEQUENCER_TESTS_UTIL_TEST_SERVER_H_

#include <memory>
#include <string>

#include "app/runtime/clock.h"
#include "app/runtime/id_generator.h"
#include "eventstore/rocksdb_event_store.h"
#include "grpcpp/grpcpp.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "server/sequencer_server.h"
#include "tests/util/temp_dir.h"

namespace sequencer::testing {

inline constexpr char kTenant[] = "tenant-a";
inline constexpr char kActor[] = "alice@example.com";

// A client context carrying tenant and actor metadata.
std::unique_ptr<grpc::ClientContext> CallAs(const std::string& tenant = kTenant,
                                            const std::string& actor = kActor);

class TestServer {
 public:
  // With `background_scheduler`, the server gets the manual clock as a plain
  // Clock: no ClockService, and the scheduler runs in its own thread as with
  // the system clock (it wakes on commits; tests move clock() directly).
  explicit TestServer(bool background_scheduler = false);
  ~TestServer();

  // Stops the server and closes the store cleanly, then reopens the same data
  // directory and starts again (on a new port; the stubs follow). The manual
  // clock keeps its time.
  void Restart();

  app::ManualClock& clock() { return clock_; }
  eventstore::EventStore& store() { return *store_; }
  const std::string& data_dir() const { return data_dir_; }
  // "127.0.0.1:PORT" of the running server.
  std::string address() const { return server_->address(); }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }
  v1::SequenceService::Stub& sequences() { return *sequences_; }
  v1::RecipientService::Stub& recipients() { return *recipients_; }
  v1::ClockService::Stub& clock_service() { return *clock_service_; }
  v1::DeliveryService::Stub& delivery() { return *delivery_; }
  // The running server (e.g. its long polls: server().polls().counts()).
  server::SequencerServer& server() { return *server_; }

  // Moves time through ClockService/AdvanceTime, which also runs the
  // scheduler (moving clock() directly does not). Fails the test on error.
  void AdvanceTime(absl::Duration by);

 private:
  void Start();
  void Stop();

  bool background_scheduler_;
  TempDir dir_;
  std::string data_dir_;
  app::ManualClock clock_;
  app::SequentialIdGenerator ids_;
  std::unique_ptr<eventstore::RocksDbEventStore> store_;
  std::unique_ptr<server::SequencerServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::SequenceService::Stub> sequences_;
  std::unique_ptr<v1::RecipientService::Stub> recipients_;
  std::unique_ptr<v1::ClockService::Stub> clock_service_;
  std::unique_ptr<v1::DeliveryService::Stub> delivery_;
};

}  // namespace sequencer::testing

#endif  // SEQUENCER_TESTS_UTIL_TEST_SERVER_H_
