#include "server/sequencer_server.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "app/storage/store_layout.h"
#include "app/use_cases/kept_deletions.h"
#include "app/use_cases/sequence_report.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/admin_service.h"
#include "server/audit_service.h"
#include "server/clock_service.h"
#include "server/delivery_service.h"
#include "server/recipient_service.h"
#include "server/reflection_v1_service.h"
#include "server/sequence_service.h"
#include "server/subscription_service.h"

namespace sequencer::server {
namespace {

// Tenants named in sequencer_recipients; the others are summed as "other".
constexpr size_t kCensusTenants = 20;

// Recipients by tenant and status, from one scan of the status index.
std::vector<prometheus::MetricFamily> CountRecipients(
    const eventstore::EventStore& store) {
  std::map<std::string, std::map<std::string, uint64_t>> by_tenant;
  std::string status;
  absl::Status scanned = store.VisitIndex(
      app::layout::kStatusIndexRoot, "",
      [&](absl::string_view key, absl::string_view) {
        if (auto ref = app::layout::ParseStatusIndexKey(key, &status)) {
          ++by_tenant[ref->tenant][status];
        }
        return absl::OkStatus();
      });
  prometheus::MetricFamily family = GaugeFamily(
      "sequencer_recipients",
      "listed recipients by tenant and status (the 20 largest tenants; the "
      "rest as tenant=\"other\"), recounted at most once a minute");
  if (!scanned.ok()) return {};
  std::vector<std::pair<uint64_t, std::string>> sizes;
  for (const auto& [tenant, counts] : by_tenant) {
    uint64_t total = 0;
    for (const auto& [name, count] : counts) total += count;
    sizes.push_back({total, tenant});
  }
  std::sort(sizes.rbegin(), sizes.rend());
  std::map<std::string, uint64_t> other;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const auto& counts = by_tenant[sizes[i].second];
    for (const auto& [name, count] : counts) {
      if (i < kCensusTenants) {
        AddSample(&family, static_cast<double>(count),
                  {{"tenant", sizes[i].second},
                   {"status", absl::StrCat("RECIPIENT_STATUS_", name)}});
      } else {
        other[name] += count;
      }
    }
  }
  for (const auto& [name, count] : other) {
    AddSample(&family, static_cast<double>(count),
              {{"tenant", "other"},
               {"status", absl::StrCat("RECIPIENT_STATUS_", name)}});
  }
  return {std::move(family)};
}

}  // namespace

absl::StatusOr<std::unique_ptr<SequencerServer>> SequencerServer::Start(
    const ServerOptions& options, eventstore::EventStore* store,
    const app::Clock* clock, app::ManualClock* manual_clock,
    app::IdGenerator* ids) {
  std::unique_ptr<SequencerServer> server(new SequencerServer());
  server->store_ = store;
  server->clock_ = clock;
  SequencerServer* self = server.get();
  absl::StatusOr<std::unique_ptr<Observability>> observability =
      Observability::Start(options.observability,
                           [self] { return self->CollectRuntime(); });
  if (!observability.ok()) return observability.status();
  server->observability_ = *std::move(observability);
  server->repository_ = std::make_unique<app::Repository>(store);
  server->locks_ = std::make_unique<app::LockTable>();
  server->shutdown_grace_ = options.shutdown_grace;
  server->drain_delay_ = options.drain_delay;
  server->pool_ = std::make_unique<app::WorkerPool>(options.worker_threads);
  server->work_ = std::make_unique<app::WorkSignal>();
  server->budget_ =
      std::make_unique<RequestBudget>(options.max_inflight_request_bytes);
  server->polls_ = std::make_unique<app::PollRegistry>(clock);
  server->fronts_ = std::make_unique<app::QueueFronts>();
  server->ready_steps_ = std::make_unique<app::ReadySteps>();
  // At once: a previous process may have stopped before purging.
  server->purger_ =
      std::make_unique<app::ErasurePurger>(store, /*purge_at_start=*/true);
  app::EventFeed::Options feed_options;
  // Each event is encoded once for every subscriber, and commits wake
  // subscribers through the feed's thread, not the committer's.
  feed_options.encode = &EncodeSubscribedEvent;
  feed_options.wake_thread = true;
  feed_options.min_round_interval = options.subscription_round_interval;
  server->feed_ = std::make_unique<app::EventFeed>(store, feed_options);
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
  AccessControl* access = options.access;
  if (access == nullptr) {
    server->own_access_ = AccessControl::Development(clock);
    access = server->own_access_.get();
  }
  deps.access = access;
  deps.polls = server->polls_.get();
  deps.fronts = server->fronts_.get();
  deps.ready_steps = server->ready_steps_.get();
  deps.purger = server->purger_.get();
  deps.counters = &server->counters_;
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
  server->audit_service_ = std::make_unique<AuditServiceImpl>(deps);
  server->admin_service_ =
      std::make_unique<AdminServiceImpl>(deps, options.store_copies);
  server->subscription_service_ = std::make_unique<SubscriptionServiceImpl>(
      server->feed_.get(), server->subscription_pool_.get(), deps.access);
  if (manual_clock != nullptr) {
    server->clock_service_ = std::make_unique<ClockServiceImpl>(
        manual_clock, server->scheduler_.get(), server->polls_.get(), access);
  }

  std::vector<std::string> services = {
      v1::SequenceService::service_full_name(),
      v1::RecipientService::service_full_name(),
      v1::DeliveryService::service_full_name(),
      v1::AuditService::service_full_name(),
      v1::AdminService::service_full_name(),
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
                           options.credentials != nullptr
                               ? options.credentials
                               : grpc::InsecureServerCredentials(),
                           &server->port_);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(server->observability_->InterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  builder.RegisterService(server->sequence_service_.get());
  builder.RegisterService(server->recipient_service_.get());
  builder.RegisterService(server->delivery_service_.get());
  builder.RegisterService(server->audit_service_.get());
  builder.RegisterService(server->admin_service_.get());
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
  grpc::HealthCheckServiceInterface* health =
      server->server_->GetHealthCheckService();
  Observability* log = server->observability_.get();
  store->SetWriteStateObserver([health, log](const absl::Status& state) {
    health->SetServingStatus(state.ok());
    log->LogEvent(state.ok() ? "info" : "error", "health",
                  {{"serving", state.ok() ? "SERVING" : "NOT_SERVING"},
                   {"reason", std::string(state.message())}});
  });
  if (access->development()) {
    // Visible to probes: Check of this service name answers only in
    // development mode.
    health->SetServingStatus(kDevelopmentModeHealthService, true);
  }
  health->SetServingStatus(store->WriteState().ok());
  log->LogEvent(
      "info", "started",
      {{"address", server->address()},
       {"metrics_port", absl::StrCat(server->metrics_port())},
       {"serving", store->WriteState().ok() ? "SERVING" : "NOT_SERVING"}});
  return server;
}

SequencerServer::~SequencerServer() {
  Shutdown();
  pool_.reset();  // Runs what is queued while the services still exist.
  subscription_pool_.reset();
  // The metrics endpoint reads the members below: it stops first.
  observability_.reset();
}

std::vector<prometheus::MetricFamily> SequencerServer::CollectRuntime() {
  std::vector<prometheus::MetricFamily> out;
  const eventstore::StoreStats stats = store_->Stats();
  auto counter = [&](const char* name, const char* help, double value) {
    out.push_back(CounterFamily(name, help));
    AddSample(&out.back(), value);
  };
  auto gauge = [&](const char* name, const char* help, double value) {
    out.push_back(GaugeFamily(name, help));
    AddSample(&out.back(), value);
  };
  counter("sequencer_store_commits_total",
          "commits written (commits / group writes: the mean group size)",
          static_cast<double>(stats.commits));
  counter("sequencer_store_group_writes_total",
          "durable writes (each fsync'd) that served the commits",
          static_cast<double>(stats.group_writes));
  {
    prometheus::MetricFamily family;
    family.name = "sequencer_store_write_seconds";
    family.help = "time of each durable write (group commit), fsync included";
    family.type = prometheus::MetricType::Histogram;
    prometheus::ClientMetric metric;
    metric.histogram.sample_count = stats.group_writes;
    metric.histogram.sample_sum = stats.write_seconds;
    constexpr size_t kBounds =
        sizeof(eventstore::StoreStats::kWriteSecondsBounds) / sizeof(double);
    for (size_t i = 0; i < kBounds; ++i) {
      metric.histogram.bucket.push_back(
          {stats.writes_at_most[i],
           eventstore::StoreStats::kWriteSecondsBounds[i]});
    }
    metric.histogram.bucket.push_back(
        {stats.group_writes, std::numeric_limits<double>::infinity()});
    family.metric.push_back(std::move(metric));
    out.push_back(std::move(family));
  }
  counter("sequencer_store_refused_commits_total",
          "commits refused while the store recovered from a failed write",
          static_cast<double>(stats.refused_commits));
  gauge("sequencer_store_disk_bytes", "bytes of the store's files",
        static_cast<double>(stats.disk_bytes));
  gauge("sequencer_store_background_errors",
        "background errors of the storage engine since start",
        static_cast<double>(stats.background_errors));
  gauge("sequencer_store_writes_stopped",
        "1 while the storage engine stops writes (a stall)",
        static_cast<double>(stats.writes_stopped));
  gauge("sequencer_store_delayed_write_rate_bytes",
        "the rate writes are slowed to, bytes/s (0: not slowed)",
        static_cast<double>(stats.delayed_write_rate));
  gauge("sequencer_store_writable",
        "1 while the store accepts writes (health SERVING), 0 otherwise",
        store_->WriteState().ok() ? 1 : 0);
  // Scheduler lag: how long the oldest due/ entry has been due.
  double lag = 0;
  if (auto first = store_->ScanIndex(app::layout::kDuePrefix, "", 1);
      first.ok() && !first->empty()) {
    if (auto due = app::layout::ParseDueKey(first->front().first)) {
      lag = std::max(0.0, absl::ToDoubleSeconds(clock_->Now() - due->due));
    }
  }
  gauge("sequencer_scheduler_lag_seconds",
        "now minus the due time of the oldest recipient waiting for the "
        "scheduler (0: none is late)",
        lag);
  gauge("sequencer_leases_outstanding",
        "delivery leases granted and not yet spent, revoked or expired",
        static_cast<double>(
            static_cast<DeliveryServiceImpl*>(delivery_service_.get())
                ->OutstandingLeases()));
  gauge("sequencer_long_polls_waiting", "LeaseSteps long polls parked now",
        polls_->counts().waiting);
  counter("sequencer_sends_timed_out_total",
          "begun sends that passed their deadline without a result (the step "
          "went to ERROR, delivery outcome unknown)",
          static_cast<double>(
              counters_.sends_timed_out.load(std::memory_order_relaxed)));
  counter("sequencer_erasure_purges_total",
          "purges of erased data (deletions) from the store's files",
          static_cast<double>(purger_->completed_runs()));
  {
    absl::MutexLock lock(&census_mu_);
    const absl::Time now = absl::Now();
    if (now - census_at_ >= absl::Minutes(1)) {
      census_at_ = now;
      census_ = CountRecipients(*store_);
    }
    for (const auto& family : census_) out.push_back(family);
  }
  return out;
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
  observability_->LogEvent(
      "info", "stopping",
      {{"serving", "NOT_SERVING"},
       {"grace_ms", absl::StrCat(absl::ToInt64Milliseconds(shutdown_grace_))},
       {"drain_delay_ms",
        absl::StrCat(absl::ToInt64Milliseconds(drain_delay_))}});
  // Still serving, but no longer advertised: balancers move away first.
  if (drain_delay_ > absl::ZeroDuration()) absl::SleepFor(drain_delay_);
  if (scheduler_) scheduler_->Stop();
  // Waiting long polls answer now; other calls in flight may finish until the
  // deadline, then what still runs is cancelled.
  polls_->Shutdown();
  // Subscriptions end now (UNAVAILABLE: resume from the last position).
  feed_->Shutdown();
  server_->Shutdown(std::chrono::system_clock::now() +
                    absl::ToChronoMilliseconds(shutdown_grace_));
  // Deleted recipients leave no trace in the files of a stopped server.
  absl::Status purged = purger_->PurgeNow();
  observability_->LogEvent(
      purged.ok() ? "info" : "error", "stopped",
      {{"purge", purged.ok() ? "done" : purged.ToString()}});
  if (!purged.ok()) {
    std::fprintf(stderr,
                 "sequencerd: erased data is left for the next start to "
                 "purge: %s\n",
                 purged.ToString().c_str());
  }
}

void SequencerServer::Wait() { server_->Wait(); }

}  // namespace sequencer::server
