#include "server/sequencer_server.h"

#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "app/use_cases/kept_deletions.h"
#include "app/use_cases/sequence_report.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/clock_service.h"
#include "server/delivery_service.h"
#include "server/recipient_service.h"
#include "server/reflection_v1_service.h"
#include "server/sequence_service.h"
#include "server/subscription_service.h"

namespace sequencer::server {

absl::StatusOr<std::unique_ptr<SequencerServer>> SequencerServer::Start(
    const ServerOptions& options, eventstore::EventStore* store,
    const app::Clock* clock, app::ManualClock* manual_clock,
    app::IdGenerator* ids) {
  std::unique_ptr<SequencerServer> server(new SequencerServer());
  server->repository_ = std::make_unique<app::Repository>(store);
  server->locks_ = std::make_unique<app::LockTable>();
  server->shutdown_grace_ = options.shutdown_grace;
  server->pool_ = std::make_unique<app::WorkerPool>(options.worker_threads);
  server->work_ = std::make_unique<app::WorkSignal>();
  server->budget_ =
      std::make_unique<RequestBudget>(options.max_inflight_request_bytes);
  server->polls_ = std::make_unique<app::PollRegistry>(clock);
  server->fronts_ = std::make_unique<app::QueueFronts>();
  // At once: a previous process may have stopped before purging.
  server->purger_ =
      std::make_unique<app::ErasurePurger>(store, /*purge_at_start=*/true);
  server->feed_ = std::make_unique<app::EventFeed>(store);
  server->subscription_pool_ =
      std::make_unique<app::WorkerPool>(options.subscription_threads);
  ServiceDeps deps;
  deps.repository = server->repository_.get();
  deps.clock = clock;
  deps.ids = ids;
  deps.locks = server->locks_.get();
  deps.pool = server->pool_.get();
  deps.work = server->work_.get();
  deps.send_deadline = options.send_deadline;
  deps.budget = server->budget_.get();
  deps.polls = server->polls_.get();
  deps.fronts = server->fronts_.get();
  deps.purger = server->purger_.get();
  deps.feed = server->feed_.get();
  // Data directories made before the sequence report get its rp/ entries
  // once, before anything else writes. A failure leaves the rest to the next
  // start (the report is incomplete until then; verify says so).
  if (auto backfilled = app::BackfillReportEntries(store); !backfilled.ok()) {
    std::fprintf(stderr,
                 "sequencerd: the sequence report backfill is left for the "
                 "next start: %s\n",
                 backfilled.status().ToString().c_str());
  } else if (backfilled->ran && backfilled->recipients > 0) {
    std::fprintf(stderr,
                 "sequencerd: sequence report backfill: %llu recipients, "
                 "%llu entries written\n",
                 static_cast<unsigned long long>(backfilled->recipients),
                 static_cast<unsigned long long>(backfilled->entries_written));
  }
  // Sequence pauses and resumes that a crash interrupted: their recipients
  // follow before any call is served. A failure (e.g. a full disk) leaves
  // them to a retry of their request or the next start.
  if (absl::Status finished =
          app::FinishSequenceOps(deps, SequencePauseEncoder());
      !finished.ok()) {
    std::fprintf(stderr,
                 "sequencerd: unfinished sequence pauses are left for later: "
                 "%s\n",
                 finished.ToString().c_str());
  }
  // Recipients deleted before deletions erased: erased now, once.
  if (absl::StatusOr<uint64_t> erased = app::EraseKeptDeletions(deps);
      !erased.ok()) {
    std::fprintf(stderr,
                 "sequencerd: recipients deleted before this version are not "
                 "erased yet (the next start tries again): %s\n",
                 erased.status().ToString().c_str());
  } else if (*erased > 0) {
    std::fprintf(stderr,
                 "sequencerd: erased %llu recipients deleted before deletions "
                 "erased\n",
                 static_cast<unsigned long long>(*erased));
  }
  server->scheduler_ = std::make_unique<app::Scheduler>(deps);
  server->delivery_service_ = std::make_unique<DeliveryServiceImpl>(deps);
  server->sequence_service_ = std::make_unique<SequenceServiceImpl>(deps);
  server->recipient_service_ = std::make_unique<RecipientServiceImpl>(deps);
  server->subscription_service_ = std::make_unique<SubscriptionServiceImpl>(
      server->feed_.get(), server->subscription_pool_.get());
  if (manual_clock != nullptr) {
    server->clock_service_ = std::make_unique<ClockServiceImpl>(
        manual_clock, server->scheduler_.get(), server->polls_.get());
  }

  std::vector<std::string> services = {
      v1::SequenceService::service_full_name(),
      v1::RecipientService::service_full_name(),
      v1::DeliveryService::service_full_name(),
      v1::SubscriptionService::service_full_name()};
  if (server->clock_service_) {
    services.push_back(v1::ClockService::service_full_name());
  }
  services.insert(services.end(), {"grpc.health.v1.Health",
                                   "grpc.reflection.v1.ServerReflection",
                                   "grpc.reflection.v1alpha.ServerReflection"});
  server->reflection_v1_service_ =
      std::make_unique<ReflectionV1Service>(std::move(services));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address,
                           grpc::InsecureServerCredentials(), &server->port_);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  builder.RegisterService(server->sequence_service_.get());
  builder.RegisterService(server->recipient_service_.get());
  builder.RegisterService(server->delivery_service_.get());
  builder.RegisterService(server->subscription_service_.get());
  if (server->clock_service_)
    builder.RegisterService(server->clock_service_.get());
  builder.RegisterService(server->reflection_v1_service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen_address));
  }
  const auto colon = options.listen_address.rfind(':');
  server->host_ = options.listen_address.substr(0, colon);
  if (manual_clock == nullptr) {
    server->scheduler_->StartBackground();
    server->polls_->StartTimer();
  }
  server->store_ = store;
  grpc::HealthCheckServiceInterface* health =
      server->server_->GetHealthCheckService();
  store->SetWriteStateObserver([health](const absl::Status& state) {
    health->SetServingStatus(state.ok());
  });
  health->SetServingStatus(store->WriteState().ok());
  return server;
}

SequencerServer::~SequencerServer() {
  Shutdown();
  pool_.reset();  // Runs what is queued while the services still exist.
  subscription_pool_.reset();
}

int SequencerServer::open_subscriptions() const {
  return subscription_service_ == nullptr
             ? 0
             : static_cast<const SubscriptionServiceImpl&>(
                   *subscription_service_)
                   .open();
}

std::string SequencerServer::address() const {
  return absl::StrCat(host_, ":", port_);
}

void SequencerServer::Shutdown() {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  if (store_ != nullptr) store_->SetWriteStateObserver(nullptr);
  server_->GetHealthCheckService()->SetServingStatus(false);
  if (scheduler_) scheduler_->Stop();
  // Waiting long polls answer now; other calls in flight may finish until the
  // deadline, then what still runs is cancelled.
  polls_->Shutdown();
  // Subscriptions end now (UNAVAILABLE: resume from the last position).
  feed_->Shutdown();
  server_->Shutdown(std::chrono::system_clock::now() +
                    absl::ToChronoMilliseconds(shutdown_grace_));
  // Deleted recipients leave no trace in the files of a stopped server.
  if (absl::Status purged = purger_->PurgeNow(); !purged.ok()) {
    std::fprintf(stderr,
                 "sequencerd: erased data is left for the next start to "
                 "purge: %s\n",
                 purged.ToString().c_str());
  }
}

void SequencerServer::Wait() { server_->Wait(); }

}  // namespace sequencer::server
