// The load generator of bench/run.sh: drives a sequencer.v1 server from
// outside its process (the release sequencerd, or bench/noop_server.cc, the
// no-op ceiling) with the same requests, so the two can be compared in one
// run. Every mode prints what it measured in words and then one machine line
// "RESULT mode=<mode> key=value ..." (rates per second, latencies in ms,
// durations in s) that bench/run.sh reads. Empty (default) responses are fine:
// the no-op server answers nothing but OK.
//
// Modes (--mode):
//   setup   CreateSequence --sequence (ALREADY_EXISTS accepted), then
//           EnrollRecipients calls of --batch recipients (ids r<i>, i from
//           --from to --recipients - 1), one at a time. Reported: recipients/s
//           of the first and the last call and of the whole, p50/p99 of the
//           call time.
//   closed  Closed loop: --inflight calls always in flight (a new one starts
//           when one completes), PauseRecipient or ResumeRecipient of a
//           recipient picked at random among --recipients, for --seconds after
//           --warmup seconds. The client keeps each recipient's state (paused
//           or not, and whether a call on it is in flight) so that pause and
//           resume alternate and no two calls touch one recipient at once;
//           --state_file carries it between runs. A FAILED_PRECONDITION
//           (e.g. pausing a paused recipient) counts as a completed call and is
//           reported as a refusal; other errors are reported as errors.
//           Reported: calls/s, p50/p99/p99.9 of the call latency.
//   open    Open loop: calls are issued on a fixed schedule of --rate per
//           second whether or not earlier ones completed, and each latency is
//           measured from the call's scheduled time (so a stalled server is
//           charged for every call it delayed: no coordinated omission).
//           Reported: achieved rate, p50/p99/p99.9.
//           closed and open also report the CPU time this client used in the
//           measuring window per call (client_cpu_us), and, with --server_pid
//           (a process on this machine), the server's (server_cpu_us), read
//           from /proc at the window's start and end: what a call costs each
//           side, which bounds the rate two shared cores allow.
//   bulk    BulkAction PAUSE of recipients r0..r<--bulk_count - 1> of
//           --sequence, then RESUME of the same, --repeats times. Reported:
//           the time of each pause call (median and min) and of the resumes.
//   wait_serving  Polls grpc.health.v1.Health/Check until SERVING. Reported:
//           seconds since --t0_ns (CLOCK_REALTIME ns, e.g. `date +%s%N` taken
//           just before the server was started).
//
// Calls use gRPC's callback API over --channels channels (separate TCP
// connections), so one process keeps --inflight calls in flight from gRPC's
// few completion threads; every call carries x-tenant-id and x-actor.
//
//   build/load_client --target=127.0.0.1:PORT --mode=closed --recipients=1000
//       [--inflight=64] [--seconds=5] [--warmup=1] [--state_file=F]

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "sequencer/v1/sequencer.grpc.pb.h"

ABSL_FLAG(std::string, target, "", "server address, host:port");
ABSL_FLAG(std::string, mode, "", "setup, closed, open, bulk or wait_serving");
ABSL_FLAG(std::string, tenant, "bench", "x-tenant-id of every call");
ABSL_FLAG(std::string, sequence, "bench", "sequence id");
ABSL_FLAG(int, recipients, 1000,
          "recipients r0..r<N-1> of the sequence (setup: enroll up to N)");
ABSL_FLAG(int, from, 0, "setup: first recipient index to enroll");
ABSL_FLAG(int, batch, 10000, "setup: recipients per EnrollRecipients call");
ABSL_FLAG(int, inflight, 64, "closed: calls in flight");
ABSL_FLAG(int, channels, 2, "gRPC channels (connections) the calls share");
ABSL_FLAG(double, seconds, 5, "closed/open: measuring time");
ABSL_FLAG(double, warmup, 1, "closed/open: seconds run before measuring");
ABSL_FLAG(double, rate, 1000, "open: calls per second");
ABSL_FLAG(int, max_outstanding, 10000,
          "open: calls in flight beyond which the schedule waits (the delay "
          "still counts in the latency)");
ABSL_FLAG(std::string, state_file, "",
          "closed/open: file with the indexes of paused recipients, read at "
          "start and written at the end");
ABSL_FLAG(int, server_pid, 0,
          "closed/open: the server's pid, to report its CPU time per call");
ABSL_FLAG(int, bulk_count, 10000, "bulk: recipients per BulkAction");
ABSL_FLAG(int, repeats, 3, "bulk: pause+resume rounds");
ABSL_FLAG(int64_t, t0_ns, 0, "wait_serving: start time, CLOCK_REALTIME ns");
ABSL_FLAG(double, timeout, 300, "wait_serving: give up after this many s");
ABSL_FLAG(std::string, tag, "",
          "request id prefix (default: from the time, so runs never collide)");

namespace {

namespace v1 = sequencer::v1;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "load_client: %s\n", what.c_str());
  std::exit(1);
}

void Check(const grpc::Status& status, const std::string& what) {
  if (!status.ok()) {
    Die(absl::StrCat(what, ": code ", status.error_code(), ": ",
                     status.error_message()));
  }
}

double Percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t i =
      std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()));
  return sorted[i];
}

std::string Tag() {
  static const std::string tag = [] {
    std::string t = absl::GetFlag(FLAGS_tag);
    if (!t.empty()) return t;
    return absl::StrCat("lc",
                        std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
  }();
  return tag;
}

std::string RecipientId(int i) { return absl::StrCat("r", i); }

void AddMetadata(grpc::ClientContext* context) {
  context->AddMetadata("x-tenant-id", absl::GetFlag(FLAGS_tenant));
  context->AddMetadata("x-actor", "load_client");
}

std::vector<std::shared_ptr<grpc::Channel>> Channels() {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  const int n = std::max(1, absl::GetFlag(FLAGS_channels));
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(64 << 20);
    args.SetMaxReceiveMessageSize(64 << 20);
    // A channel of its own connection each.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("sequencer.bench.channel", i);
    channels.push_back(grpc::CreateCustomChannel(
        absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials(), args));
  }
  return channels;
}

// ---- setup ------------------------------------------------------------------

void Setup() {
  auto channel = Channels().front();
  auto sequences = v1::SequenceService::NewStub(channel);
  auto recipients = v1::RecipientService::NewStub(channel);
  const std::string sequence = absl::GetFlag(FLAGS_sequence);
  {
    v1::CreateSequenceRequest create;
    create.set_request_id(absl::StrCat(Tag(), "-create-", sequence));
    create.set_sequence_id(sequence);
    create.set_name(sequence);
    auto* step = create.add_steps();
    step->set_type(v1::STEP_TYPE_EMAIL);
    step->mutable_delay()->set_seconds(86400);
    step->mutable_content()->set_subject("Hi {{first_name}}");
    step->mutable_content()->set_body("About {{company}}");
    grpc::ClientContext context;
    AddMetadata(&context);
    v1::CreateSequenceResponse created;
    const grpc::Status status =
        sequences->CreateSequence(&context, create, &created);
    if (status.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
      Check(status, "CreateSequence");
    }
  }
  const int from = absl::GetFlag(FLAGS_from);
  const int to = absl::GetFlag(FLAGS_recipients);
  const int batch = std::max(1, absl::GetFlag(FLAGS_batch));
  std::vector<double> call_seconds;
  std::vector<int> call_sizes;
  const auto start = Clock::now();
  for (int first = from; first < to; first += batch) {
    v1::EnrollRecipientsRequest request;
    request.set_request_id(
        absl::StrCat(Tag(), "-enroll-", sequence, "-", first));
    request.set_sequence_id(sequence);
    const int last = std::min(to, first + batch);
    for (int i = first; i < last; ++i) {
      auto* r = request.add_recipients();
      r->set_recipient_id(RecipientId(i));
      r->mutable_contact()->set_email(absl::StrCat("r", i, "@example.com"));
      (*r->mutable_variables())["first_name"] = "Ada";
      (*r->mutable_variables())["company"] = "Analytical Engines";
    }
    grpc::ClientContext context;
    AddMetadata(&context);
    v1::EnrollRecipientsResponse enrolled;
    const auto call_start = Clock::now();
    Check(recipients->EnrollRecipients(&context, request, &enrolled),
          absl::StrCat("EnrollRecipients from r", first));
    call_seconds.push_back(Since(call_start));
    call_sizes.push_back(last - first);
    if (call_seconds.size() % 10 == 0) {
      std::fprintf(stderr, "  enrolled %d: this call %.0f recipients/s\n", last,
                   call_sizes.back() / call_seconds.back());
    }
  }
  const double total = Since(start);
  if (call_seconds.empty()) {
    std::printf("setup: nothing to enroll\nRESULT mode=setup calls=0\n");
    return;
  }
  const double first_rate = call_sizes.front() / call_seconds.front();
  const double last_rate = call_sizes.back() / call_seconds.back();
  const double overall = (to - from) / total;
  std::vector<double> sorted = call_seconds;
  std::sort(sorted.begin(), sorted.end());
  const double p50 = Percentile(sorted, 0.5), p99 = Percentile(sorted, 0.99);
  std::printf(
      "setup: %zu calls enrolled r%d..r%d in %.2f s (%.0f recipients/s); "
      "first call %.0f/s, last call %.0f/s; call p50 %.3f s, p99 %.3f s\n",
      call_seconds.size(), from, to - 1, total, overall, first_rate, last_rate,
      p50, p99);
  std::printf(
      "RESULT mode=setup calls=%zu recipients=%d seconds=%.3f rate=%.0f "
      "first_rate=%.0f last_rate=%.0f first_call_s=%.4f last_call_s=%.4f "
      "p50_s=%.4f p99_s=%.4f\n",
      call_seconds.size(), to - from, total, overall, first_rate, last_rate,
      call_seconds.front(), call_seconds.back(), p50, p99);
}

// ---- single actions: closed and open loop -----------------------------------

class ActionLoad {
 public:
  ActionLoad(int recipients, bool closed)
      : closed_(closed),
        recipients_(recipients),
        flags_(new std::atomic<uint8_t>[recipients]) {
    for (int i = 0; i < recipients; ++i) flags_[i] = 0;
    for (auto& channel : Channels()) {
      stubs_.push_back(v1::RecipientService::NewStub(channel));
    }
  }

  void LoadState(const std::string& file) {
    if (file.empty()) return;
    std::ifstream in(file);
    int i = 0;
    while (in >> i) {
      if (i >= 0 && i < recipients_) flags_[i] = kPaused;
    }
  }

  void SaveState(const std::string& file) {
    if (file.empty()) return;
    std::ofstream out(file, std::ios::trunc);
    for (int i = 0; i < recipients_; ++i) {
      if (flags_[i].load() & kPaused) out << i << "\n";
    }
  }

  // Runs warmup + seconds; in the closed loop `inflight` calls, in the open
  // loop `rate` calls per second.
  void Run(int inflight, double rate, double warmup, double seconds,
           int max_outstanding) {
    const auto now = Clock::now();
    measure_start_ = now + Dur(warmup);
    measure_end_ = measure_start_ + Dur(seconds);
    std::thread cpu_sampler([this] {
      std::this_thread::sleep_until(measure_start_);
      const CpuTimes start = SampleCpu();
      std::this_thread::sleep_until(measure_end_);
      const CpuTimes end = SampleCpu();
      client_cpu_s_ = end.client_s - start.client_s;
      server_cpu_s_ = end.server_s - start.server_s;
    });
    if (closed_) {
      for (int i = 0; i < inflight; ++i) Issue(Clock::now(), i, true);
      std::this_thread::sleep_until(measure_end_);
      stop_ = true;
    } else {
      const auto t0 = now;
      for (uint64_t k = 0;; ++k) {
        const auto intended = t0 + Dur(k / rate);
        if (intended >= measure_end_) break;
        std::this_thread::sleep_until(intended);
        {
          std::unique_lock<std::mutex> lock(mu_);
          if (outstanding_ >= max_outstanding) {
            ++delayed_;
            done_cv_.wait(lock, [&] { return outstanding_ < max_outstanding; });
          }
        }
        Issue(intended, k, true);
      }
      stop_ = true;
    }
    cpu_sampler.join();
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return outstanding_ == 0; });
  }

  void Report(const std::string& mode, double seconds, double rate) {
    std::lock_guard<std::mutex> lock(mu_);
    std::sort(latencies_.begin(), latencies_.end());
    const double achieved = latencies_.size() / seconds;
    const double p50 = 1e3 * Percentile(latencies_, 0.5);
    const double p99 = 1e3 * Percentile(latencies_, 0.99);
    const double p999 = 1e3 * Percentile(latencies_, 0.999);
    const double max = latencies_.empty() ? 0 : 1e3 * latencies_.back();
    std::printf(
        "%s: %.0f calls/s completed%s (%zu calls in %.1f s; %llu refused "
        "FAILED_PRECONDITION, %llu errors); latency p50 %.2f ms, p99 %.2f ms, "
        "p99.9 %.2f ms, max %.2f ms\n",
        mode.c_str(), achieved,
        closed_ ? "" : absl::StrCat(" at ", rate, "/s scheduled").c_str(),
        latencies_.size(), seconds, static_cast<unsigned long long>(refused_),
        static_cast<unsigned long long>(errors_), p50, p99, p999, max);
    if (errors_ > 0) {
      std::printf("  first error: %s\n", first_error_.c_str());
    }
    const double calls = std::max<double>(1, latencies_.size());
    const double client_us = 1e6 * client_cpu_s_ / calls;
    const double server_us = 1e6 * server_cpu_s_ / calls;
    std::printf("  CPU per call: client %.1f us (%.2f cores)", client_us,
                client_cpu_s_ / seconds);
    if (server_cpu_s_ > 0) {
      std::printf(", server %.1f us (%.2f cores)", server_us,
                  server_cpu_s_ / seconds);
    }
    std::printf("\n");
    std::printf(
        "RESULT mode=%s rate=%.0f scheduled_rate=%.0f calls=%zu refused=%llu "
        "errors=%llu p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f "
        "max_outstanding=%d schedule_waits=%llu client_cpu_us=%.1f "
        "server_cpu_us=%.1f\n",
        mode.c_str(), achieved, closed_ ? 0.0 : rate, latencies_.size(),
        static_cast<unsigned long long>(refused_),
        static_cast<unsigned long long>(errors_), p50, p99, p999, max,
        max_outstanding_seen_, static_cast<unsigned long long>(delayed_),
        client_us, server_us);
  }

 private:
  static constexpr uint8_t kPaused = 1;

  struct CpuTimes {
    double client_s = 0;
    double server_s = 0;  // 0 without --server_pid
  };

  // This process's CPU time, and the server's (user + system, from
  // /proc/<pid>/stat fields 14 and 15, in clock ticks).
  static CpuTimes SampleCpu() {
    CpuTimes times;
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    times.client_s = ts.tv_sec + ts.tv_nsec / 1e9;
    const int pid = absl::GetFlag(FLAGS_server_pid);
    if (pid <= 0) return times;
    std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
    std::string stat((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    // Fields after the command name, which is in parentheses and may hold
    // spaces: state is field 3, utime 14, stime 15.
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) return times;
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
      if (i == 14) utime = std::atof(field.c_str());
      if (i == 15) stime = std::atof(field.c_str());
    }
    times.server_s = (utime + stime) / sysconf(_SC_CLK_TCK);
    return times;
  }
  static constexpr uint8_t kBusy = 2;

  struct Call {
    grpc::ClientContext context;
    v1::RecipientActionRequest request;
    v1::Recipient response;
    int index = 0;
    bool pause = true;
    Clock::time_point intended;
  };

  static Clock::duration Dur(double s) {
    return std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(s));
  }

  // A random recipient no call is in flight on, marked busy.
  int Acquire() {
    thread_local std::mt19937_64 rng(std::random_device{}());
    std::uniform_int_distribution<int> pick(0, recipients_ - 1);
    for (;;) {
      const int i = pick(rng);
      uint8_t f = flags_[i].load();
      if ((f & kBusy) == 0 && flags_[i].compare_exchange_weak(f, f | kBusy)) {
        return i;
      }
    }
  }

  // `fresh`: a new call in flight (a closed loop's next call replaces the one
  // that completed, whose count it keeps).
  void Issue(Clock::time_point intended, uint64_t n, bool fresh) {
    auto* call = new Call;
    call->index = Acquire();
    call->pause = (flags_[call->index].load() & kPaused) == 0;
    call->intended = intended;
    call->request.set_request_id(
        absl::StrCat(Tag(), "-", next_id_.fetch_add(1)));
    call->request.set_sequence_id(absl::GetFlag(FLAGS_sequence));
    call->request.set_recipient_id(RecipientId(call->index));
    AddMetadata(&call->context);
    // A server that stops answering ends the run (as errors) instead of
    // hanging it.
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(60));
    if (fresh) {
      std::lock_guard<std::mutex> lock(mu_);
      ++outstanding_;
      max_outstanding_seen_ = std::max(max_outstanding_seen_, outstanding_);
    }
    auto* async = stubs_[n % stubs_.size()]->async();
    auto done = [this, call](grpc::Status status) { Done(call, status); };
    if (call->pause) {
      async->PauseRecipient(&call->context, &call->request, &call->response,
                            std::move(done));
    } else {
      async->ResumeRecipient(&call->context, &call->request, &call->response,
                             std::move(done));
    }
  }

  void Done(Call* call, const grpc::Status& status) {
    const auto now = Clock::now();
    const bool ok = status.ok();
    const bool refused =
        status.error_code() == grpc::StatusCode::FAILED_PRECONDITION;
    // Done or refused, the recipient is now in the state the call asked for
    // (a refused pause: it was paused already).
    if (ok || refused) {
      flags_[call->index].store(call->pause ? kPaused : 0);
    } else {
      flags_[call->index].fetch_and(static_cast<uint8_t>(~kBusy));
    }
    bool again = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Closed loop: calls completed in the window. Open loop: every call
      // scheduled in the window, however late it completes.
      if (call->intended >= measure_start_ &&
          (closed_ ? now <= measure_end_ : call->intended < measure_end_)) {
        latencies_.push_back(
            std::chrono::duration<double>(now - call->intended).count());
        if (refused) ++refused_;
        if (!ok && !refused) {
          if (errors_++ == 0) {
            first_error_ =
                absl::StrCat(status.error_code(), " ", status.error_message());
          }
        }
      }
      again = closed_ && !stop_.load();
    }
    const uint64_t n = call->index;
    // The call (its ClientContext) is freed before Run can see the count
    // reach zero and the process exit under this thread.
    delete call;
    if (again) {
      Issue(now, n, false);
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    --outstanding_;
    done_cv_.notify_all();
  }

  const bool closed_;
  const int recipients_;
  std::unique_ptr<std::atomic<uint8_t>[]> flags_;
  std::vector<std::unique_ptr<v1::RecipientService::Stub>> stubs_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> next_id_{0};
  Clock::time_point measure_start_, measure_end_;
  // CPU seconds used in the measuring window (set by Run).
  double client_cpu_s_ = 0;
  double server_cpu_s_ = 0;

  std::mutex mu_;
  std::condition_variable done_cv_;
  int outstanding_ = 0;
  int max_outstanding_seen_ = 0;
  uint64_t delayed_ = 0;
  std::vector<double> latencies_;
  uint64_t refused_ = 0;
  uint64_t errors_ = 0;
  std::string first_error_;
};

void Actions(bool closed) {
  const int recipients = absl::GetFlag(FLAGS_recipients);
  int inflight = absl::GetFlag(FLAGS_inflight);
  if (recipients < 2 * inflight) {
    Die("--recipients must be at least twice --inflight (each call in flight "
        "holds a recipient of its own)");
  }
  const double rate = absl::GetFlag(FLAGS_rate);
  if (!closed && rate <= 0) Die("--rate must be positive");
  const int max_outstanding = std::max(
      1, std::min(absl::GetFlag(FLAGS_max_outstanding), recipients / 2));
  ActionLoad load(recipients, closed);
  load.LoadState(absl::GetFlag(FLAGS_state_file));
  const double seconds = absl::GetFlag(FLAGS_seconds);
  load.Run(inflight, rate, absl::GetFlag(FLAGS_warmup), seconds,
           max_outstanding);
  load.SaveState(absl::GetFlag(FLAGS_state_file));
  load.Report(closed ? "closed" : "open", seconds, rate);
}

// ---- bulk -------------------------------------------------------------------

void Bulk() {
  auto recipients = v1::RecipientService::NewStub(Channels().front());
  const int count = absl::GetFlag(FLAGS_bulk_count);
  std::vector<double> pauses, resumes;
  int affected = 0;
  for (int round = 0; round < absl::GetFlag(FLAGS_repeats); ++round) {
    for (const bool pause : {true, false}) {
      v1::BulkActionRequest request;
      request.set_request_id(
          absl::StrCat(Tag(), "-bulk-", round, pause ? "-p" : "-r"));
      request.set_sequence_id(absl::GetFlag(FLAGS_sequence));
      request.set_action(pause ? v1::BULK_ACTION_TYPE_PAUSE
                               : v1::BULK_ACTION_TYPE_RESUME);
      for (int i = 0; i < count; ++i) request.add_recipient_ids(RecipientId(i));
      grpc::ClientContext context;
      AddMetadata(&context);
      v1::BulkActionResponse response;
      const auto start = Clock::now();
      Check(recipients->BulkAction(&context, request, &response),
            pause ? "BulkAction PAUSE" : "BulkAction RESUME");
      (pause ? pauses : resumes).push_back(Since(start));
      if (pause) affected = response.affected_count();
    }
  }
  std::vector<double> sorted_pauses = pauses, sorted_resumes = resumes;
  std::sort(sorted_pauses.begin(), sorted_pauses.end());
  std::sort(sorted_resumes.begin(), sorted_resumes.end());
  std::string each;
  for (double p : pauses) absl::StrAppend(&each, each.empty() ? "" : ",", p);
  std::printf(
      "bulk: pause of %d recipients (%d affected): median %.3f s, min %.3f s "
      "over %zu calls (%s); resume median %.3f s\n",
      count, affected, Percentile(sorted_pauses, 0.5), sorted_pauses.front(),
      pauses.size(), each.c_str(), Percentile(sorted_resumes, 0.5));
  std::printf(
      "RESULT mode=bulk count=%d affected=%d pause_median_s=%.4f "
      "pause_min_s=%.4f resume_median_s=%.4f\n",
      count, affected, Percentile(sorted_pauses, 0.5), sorted_pauses.front(),
      Percentile(sorted_resumes, 0.5));
}

// ---- wait_serving -----------------------------------------------------------

int64_t RealtimeNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void WaitServing() {
  auto health = grpc::health::v1::Health::NewStub(Channels().front());
  const auto start = Clock::now();
  int tries = 0;
  for (;;) {
    ++tries;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(1));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = health->Check(&context, request, &response);
    if (status.ok() &&
        response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      break;
    }
    if (Since(start) > absl::GetFlag(FLAGS_timeout)) {
      Die("the server did not become SERVING");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const int64_t t0 = absl::GetFlag(FLAGS_t0_ns);
  const double seconds = t0 > 0 ? (RealtimeNs() - t0) / 1e9 : Since(start);
  std::printf("wait_serving: SERVING %.3f s after %s (%d checks)\n", seconds,
              t0 > 0 ? "the start" : "the first check", tries);
  std::printf("RESULT mode=wait_serving seconds=%.4f checks=%d\n", seconds,
              tries);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_target).empty()) Die("--target is required");
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "setup") {
    Setup();
  } else if (mode == "closed" || mode == "open") {
    Actions(mode == "closed");
  } else if (mode == "bulk") {
    Bulk();
  } else if (mode == "wait_serving") {
    WaitServing();
  } else {
    Die("--mode must be setup, closed, open, bulk or wait_serving");
  }
  std::fflush(stdout);
  return 0;
}
