// sequencerd: the composition root. The only place that picks the RocksDB event
// store and the real (or, with --clock=manual, the manual) clock.

#include <malloc.h>
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "app/runtime/clock.h"
#include "app/runtime/id_generator.h"
#include "eventstore/rocksdb_event_store.h"
#include "google/protobuf/stubs/logging.h"
#include "server/access_control.h"
#include "server/revocation.h"
#include "server/sequencer_server.h"
#include "server/tls.h"
#include "server/unary_call.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "host:port to serve gRPC on; port 0 picks a free port (printed at "
          "start-up)");
ABSL_FLAG(std::string, data_dir, "data",
          "directory of the embedded RocksDB event log (created if missing)");
ABSL_FLAG(std::string, clock, "system",
          "'system' (real time) or 'manual' (time starts at "
          "2026-01-05T09:00:00Z and moves only "
          "through sequencer.v1.ClockService/AdvanceTime, which is registered "
          "only in this mode)");

ABSL_FLAG(absl::Duration, send_deadline, absl::Minutes(15),
          "how long a delivery worker has, after BeginSend, to report the "
          "result; past it the step goes to ERROR with 'delivery outcome "
          "unknown' (it may have been sent) so the recruiter can skip, edit "
          "or retry it");

ABSL_FLAG(int, worker_threads, 64,
          "threads that run calls (1 to 1024); a durable commit holds one for "
          "its fsync, and calls committing at once share the fsync");
ABSL_FLAG(int, malloc_arenas, 0,
          "glibc malloc arenas (M_ARENA_MAX); 0: one per core, at least 2. "
          "glibc's own "
          "default (8 per core) let each of the 64 worker threads keep its "
          "own arena's peak: 814 MiB RSS after enrolling 1M recipients, 244 "
          "MiB with 2 arenas, and no slower");
ABSL_FLAG(bool, mutex_deadlock_detection, false,
          "check every absl::Mutex acquisition against a process-wide lock "
          "graph and abort on a potential deadlock (a debugging aid: Debian's "
          "Abseil is built without NDEBUG, so it would otherwise be on, and "
          "it serializes every lock through one global mutex)");
ABSL_FLAG(std::string, metrics_listen, "",
          "host:port of the Prometheus metrics endpoint (GET /metrics); port "
          "0 picks a free one (printed); empty: none");
ABSL_FLAG(absl::Duration, drain_delay, absl::ZeroDuration(),
          "on SIGTERM, how long to keep serving after health turns "
          "NOT_SERVING, so that load balancers stop sending calls before "
          "new ones are refused (e.g. 5s behind Kubernetes)");
ABSL_FLAG(absl::Duration, subscription_round, absl::Milliseconds(5),
          "event subscribers that keep up are sent what committed at most "
          "this often, in one message each with SubscribeEventBatches: the "
          "most a commit waits before it is sent (0 to 1s; 0: a round as soon "
          "as anything commits)");
ABSL_FLAG(std::string, log, "stderr",
          "where the JSON log goes, one line per call and per change of the "
          "server's state: 'stderr' or 'none'");
ABSL_FLAG(int, max_inflight_request_mib, 64,
          "MiB of requests worked on at once; beyond, requests answer "
          "RESOURCE_EXHAUSTED (busy, retry with backoff) so that bursts of "
          "large requests cannot exhaust memory; 0 removes the bound");

ABSL_FLAG(std::string, auth, "",
          "required, no default: 'dev': development mode, NO AUTHENTICATION: "
          "the tenant and actor "
          "are taken from x-tenant-id and x-actor as given (local use and "
          "grpcurl only; warned at start-up and in health); 'principals': "
          "callers authenticate with a client certificate or a bearer token "
          "and may do what --principals_file allows them");
ABSL_FLAG(std::string, principals_file, "",
          "--auth=principals: the principals, their roles and tenants "
          "(format: server/principals.h and README); re-read on SIGHUP and "
          "when it changes (--principals_refresh)");
ABSL_FLAG(absl::Duration, principals_refresh, absl::Seconds(1),
          "--auth=principals: how often the principals file is checked for "
          "changes (reloaded when its content changed, like on SIGHUP); 0: "
          "only on SIGHUP");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain of the server; with --tls_key serves TLS "
          "only. Reloaded (with the key and client CA) on SIGHUP and when "
          "the files change (see --tls_refresh)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle: client certificates it signed are verified and "
          "name principals (mTLS); needs --tls_cert");
ABSL_FLAG(std::string, tls_client_auth, "require",
          "with --tls_client_ca: 'require' (every client presents a "
          "certificate) or 'optional' (clients may use a bearer token "
          "instead)");
ABSL_FLAG(absl::Duration, tls_refresh, absl::Seconds(1),
          "how often the TLS files (and --tls_crl_file) are checked for "
          "changes; 0: only on SIGHUP");
ABSL_FLAG(std::string, tls_crl_file, "",
          "PEM certificate revocation lists of --tls_client_ca: a call with a "
          "revoked client certificate is UNAUTHENTICATED. Reloaded on SIGHUP "
          "and when it changes (--tls_refresh)");
ABSL_FLAG(double, tenant_rate, 0,
          "requests per second each tenant may make (token bucket); 0: no "
          "limit. Beyond: RESOURCE_EXHAUSTED with google.rpc.RetryInfo");
ABSL_FLAG(bool, testing_hold_long_reads, false,
          "TESTS ONLY: a long read (report, listings, audit, verify, backup) "
          "waits at its first deadline check until the call's deadline has "
          "passed, so tests see it stop with DEADLINE_EXCEEDED");
ABSL_FLAG(int, tenant_burst, 20,
          "with --tenant_rate: requests a tenant may make at once");

namespace {

// Protobuf logs every string field with invalid UTF-8 that it refuses to
// parse. The service answers such a request INVALID_ARGUMENT naming the field,
// so the line tells an operator nothing and lets any client fill the log; it is
// dropped. Everything else protobuf logs goes to stderr as before.
void LogProtobufMessage(google::protobuf::LogLevel level, const char* filename,
                        int line, const std::string& message) {
  if (absl::StrContains(message, "invalid UTF-8 data when parsing")) return;
  static const char* const kLevels[] = {"INFO", "WARNING", "ERROR", "FATAL"};
  std::cerr << "[libprotobuf " << kLevels[level] << " " << filename << ":"
            << line << "] " << message << std::endl;
}

int Fail(const std::string& message) {
  std::cerr << "sequencerd: " << message << std::endl;
  return 1;
}

// A refused security configuration (flags, principals file, TLS files).
int FailConfig(const std::string& message) {
  std::cerr << "sequencerd: " << message << std::endl;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "sequencerd --auth=principals|dev --listen=HOST:PORT --data_dir=DIR "
      "[--clock=system|manual]\n"
      "Runs the sequencer gRPC service. Stops cleanly on SIGTERM or SIGINT.");
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view path) {
    return absl::EndsWith(path, "server/main.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  absl::ParseCommandLine(argc, argv);
  // Block the stop signals before any thread starts (gRPC's certificate
  // watcher, the file watchers), so that only sigwait below receives them: a
  // SIGHUP taken by another thread would end the process.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);  // reload principals, TLS files, CRLs
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // Before any thread starts.
  {
    const int arenas = absl::GetFlag(FLAGS_malloc_arenas);
    if (arenas < 0) return Fail("--malloc_arenas must be 0 or more");
    mallopt(M_ARENA_MAX,
            arenas > 0 ? arenas
                       : std::max(2, static_cast<int>(
                                         std::thread::hardware_concurrency())));
  }
  absl::SetMutexDeadlockDetectionMode(
      absl::GetFlag(FLAGS_mutex_deadlock_detection)
          ? absl::OnDeadlockCycle::kAbort
          : absl::OnDeadlockCycle::kIgnore);
  google::protobuf::SetLogHandler(&LogProtobufMessage);

  const std::string clock_mode = absl::GetFlag(FLAGS_clock);
  if (clock_mode != "system" && clock_mode != "manual") {
    return Fail(absl::StrCat("--clock must be 'system' or 'manual', got '",
                             clock_mode, "'"));
  }

  // Every flag is checked before the data directory is touched.
  sequencer::server::ServerOptions options;
  options.listen_address = absl::GetFlag(FLAGS_listen);
  options.send_deadline = absl::GetFlag(FLAGS_send_deadline);
  options.worker_threads = absl::GetFlag(FLAGS_worker_threads);
  if (options.worker_threads < 1 || options.worker_threads > 1024) {
    return Fail("--worker_threads must be 1 to 1024");
  }
  if (absl::GetFlag(FLAGS_max_inflight_request_mib) < 0) {
    return Fail("--max_inflight_request_mib must be 0 or more");
  }
  options.max_inflight_request_bytes =
      static_cast<size_t>(absl::GetFlag(FLAGS_max_inflight_request_mib)) << 20;
  if (options.send_deadline <= absl::ZeroDuration()) {
    return Fail("--send_deadline must be positive");
  }
  const std::string log = absl::GetFlag(FLAGS_log);
  if (log != "stderr" && log != "none") {
    return Fail(
        absl::StrCat("--log must be 'stderr' or 'none', got '", log, "'"));
  }
  options.observability.log = log == "stderr" ? stderr : nullptr;
  options.observability.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  options.drain_delay = absl::GetFlag(FLAGS_drain_delay);
  if (options.drain_delay < absl::ZeroDuration() ||
      options.drain_delay > absl::Minutes(5)) {
    return Fail("--drain_delay must be 0 to 5m");
  }
  options.subscription_round_interval = absl::GetFlag(FLAGS_subscription_round);
  if (options.subscription_round_interval < absl::ZeroDuration() ||
      options.subscription_round_interval > absl::Seconds(1)) {
    return Fail("--subscription_round must be 0 to 1s");
  }

  // Security: flags, the principals file and the TLS files (exit 2).
  const std::string auth_mode = absl::GetFlag(FLAGS_auth);
  if (auth_mode.empty()) {
    return FailConfig(
        "--auth is required: --auth=principals (callers authenticate with a "
        "client certificate or a bearer token, see --principals_file) or "
        "--auth=dev (development mode, NO AUTHENTICATION: local use only)");
  }
  if (auth_mode != "dev" && auth_mode != "principals") {
    return FailConfig(absl::StrCat(
        "--auth must be 'dev' or 'principals', got '", auth_mode, "'"));
  }
  const std::string principals_file = absl::GetFlag(FLAGS_principals_file);
  if (auth_mode == "principals" && principals_file.empty()) {
    return FailConfig("--auth=principals needs --principals_file");
  }
  if (auth_mode == "dev" && !principals_file.empty()) {
    return FailConfig("--principals_file needs --auth=principals");
  }
  sequencer::server::RateLimit rate;
  rate.per_second = absl::GetFlag(FLAGS_tenant_rate);
  rate.burst = absl::GetFlag(FLAGS_tenant_burst);
  if (!(rate.per_second >= 0)) {
    return FailConfig("--tenant_rate must be 0 or more");
  }
  if (rate.burst < 1) return FailConfig("--tenant_burst must be 1 or more");
  sequencer::server::TlsOptions tls;
  tls.cert_file = absl::GetFlag(FLAGS_tls_cert);
  tls.key_file = absl::GetFlag(FLAGS_tls_key);
  tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  const absl::Duration tls_refresh = absl::GetFlag(FLAGS_tls_refresh);
  const std::string crl_file = absl::GetFlag(FLAGS_tls_crl_file);
  const std::string client_auth = absl::GetFlag(FLAGS_tls_client_auth);
  if (client_auth != "require" && client_auth != "optional") {
    return FailConfig(
        absl::StrCat("--tls_client_auth must be 'require' or 'optional', got '",
                     client_auth, "'"));
  }
  tls.require_client_cert = client_auth == "require";
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return FailConfig("--tls_cert and --tls_key go together");
  }
  if (!tls.client_ca_file.empty() && tls.cert_file.empty()) {
    return FailConfig("--tls_client_ca needs --tls_cert and --tls_key");
  }
  if (tls_refresh < absl::ZeroDuration()) {
    return FailConfig("--tls_refresh must be 0 or more");
  }
  if (!crl_file.empty() && tls.client_ca_file.empty()) {
    return FailConfig("--tls_crl_file needs --tls_client_ca");
  }
  std::unique_ptr<sequencer::server::TlsFiles> tls_files;
  if (!tls.cert_file.empty()) {
    auto started = sequencer::server::TlsFiles::Start(tls);
    if (!started.ok())
      return FailConfig(std::string(started.status().message()));
    tls_files = *std::move(started);
    options.credentials = tls_files->credentials();
  }
  std::unique_ptr<sequencer::server::RevocationLists> revocation;
  if (!crl_file.empty()) {
    auto loaded =
        sequencer::server::RevocationLists::Load(crl_file, tls.client_ca_file);
    if (!loaded.ok()) return FailConfig(std::string(loaded.status().message()));
    revocation = *std::move(loaded);
  }
  // The rate limit reads the clock given to the server: made here, before
  // the store is opened, and handed to the AccessControl below.
  std::unique_ptr<sequencer::app::Clock> clock;
  sequencer::app::ManualClock* manual_clock = nullptr;
  if (clock_mode == "manual") {
    auto manual = std::make_unique<sequencer::app::ManualClock>();
    manual_clock = manual.get();
    clock = std::move(manual);
  } else {
    clock = std::make_unique<sequencer::app::SystemClock>();
  }
  std::unique_ptr<sequencer::server::AccessControl> access;
  if (auth_mode == "principals") {
    auto loaded = sequencer::server::AccessControl::WithPrincipals(
        principals_file, clock.get(), rate);
    if (!loaded.ok()) {
      return FailConfig(
          absl::StrCat("--principals_file: ", loaded.status().message()));
    }
    access = *std::move(loaded);
    const absl::Duration refresh = absl::GetFlag(FLAGS_principals_refresh);
    if (refresh < absl::ZeroDuration()) {
      return FailConfig("--principals_refresh must be 0 or more");
    }
    if (refresh > absl::ZeroDuration()) access->WatchFile(refresh);
  } else {
    access = sequencer::server::AccessControl::Development(clock.get(), rate);
  }
  options.access = access.get();
  if (revocation != nullptr) access->SetRevocationLists(revocation.get());
  if (tls_refresh > absl::ZeroDuration()) {
    if (tls_files != nullptr) tls_files->Watch(tls_refresh);
    if (revocation != nullptr) revocation->Watch(tls_refresh);
  }
  if (absl::GetFlag(FLAGS_testing_hold_long_reads)) {
    sequencer::server::HoldLongReadsForTesting(true);
  }

  auto store = sequencer::eventstore::RocksDbEventStore::Open(
      absl::GetFlag(FLAGS_data_dir), {});
  if (!store.ok()) {
    return Fail(absl::StrCat("cannot open the event store: ",
                             store.status().ToString()));
  }
  if (!(*store)->RecoveryNote().empty()) {
    std::cerr << "sequencerd: recovery: " << (*store)->RecoveryNote()
              << std::endl;
  }

  sequencer::app::RandomIdGenerator ids;

  // AdminService's copies are RocksDB checkpoints; VerifyStore makes its
  // temporary ones next to the data directory (same file system: hard links).
  options.store_copies.open_read_only = [](const std::string& directory)
      -> absl::StatusOr<std::unique_ptr<sequencer::eventstore::EventStore>> {
    sequencer::eventstore::RocksDbEventStore::Options read_only;
    read_only.read_only = true;
    read_only.create_if_missing = false;
    auto copy =
        sequencer::eventstore::RocksDbEventStore::Open(directory, read_only);
    if (!copy.ok()) return copy.status();
    return std::unique_ptr<sequencer::eventstore::EventStore>(std::move(*copy));
  };
  {
    std::error_code error;
    const std::filesystem::path data_dir = std::filesystem::absolute(
        std::filesystem::path(absl::GetFlag(FLAGS_data_dir)), error);
    if (!error) {
      std::filesystem::path normal = data_dir.lexically_normal();
      if (!normal.has_filename()) normal = normal.parent_path();  // "dir/"
      options.store_copies.scratch_directory = normal.parent_path().string();
    }
  }

  auto server = sequencer::server::SequencerServer::Start(
      options, store->get(), clock.get(), manual_clock, &ids);
  if (!server.ok()) return Fail(std::string(server.status().ToString()));

  if (access->development()) {
    std::cerr << "sequencerd: WARNING: development mode (--auth=dev): NO "
                 "AUTHENTICATION. Any caller that reaches "
              << (*server)->address()
              << " may act as any tenant and any actor (x-tenant-id, "
                 "x-actor). For local use only; use --auth=principals "
                 "elsewhere."
              << std::endl;
  } else {
    std::cerr << "sequencerd: authentication: " << access->principal_count()
              << " principals from " << principals_file << std::endl;
  }
  std::cout << "sequencerd listening on " << (*server)->address()
            << " (data dir " << absl::GetFlag(FLAGS_data_dir) << ", clock "
            << clock_mode << ", auth " << auth_mode << ", "
            << (options.credentials != nullptr
                    ? (tls.client_ca_file.empty()
                           ? "tls"
                           : absl::StrCat("mtls ", client_auth))
                    : std::string("plaintext"));
  if ((*server)->metrics_port() != 0) {
    const std::string& metrics = options.observability.metrics_listen;
    std::cout << ", metrics http://" << metrics.substr(0, metrics.rfind(':'))
              << ":" << (*server)->metrics_port() << "/metrics";
  }
  std::cout << ")" << std::endl;
  // Under systemd (Type=notify; NOTIFY_SOCKET set), ready means the store has
  // recovered and calls are served. Without it, a no-op.
  sd_notifyf(0, "READY=1\nSTATUS=serving on %s\nMAINPID=%lu",
             (*server)->address().c_str(),
             static_cast<unsigned long>(getpid()));

  int received = 0;
  while (true) {
    sigwait(&stop_signals, &received);
    if (received != SIGHUP) break;
    if (tls_files != nullptr) {
      if (absl::Status reloaded = tls_files->Reload(); !reloaded.ok()) {
        std::cerr << "sequencerd: SIGHUP: the TLS files are refused, the ones "
                     "in use stay: "
                  << reloaded.message() << std::endl;
      } else {
        std::cerr << "sequencerd: SIGHUP: TLS files reloaded from "
                  << tls.cert_file << std::endl;
      }
    }
    if (revocation != nullptr) {
      if (absl::Status reloaded = revocation->Reload(); !reloaded.ok()) {
        std::cerr << "sequencerd: SIGHUP: the CRL file is refused, the lists "
                     "in use stay: "
                  << reloaded.message() << std::endl;
      } else {
        std::cerr << "sequencerd: SIGHUP: " << revocation->revoked_count()
                  << " revoked certificates from " << crl_file << std::endl;
      }
    }
    if (absl::Status reloaded = access->Reload(); !reloaded.ok()) {
      std::cerr << "sequencerd: SIGHUP: the principals file is refused, the "
                   "principals in use stay: "
                << reloaded.message() << std::endl;
    } else if (!access->development()) {
      std::cerr << "sequencerd: SIGHUP: " << access->principal_count()
                << " principals reloaded from " << principals_file << std::endl;
    }
  }
  std::cout << "sequencerd: signal " << received << ", shutting down"
            << std::endl;
  sd_notify(0, "STOPPING=1\nSTATUS=draining: finishing calls in flight");
  (*server)->Shutdown();
  server->reset();
  store->reset();
  access.reset();
  revocation.reset();
  tls_files.reset();
  return 0;
}
