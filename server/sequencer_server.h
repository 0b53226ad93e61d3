// Assembles and runs the gRPC server: the sequencer services (the API of
// sequencer.proto, and admin.proto's AuditService and AdminService) over an
// event store, the standard health service and server reflection
// (grpc.reflection.v1 and v1alpha).
//
// Health (grpc.health.v1.Health, the server as a whole "" and every service
// alike): SERVING while the store accepts writes; NOT_SERVING while it refuses
// them (EventStore::WriteState, e.g. the disk is full; reads are still
// answered) and from Shutdown on. It follows the store both ways: back to
// SERVING as soon as the store has recovered. docs/reliability.md says what
// this means for a load balancer. The caller owns the store and the clock
// (server/main.cc picks them; tests pass their own).

#ifndef SEQUENCER_SERVER_SEQUENCER_SERVER_H_
#define SEQUENCER_SERVER_SEQUENCER_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
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
#include "app/runtime/worker_pool.h"
#include "app/storage/repository.h"
#include "app/use_cases/scheduler.h"
#include "app/use_cases/store_admin.h"
#include "domain/limits.h"
#include "eventstore/event_store.h"
#include "grpcpp/grpcpp.h"
#include "server/access_control.h"
#include "server/observability.h"
#include "server/request_budget.h"

namespace sequencer::server {

struct ServerOptions {
  // host:port; port 0 picks a free port (see SequencerServer::port()).
  std::string listen_address = "127.0.0.1:50051";
  // Largest request accepted: the largest valid request. CreateSequence with
  // 50 steps of the largest content is about 13 MiB; EnrollRecipients is
  // bounded by this size as well as by 10,000 recipients. Larger requests are
  // RESOURCE_EXHAUSTED before they are read into memory.
  int max_receive_message_bytes = domain::kMaxRequestBytes;
  // Bytes of requests worked on at once (RequestBudget); beyond, a request is
  // RESOURCE_EXHAUSTED ("busy, retry with backoff"). 0: no bound.
  size_t max_inflight_request_bytes = 64 << 20;
  // Threads running calls; a durable commit blocks one for an fsync, and
  // concurrent commits share fsyncs, so more threads means more throughput
  // under load.
  int worker_threads = 64;
  // How long a delivery worker has, after BeginSend, to report the result
  // (ServiceDeps::send_deadline).
  absl::Duration send_deadline = absl::Minutes(15);
  // Threads that read for event subscriptions (SubscribeEvents), apart from
  // the workers, so that subscribers never hold a writer's thread.
  int subscription_threads = 2;
  // Subscribers that keep up are woken in rounds at most this often, each
  // sent what committed since its last message in one message (the batched
  // form): the most a commit may wait before it is sent (see
  // app::EventFeed::Options::min_round_interval).
  absl::Duration subscription_round_interval = absl::Milliseconds(5);
  // How long Shutdown lets calls in flight finish before cancelling them.
  absl::Duration shutdown_grace = absl::Seconds(2);
  // How long Shutdown keeps serving after health turns NOT_SERVING, so that
  // load balancers and Kubernetes stop sending calls before new ones are
  // refused (real time; 0: refuse at once).
  absl::Duration drain_delay = absl::ZeroDuration();
  // How AdminService opens copies of the store (Backup, VerifyStore); the
  // composition root knows the store's kind. Unset: VerifyStore answers
  // UNIMPLEMENTED.
  app::StoreCopies store_copies;
  // Metrics endpoint and JSON log (server/observability.h).
  ObservabilityOptions observability;
  // Who may call what (server/access_control.h); must outlive the server.
  // Null: development mode (headers taken as given), no rate limit.
  AccessControl* access = nullptr;
  // How the port is secured (TLS, mTLS: server/tls.h); null: plaintext.
  std::shared_ptr<grpc::ServerCredentials> credentials;
};

class SequencerServer {
 public:
  // Starts serving. `store`, `clock` and `ids` must outlive the server. When
  // `manual_clock` is not null (it is then usually also `clock`),
  // sequencer.v1.ClockService is registered to move it. UNAVAILABLE when the
  // address cannot be bound.
  static absl::StatusOr<std::unique_ptr<SequencerServer>> Start(
      const ServerOptions& options, eventstore::EventStore* store,
      const app::Clock* clock, app::ManualClock* manual_clock,
      app::IdGenerator* ids);
  ~SequencerServer();

  // The bound port and "host:port" address.
  int port() const { return port_; }
  std::string address() const;

  // Reports NOT_SERVING, answers every waiting long poll (OK, no leases),
  // ends every event subscription (UNAVAILABLE),
  // stops accepting calls and waits for those running (cancelling what still
  // runs after ServerOptions::shutdown_grace), then purges what deletions
  // erased (EventStore::PurgeErased). Idempotent.
  void Shutdown();
  // Blocks until Shutdown.
  void Wait();

  // The LeaseSteps long polls (for tests and benchmarks: counts()).
  app::PollRegistry& polls() { return *polls_; }
  // The committed events subscriptions read (for tests and benchmarks).
  app::EventFeed& feed() { return *feed_; }
  // SubscribeEvents calls under way.
  int open_subscriptions() const;

  // The metrics endpoint's port (0: none).
  int metrics_port() const { return observability_->metrics_port(); }
  Observability& observability() { return *observability_; }

 private:
  SequencerServer() = default;
  // What the metrics endpoint reads at each scrape beyond the calls.
  std::vector<prometheus::MetricFamily> CollectRuntime();

  std::string host_;
  int port_ = 0;
  std::unique_ptr<app::Repository> repository_;
  std::unique_ptr<app::LockTable> locks_;
  // Before pool_ and the services: outlives the tasks and polls using it.
  std::unique_ptr<app::PollRegistry> polls_;
  std::unique_ptr<app::QueueFronts> fronts_;
  std::unique_ptr<app::ReadySteps> ready_steps_;
  // Before subscription_pool_ and the services: outlives the subscriptions.
  std::unique_ptr<app::EventFeed> feed_;
  std::unique_ptr<app::WorkerPool> subscription_pool_;
  std::unique_ptr<app::ErasurePurger> purger_;
  app::RuntimeCounters counters_;
  std::unique_ptr<app::WorkerPool> pool_;
  std::unique_ptr<app::WorkSignal> work_;
  std::unique_ptr<RequestBudget> budget_;
  // When ServerOptions::access is null.
  std::unique_ptr<AccessControl> own_access_;
  std::unique_ptr<app::Scheduler> scheduler_;
  std::unique_ptr<grpc::Service> sequence_service_;
  std::unique_ptr<grpc::Service> recipient_service_;
  std::unique_ptr<grpc::Service> clock_service_;
  std::unique_ptr<grpc::Service> delivery_service_;
  std::unique_ptr<grpc::Service> audit_service_;
  std::unique_ptr<grpc::Service> admin_service_;
  std::unique_ptr<grpc::Service> subscription_service_;
  std::unique_ptr<grpc::Service> reflection_v1_service_;
  std::unique_ptr<grpc::Server> server_;
  eventstore::EventStore* store_ = nullptr;
  const app::Clock* clock_ = nullptr;
  std::unique_ptr<Observability> observability_;
  // Recipients by tenant and status, recounted at most once a minute (a
  // scan of the status index).
  absl::Mutex census_mu_;
  absl::Time census_at_ ABSL_GUARDED_BY(census_mu_) = absl::InfinitePast();
  std::vector<prometheus::MetricFamily> census_ ABSL_GUARDED_BY(census_mu_);
  bool shut_down_ = false;
  absl::Duration shutdown_grace_;
  absl::Duration drain_delay_;
};

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_SEQUENCER_SERVER_H_
