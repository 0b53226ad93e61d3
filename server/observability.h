// What an operator sees of a running sequencerd besides its answers (issue
// 14): Prometheus metrics pulled over HTTP from a port of their own, and one
// structured log line per call and per change of the server's state.
//
// Calls are observed by a gRPC server interceptor, so every method of every
// service is counted the same way, whatever its handler does:
//   sequencer_calls_total{method, code}       counter
//   sequencer_call_seconds{method}            histogram
// `method` is the full gRPC method name of a registered method, or "other"
// (so clients cannot grow the label set). Everything else is read at scrape
// time by the `collect` callback SequencerServer gives (store, scheduler,
// leases, long polls, recipients by status).
//
// A call log line is JSON, e.g.
//   {"ts":"2026-11-30T20:40:00.123456Z","level":"info","event":"call",
//    "method":"/sequencer.v1.RecipientService/PauseRecipient",
//    "tenant":"acme","actor":"alice","code":"OK","latency_ms":1.234}
// It names the tenant (as the caller's metadata named it), the actor as
// admitted (the authenticated principal; the x-actor header in development
// mode) and the request id, both from the trailing metadata the handler adds
// (server/unary_call.h), and nothing else of the request: no ids of
// recipients, contact fields or content.
//
// Thread-safe.

#ifndef SEQUENCER_SERVER_OBSERVABILITY_H_
#define SEQUENCER_SERVER_OBSERVABILITY_H_

#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/server_interceptor.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace sequencer::server {

struct ObservabilityOptions {
  // host:port of the metrics endpoint (GET /metrics, Prometheus text
  // format); port 0 picks a free one; empty: no endpoint (metrics are still
  // counted).
  std::string metrics_listen;
  // Where the JSON lines go (one fputs each); null: no log. Not owned.
  FILE* log = nullptr;
};

class Observability {
 public:
  using Collector = std::function<std::vector<prometheus::MetricFamily>()>;

  // Binds the endpoint when asked (UNAVAILABLE when it cannot). `collect`
  // (may be empty) runs on the endpoint's thread at each scrape.
  static absl::StatusOr<std::unique_ptr<Observability>> Start(
      const ObservabilityOptions& options, Collector collect);
  ~Observability();

  // The endpoint's port; 0 without one.
  int metrics_port() const { return metrics_port_; }

  // For grpc::ServerBuilder::experimental().SetInterceptorCreators.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  InterceptorFactory();

  // Counts and logs one finished call.
  void RecordCall(absl::string_view method, grpc::StatusCode code,
                  absl::Duration latency, absl::string_view tenant,
                  absl::string_view actor, absl::string_view request_id = "");
  // One log line about the server itself (start, stop, health changes):
  // `fields` are added as strings.
  void LogEvent(
      absl::string_view level, absl::string_view event,
      const std::vector<std::pair<std::string, std::string>>& fields = {});

  // The Prometheus text of everything (what GET /metrics answers).
  std::string MetricsText() const;

 private:
  Observability() = default;
  void WriteLine(const std::string& line);
  // `method` if registered, else "other".
  std::string MethodLabel(absl::string_view method)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  class RuntimeCollectable;

  FILE* log_ = nullptr;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<RuntimeCollectable> runtime_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int metrics_port_ = 0;
  prometheus::Family<prometheus::Counter>* calls_ = nullptr;
  prometheus::Family<prometheus::Histogram>* call_seconds_ = nullptr;

  absl::Mutex mu_;
  // (method label, code) -> counter; method label -> histogram.
  std::map<std::pair<std::string, int>, prometheus::Counter*> counters_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, prometheus::Histogram*> histograms_
      ABSL_GUARDED_BY(mu_);
  // Registered methods seen so far.
  std::set<std::string, std::less<>> known_methods_ ABSL_GUARDED_BY(mu_);
};

// Builders for the families `collect` returns.
prometheus::MetricFamily GaugeFamily(std::string name, std::string help);
prometheus::MetricFamily CounterFamily(std::string name, std::string help);
void AddSample(prometheus::MetricFamily* family, double value,
               std::vector<std::pair<std::string, std::string>> labels = {});

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_OBSERVABILITY_H_
