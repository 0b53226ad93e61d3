#include "server/observability.h"

#include <cinttypes>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "google/protobuf/descriptor.h"
#include "prometheus/text_serializer.h"

namespace sequencer::server {
namespace {

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out += c;
        }
    }
  }
  out += "\"";
  return out;
}

std::string Timestamp() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(),
                          absl::UTCTimeZone());
}

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// One call: its method and start, the caller's metadata, then its status.
class CallInterceptor final : public grpc::experimental::Interceptor {
 public:
  CallInterceptor(Observability* observability, std::string method)
      : observability_(observability),
        method_(std::move(method)),
        start_(absl::Now()) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      auto* metadata = methods->GetRecvInitialMetadata();
      if (metadata != nullptr) {
        if (auto it = metadata->find("x-tenant-id"); it != metadata->end()) {
          tenant_.assign(it->second.data(), it->second.size());
        }
        if (auto it = metadata->find("x-actor"); it != metadata->end()) {
          actor_.assign(it->second.data(), it->second.size());
        }
      }
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      // The handler names the admitted actor and the request id in trailing
      // metadata (server/unary_call.h); the headers are only what was sent.
      std::string request_id;
      if (auto* trailers = methods->GetSendTrailingMetadata()) {
        if (auto it = trailers->find("x-sequencer-actor");
            it != trailers->end()) {
          actor_ = it->second;
        }
        if (auto it = trailers->find("x-request-id"); it != trailers->end()) {
          request_id = it->second;
        }
      }
      observability_->RecordCall(method_, methods->GetSendStatus().error_code(),
                                 absl::Now() - start_, tenant_, actor_,
                                 request_id);
    }
    methods->Proceed();
  }

 private:
  Observability* observability_;
  std::string method_;
  absl::Time start_;
  std::string tenant_;
  std::string actor_;
};

class InterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit InterceptorFactory(Observability* observability)
      : observability_(observability) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new CallInterceptor(observability_,
                               info->method() == nullptr ? "" : info->method());
  }

 private:
  Observability* observability_;
};

// Latency buckets of calls, seconds.
const prometheus::Histogram::BucketBoundaries& CallBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
      0.25,   0.5,   1,      2.5,   5,    10,    30};
  return *buckets;
}

}  // namespace

class Observability::RuntimeCollectable final : public prometheus::Collectable {
 public:
  explicit RuntimeCollectable(Collector collect)
      : collect_(std::move(collect)) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    if (!collect_) return {};
    return collect_();
  }

 private:
  Observability::Collector collect_;
};

prometheus::MetricFamily GaugeFamily(std::string name, std::string help) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = prometheus::MetricType::Gauge;
  return family;
}

prometheus::MetricFamily CounterFamily(std::string name, std::string help) {
  prometheus::MetricFamily family =
      GaugeFamily(std::move(name), std::move(help));
  family.type = prometheus::MetricType::Counter;
  return family;
}

void AddSample(prometheus::MetricFamily* family, double value,
               std::vector<std::pair<std::string, std::string>> labels) {
  prometheus::ClientMetric metric;
  for (auto& [name, label] : labels) {
    metric.label.push_back({std::move(name), std::move(label)});
  }
  if (family->type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family->metric.push_back(std::move(metric));
}

absl::StatusOr<std::unique_ptr<Observability>> Observability::Start(
    const ObservabilityOptions& options, Collector collect) {
  std::unique_ptr<Observability> out(new Observability());
  out->log_ = options.log;
  out->registry_ = std::make_shared<prometheus::Registry>();
  out->calls_ = &prometheus::BuildCounter()
                     .Name("sequencer_calls_total")
                     .Help("gRPC calls finished, by method and status code")
                     .Register(*out->registry_);
  out->call_seconds_ =
      &prometheus::BuildHistogram()
           .Name("sequencer_call_seconds")
           .Help("gRPC call latency, from the call's start to its status")
           .Register(*out->registry_);
  out->runtime_ = std::make_shared<RuntimeCollectable>(std::move(collect));
  if (!options.metrics_listen.empty()) {
    try {
      out->exposer_ =
          std::make_unique<prometheus::Exposer>(options.metrics_listen);
    } catch (const std::exception& error) {
      return absl::UnavailableError(absl::StrCat("cannot serve metrics on ",
                                                 options.metrics_listen, ": ",
                                                 error.what()));
    }
    out->exposer_->RegisterCollectable(out->registry_);
    out->exposer_->RegisterCollectable(out->runtime_);
    const std::vector<int> ports = out->exposer_->GetListeningPorts();
    out->metrics_port_ = ports.empty() ? 0 : ports.front();
  }
  return out;
}

Observability::~Observability() = default;

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
Observability::InterceptorFactory() {
  return std::make_unique<server::InterceptorFactory>(this);
}

std::string Observability::MethodLabel(absl::string_view method) {
  if (known_methods_.count(method) > 0) return std::string(method);
  // "/pkg.Service/Method" -> "pkg.Service.Method", a registered method? Only
  // those are remembered: names that clients make up take no memory.
  std::string name(method);
  if (!name.empty() && name[0] == '/') name.erase(0, 1);
  absl::StrReplaceAll({{"/", "."}}, &name);
  if (google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
          name) == nullptr) {
    return "other";
  }
  known_methods_.emplace(method);
  return std::string(method);
}

void Observability::RecordCall(absl::string_view method, grpc::StatusCode code,
                               absl::Duration latency, absl::string_view tenant,
                               absl::string_view actor,
                               absl::string_view request_id) {
  const double seconds = absl::ToDoubleSeconds(latency);
  std::string label;
  prometheus::Counter* counter;
  prometheus::Histogram* histogram;
  {
    absl::MutexLock lock(&mu_);
    label = MethodLabel(method);
    auto& c = counters_[{label, static_cast<int>(code)}];
    if (c == nullptr) {
      c = &calls_->Add({{"method", label}, {"code", CodeName(code)}});
    }
    counter = c;
    auto& h = histograms_[label];
    if (h == nullptr)
      h = &call_seconds_->Add({{"method", label}}, CallBuckets());
    histogram = h;
  }
  counter->Increment();
  histogram->Observe(seconds);
  if (log_ == nullptr) return;
  WriteLine(absl::StrCat(
      "{\"ts\":", JsonString(Timestamp()),
      ",\"level\":", JsonString(code == grpc::StatusCode::OK ? "info" : "warn"),
      ",\"event\":\"call\",\"method\":", JsonString(label),
      ",\"tenant\":", JsonString(tenant), ",\"actor\":", JsonString(actor),
      request_id.empty()
          ? ""
          : absl::StrCat(",\"request_id\":", JsonString(request_id)),
      ",\"code\":", JsonString(CodeName(code)),
      ",\"latency_ms\":", absl::StrFormat("%.3f", seconds * 1000), "}\n"));
}

void Observability::LogEvent(
    absl::string_view level, absl::string_view event,
    const std::vector<std::pair<std::string, std::string>>& fields) {
  if (log_ == nullptr) return;
  std::string line = absl::StrCat("{\"ts\":", JsonString(Timestamp()),
                                  ",\"level\":", JsonString(level),
                                  ",\"event\":", JsonString(event));
  for (const auto& [name, value] : fields) {
    absl::StrAppend(&line, ",", JsonString(name), ":", JsonString(value));
  }
  line += "}\n";
  WriteLine(line);
}

void Observability::WriteLine(const std::string& line) {
  // One stdio call: whole lines even from many threads.
  fputs(line.c_str(), log_);
}

std::string Observability::MetricsText() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (auto& family : runtime_->Collect())
    families.push_back(std::move(family));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace sequencer::server
