// Event subscriptions (issue 12): the writers' throughput with 1 and with 100
// live subscribers as a ratio of their throughput with none, measured
// interleaved in the same run (rounds of none, 1, 100, then 100, 1, none,
// ...), the events per
// second delivered, and the server's CPU per delivered event; then the
// catch-up rate of one subscriber reading the whole log from the start.
//
// Three processes share the machine's cores, as a deployment would: this
// one runs the server (RocksDB in a temporary directory, loopback gRPC on a
// free port, manual clock) and nothing else, so its CPU time (getrusage) is
// the server's; a child runs the writers (enrolling one recipient per call:
// one event, one durable commit each, group-committed); another child runs
// the subscribers (callback clients over several connections, counting what
// arrives without parsing it), so that their cost is not charged to the
// server. The children are forked before anything starts gRPC and take
// commands over pipes.
//
// Server CPU per delivered event = (the server's CPU during the measurement
// - the CPU per write measured with no subscriber in the same round x the
// writes) / events delivered: what delivering costs the server.
//
//   build/subscription_bench [--seconds=5] [--writers=16] [--runs=3]
//                            [--subscribers=1,100] [--rpc=batches|events]
//                            [--round_us=N (the server's round interval)]

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "app/runtime/clock.h"
#include "app/runtime/id_generator.h"
#include "app/storage/event_codec.h"
#include "bench/bench_client.h"
#include "bench/in_process_server.h"
#include "eventstore/rocksdb_event_store.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "sequencer/v1/subscriptions.grpc.pb.h"
#include "server/sequencer_server.h"

ABSL_FLAG(int, seconds, 5, "seconds of writing per measurement");
ABSL_FLAG(int, writers, 16, "concurrent writer threads");
ABSL_FLAG(int, runs, 3, "rounds of (none, each number of subscribers)");
ABSL_FLAG(std::string, subscribers, "1,100",
          "numbers of live subscribers measured");
ABSL_FLAG(int, connections, 10, "client connections subscribers use");
ABSL_FLAG(int, round_us, -1,
          "ServerOptions::subscription_round_interval in microseconds (-1: "
          "the default)");
ABSL_FLAG(std::string, rpc, "batches",
          "batches (SubscribeEventBatches) or events (SubscribeEvents)");

namespace {

namespace v1 = sequencer::v1;
using sequencer::bench::Check;

uint64_t ReadVarint(const uint8_t** p, const uint8_t* end) {
  uint64_t value = 0;
  for (int shift = 0; *p < end && shift < 64; shift += 7) {
    const uint8_t byte = *(*p)++;
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) break;
  }
  return value;
}

// One subscriber: counts events and remembers the last position. A generic
// call that reads the messages' bytes without parsing them (only each
// SubscribedEvent's leading position field and the next tag).
class Subscriber final
    : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  Subscriber(grpc::GenericStub& stub, const v1::SubscribeEventsRequest& request,
             bool batched)
      : batched_(batched) {
    sequencer::bench::AddBenchMetadata(&context_);
    const std::string bytes = request.SerializeAsString();
    grpc::Slice slice(bytes);
    request_ = grpc::ByteBuffer(&slice, 1);
    stub.PrepareBidiStreamingCall(
        &context_,
        batched ? "/sequencer.v1.SubscriptionService/SubscribeEventBatches"
                : "/sequencer.v1.SubscriptionService/SubscribeEvents",
        grpc::StubOptions(), this);
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&message_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    std::vector<grpc::Slice> slices;
    if (message_.Dump(&slices).ok() && !slices.empty()) {
      const uint8_t* p = slices[0].begin();
      const uint8_t* end = slices[0].end();
      if (slices.size() > 1) {
        joined_.clear();
        for (const grpc::Slice& slice : slices) {
          joined_.append(reinterpret_cast<const char*>(slice.begin()),
                         slice.size());
        }
        p = reinterpret_cast<const uint8_t*>(joined_.data());
        end = p + joined_.size();
      }
      if (!batched_) {
        Count(p, end);
      } else {
        while (p < end && *p == 0x0a) {  // field 1 (events), length-delimited
          ++p;
          const uint64_t size = ReadVarint(&p, end);
          if (size > static_cast<uint64_t>(end - p)) break;
          Count(p, p + size);
          p += size;
        }
      }
      messages_.fetch_add(1, std::memory_order_relaxed);
    }
    StartRead(&message_);
  }

  void OnDone(const grpc::Status& status) override {
    absl::MutexLock lock(&mu_);
    done_ = true;
  }

  void Cancel() { context_.TryCancel(); }
  void AwaitDone() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
  }

  bool caught_up() const { return caught_up_.load(); }
  uint64_t events() const { return events_.load(); }
  uint64_t messages() const { return messages_.load(); }
  uint64_t last() const { return last_.load(std::memory_order_acquire); }

 private:
  // One SubscribedEvent's bytes.
  void Count(const uint8_t* p, const uint8_t* end) {
    uint64_t position = 0;
    if (p < end && *p == 0x08) {  // field 1 (position), varint
      ++p;
      position = ReadVarint(&p, end);
    }
    if (p < end && *p == 0x32) {  // field 6 (caught_up)
      caught_up_.store(true);
    } else {
      events_.fetch_add(1, std::memory_order_relaxed);
    }
    last_.store(position, std::memory_order_release);
  }

  const bool batched_;
  grpc::ClientContext context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer message_;
  std::string joined_;
  std::atomic<bool> caught_up_{false};
  std::atomic<uint64_t> events_{0};
  std::atomic<uint64_t> messages_{0};
  std::atomic<uint64_t> last_{0};
  absl::Mutex mu_;
  bool done_ = false;
};

// Waits (bounded) until `done` holds; false on timeout.
template <typename Predicate>
bool WaitFor(Predicate done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

// A child process that takes one command per line and answers one line.
struct Child {
  pid_t pid = 0;
  FILE* commands = nullptr;
  FILE* answers = nullptr;

  std::string Ask(const std::string& command) {
    std::fprintf(commands, "%s\n", command.c_str());
    std::fflush(commands);
    char line[4096];
    if (std::fgets(line, sizeof(line), answers) == nullptr) {
      std::fprintf(stderr, "child %d went away\n", static_cast<int>(pid));
      std::exit(1);
    }
    std::string answer(line);
    while (!answer.empty() && answer.back() == '\n') answer.pop_back();
    return answer;
  }

  // Ends the child's loop (no answer).
  void Quit() {
    std::fprintf(commands, "quit\n");
    std::fflush(commands);
    waitpid(pid, nullptr, 0);
  }

  // User + system CPU seconds so far (/proc/<pid>/stat).
  double CpuSeconds() const {
    std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
    std::string text((std::istreambuf_iterator<char>(stat)),
                     std::istreambuf_iterator<char>());
    const size_t close = text.rfind(')');
    if (close == std::string::npos) return 0;
    std::vector<std::string> fields =
        absl::StrSplit(text.substr(close + 2), ' ');
    double utime = 0;
    double stime = 0;
    // Fields 14 and 15 of stat; the list starts at field 3.
    if (fields.size() < 13 || !absl::SimpleAtod(fields[11], &utime) ||
        !absl::SimpleAtod(fields[12], &stime)) {
      return 0;
    }
    return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
};

// Forks a child that runs `serve(command) -> answer` per line until "quit".
template <typename Serve>
Child Fork(Serve serve) {
  int to_child[2];
  int from_child[2];
  if (pipe(to_child) != 0 || pipe(from_child) != 0) std::exit(1);
  const pid_t pid = fork();
  if (pid < 0) std::exit(1);
  if (pid == 0) {
    close(to_child[1]);
    close(from_child[0]);
    FILE* in = fdopen(to_child[0], "r");
    FILE* out = fdopen(from_child[1], "w");
    char line[4096];
    while (std::fgets(line, sizeof(line), in) != nullptr) {
      std::string command(line);
      while (!command.empty() && command.back() == '\n') command.pop_back();
      if (command == "quit") break;
      std::fprintf(out, "%s\n", serve(command).c_str());
      std::fflush(out);
    }
    std::_Exit(0);
  }
  close(to_child[0]);
  close(from_child[1]);
  return Child{pid, fdopen(to_child[1], "w"), fdopen(from_child[0], "r")};
}

// The writers' process: "setup ADDRESS", "write SECONDS WRITERS" -> "CALLS".
class WriterProcess {
 public:
  std::string Serve(const std::string& command) {
    std::vector<std::string> words = absl::StrSplit(command, ' ');
    if (words[0] == "setup") {
      auto channel =
          grpc::CreateChannel(words[1], grpc::InsecureChannelCredentials());
      sequences_ = v1::SequenceService::NewStub(channel);
      recipients_ = v1::RecipientService::NewStub(channel);
      sequencer::bench::CreateBenchSequence(*sequences_);
      return "ok";
    }
    int seconds = 0;
    int writers = 0;
    if (words[0] != "write" || words.size() != 3 ||
        !absl::SimpleAtoi(words[1], &seconds) ||
        !absl::SimpleAtoi(words[2], &writers)) {
      return "bad command";
    }
    std::atomic<int64_t> done{0};
    const absl::Time end = absl::Now() + absl::Seconds(seconds);
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w) {
      threads.emplace_back([&] {
        while (absl::Now() < end) {
          const int64_t id = next_id_.fetch_add(1);
          v1::EnrollRecipientsRequest request;
          request.set_request_id(absl::StrCat("enroll-", id));
          request.set_sequence_id("seq");
          v1::RecipientInput* recipient = request.add_recipients();
          recipient->set_recipient_id(absl::StrCat("r", id));
          recipient->mutable_contact()->set_email(
              absl::StrCat("r", id, "@example.com"));
          (*recipient->mutable_variables())["first_name"] = "Ann";
          grpc::ClientContext context;
          sequencer::bench::AddBenchMetadata(&context);
          v1::EnrollRecipientsResponse response;
          Check(recipients_->EnrollRecipients(&context, request, &response),
                "Enroll");
          done.fetch_add(1);
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    return absl::StrCat(done.load());
  }

 private:
  std::unique_ptr<v1::SequenceService::Stub> sequences_;
  std::unique_ptr<v1::RecipientService::Stub> recipients_;
  std::atomic<int64_t> next_id_{0};
};

// The subscribers' process: "start ADDRESS N" (live subscribers from now,
// answers once all are live), "await POSITION" -> "EVENTS MESSAGES ALL"
// (events delivered to all so far; ALL 1 when every one reached POSITION
// within 2 minutes), "stop", "catchup ADDRESS" -> "EVENTS SECONDS".
class SubscriberProcess {
 public:
  explicit SubscriberProcess(bool batched) : batched_(batched) {}

  std::string Serve(const std::string& command) {
    std::vector<std::string> words = absl::StrSplit(command, ' ');
    if (words[0] == "start" && words.size() == 3) {
      int level = 0;
      if (!absl::SimpleAtoi(words[2], &level)) return "bad command";
      Connect(words[1]);
      v1::SubscribeEventsRequest request;
      request.set_from_now(true);
      for (int i = 0; i < level; ++i) {
        subscribers_.push_back(std::make_unique<Subscriber>(
            *stubs_[i % stubs_.size()], request, batched_));
      }
      const bool live = WaitFor(
          [&] {
            return std::all_of(subscribers_.begin(), subscribers_.end(),
                               [](const auto& s) { return s->caught_up(); });
          },
          absl::Minutes(1));
      return live ? "ok" : "not live";
    }
    if (words[0] == "await" && words.size() == 2) {
      uint64_t last = 0;
      if (!absl::SimpleAtoi(words[1], &last)) return "bad command";
      const bool all = WaitFor(
          [&] {
            return std::all_of(
                subscribers_.begin(), subscribers_.end(),
                [last](const auto& s) { return s->last() >= last; });
          },
          absl::Minutes(2));
      uint64_t events = 0;
      uint64_t messages = 0;
      for (const auto& s : subscribers_) {
        events += s->events();
        messages += s->messages();
      }
      return absl::StrCat(events, " ", messages, " ", all ? 1 : 0);
    }
    if (words[0] == "stop") {
      for (auto& s : subscribers_) s->Cancel();
      for (auto& s : subscribers_) s->AwaitDone();
      subscribers_.clear();
      return "ok";
    }
    if (words[0] == "catchup" && words.size() == 2) {
      Connect(words[1]);
      v1::SubscribeEventsRequest request;
      request.set_from_start(true);
      const absl::Time start = absl::Now();
      Subscriber reader(*stubs_[0], request, batched_);
      WaitFor([&] { return reader.caught_up(); }, absl::Minutes(5));
      const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
      const uint64_t events = reader.events();
      reader.Cancel();
      reader.AwaitDone();
      return absl::StrCat(events, " ", elapsed);
    }
    return "bad command";
  }

 private:
  void Connect(const std::string& address) {
    if (!stubs_.empty()) return;
    for (int i = 0; i < absl::GetFlag(FLAGS_connections); ++i) {
      grpc::ChannelArguments args;
      args.SetInt("bench.connection", i);
      args.SetMaxReceiveMessageSize(64 << 20);
      stubs_.push_back(
          std::make_unique<grpc::GenericStub>(grpc::CreateCustomChannel(
              address, grpc::InsecureChannelCredentials(), args)));
    }
  }

  const bool batched_;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs_;
  std::vector<std::unique_ptr<Subscriber>> subscribers_;
};

double CpuSecondsOfThisProcess() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
         usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

struct Measurement {
  double writes_per_s = 0;
  double writes = 0;
  double delivered = 0;
  double messages = 0;
  double delivered_per_s = 0;
  double server_cpu = 0;
  double subscriber_cpu = 0;
  double writer_cpu = 0;
  bool all = true;
};

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::vector<int> levels;
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_subscribers), ',')) {
    int n = 0;
    if (absl::SimpleAtoi(part, &n) && n > 0) levels.push_back(n);
  }
  const int seconds = absl::GetFlag(FLAGS_seconds);
  const int writers = absl::GetFlag(FLAGS_writers);
  const int runs = std::max(1, absl::GetFlag(FLAGS_runs));
  const bool batched = absl::GetFlag(FLAGS_rpc) != "events";

  // Before anything starts gRPC's threads.
  auto writer_process = std::make_shared<WriterProcess>();
  Child writer_child = Fork([writer_process](const std::string& command) {
    return writer_process->Serve(command);
  });
  auto subscriber_process = std::make_shared<SubscriberProcess>(batched);
  Child subscriber_child =
      Fork([subscriber_process](const std::string& command) {
        return subscriber_process->Serve(command);
      });
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  char pattern[] = "/tmp/subscription_bench_XXXXXX";
  const std::string dir = mkdtemp(pattern);
  sequencer::server::ServerOptions options;
  if (absl::GetFlag(FLAGS_round_us) >= 0) {
    options.subscription_round_interval =
        absl::Microseconds(absl::GetFlag(FLAGS_round_us));
  }
  auto bench = sequencer::bench::StartInProcessServer(dir, options);
  if (bench == nullptr) return 1;
  sequencer::server::SequencerServer& running = *bench->server;
  sequencer::eventstore::RocksDbEventStore* store = bench->store.get();
  const std::string address = running.address();

  if (writer_child.Ask("setup " + address) != "ok") return 1;
  const std::string write = absl::StrCat("write ", seconds, " ", writers);
  writer_child.Ask(absl::StrCat("write 1 ", writers));  // warm-up

  // One measurement: `level` subscribers (0: none) live while the writers
  // write for `seconds`, until every subscriber has every event.
  auto measure = [&](int level) {
    Measurement m;
    if (level > 0 && subscriber_child.Ask(
                         absl::StrCat("start ", address, " ", level)) != "ok") {
      std::fprintf(stderr, "subscribers did not go live\n");
      std::exit(1);
    }
    const double server_cpu = CpuSecondsOfThisProcess();
    const double subscriber_cpu = subscriber_child.CpuSeconds();
    const double writer_cpu = writer_child.CpuSeconds();
    const uint64_t first = store->LastPosition();
    const absl::Time start = absl::Now();
    double writes = 0;
    absl::SimpleAtod(writer_child.Ask(write), &writes);
    const double write_seconds = absl::ToDoubleSeconds(absl::Now() - start);
    const uint64_t last = store->LastPosition();
    if (level > 0) {
      std::vector<std::string> answer = absl::StrSplit(
          subscriber_child.Ask(absl::StrCat("await ", last)), ' ');
      if (answer.size() != 3 || !absl::SimpleAtod(answer[0], &m.delivered) ||
          !absl::SimpleAtod(answer[1], &m.messages)) {
        std::exit(1);
      }
      m.all = answer[2] == "1";
      if (m.delivered != static_cast<double>(last - first) * level) {
        std::printf("  delivered %.0f, expected %llu\n", m.delivered,
                    static_cast<unsigned long long>((last - first) * level));
      }
    }
    const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
    m.server_cpu = CpuSecondsOfThisProcess() - server_cpu;
    m.subscriber_cpu = subscriber_child.CpuSeconds() - subscriber_cpu;
    m.writer_cpu = writer_child.CpuSeconds() - writer_cpu;
    m.writes = writes;
    m.writes_per_s = writes / write_seconds;
    m.delivered_per_s = m.delivered / elapsed;
    if (level > 0) subscriber_child.Ask("stop");
    return m;
  };

  std::printf(
      "%d writers (own process), one event per call, %d s per measurement, "
      "%s, subscribers in their own process, rounds every %.1f ms\n",
      writers, seconds,
      batched ? "SubscribeEventBatches" : "SubscribeEvents (one per message)",
      absl::ToDoubleMilliseconds(options.subscription_round_interval));
  std::printf("%5s %5s %10s %8s %13s %10s %11s %12s %12s\n", "round", "subs",
              "writes/s", "vs none", "delivered/s", "ev/msg", "server us/w",
              "server us/ev", "client us/ev");
  std::vector<std::vector<double>> ratios(levels.size());
  std::vector<std::vector<double>> rates(levels.size());
  std::vector<std::vector<double>> costs(levels.size());
  for (int round = 1; round <= runs; ++round) {
    // Odd rounds measure none first, even rounds last, so that a drift of
    // the machine's load within a round does not favour one side.
    std::vector<Measurement> measured(levels.size());
    Measurement none;
    if (round % 2 == 0) {
      for (size_t l = levels.size(); l-- > 0;) measured[l] = measure(levels[l]);
    }
    none = measure(0);
    if (round % 2 == 1) {
      for (size_t l = 0; l < levels.size(); ++l)
        measured[l] = measure(levels[l]);
    }
    const double cpu_per_write = none.server_cpu / none.writes;
    std::printf("%5d %5d %10.0f %8.3f %13s %10s %11.1f %12s %12s\n", round, 0,
                none.writes_per_s, 1.0, "-", "-", cpu_per_write * 1e6, "-",
                "-");
    for (size_t l = 0; l < levels.size(); ++l) {
      const Measurement& m = measured[l];
      const double ratio = m.writes_per_s / none.writes_per_s;
      const double delivery_cpu = m.server_cpu - cpu_per_write * m.writes;
      const double per_event = delivery_cpu / m.delivered;
      ratios[l].push_back(ratio);
      rates[l].push_back(m.delivered_per_s);
      costs[l].push_back(per_event * 1e6);
      std::printf("%5d %5d %10.0f %8.3f %13.0f %10.1f %11.1f %12.2f %12.2f%s\n",
                  round, levels[l], m.writes_per_s, ratio, m.delivered_per_s,
                  m.delivered / std::max(1.0, m.messages),
                  m.server_cpu / m.writes * 1e6, per_event * 1e6,
                  m.subscriber_cpu / m.delivered * 1e6,
                  m.all ? "" : "  (not all delivered within 2 min)");
    }
  }
  std::printf("summary over %d rounds (min / median / max):\n", runs);
  for (size_t l = 0; l < levels.size(); ++l) {
    auto [rmin, rmax] = std::minmax_element(ratios[l].begin(), ratios[l].end());
    auto [dmin, dmax] = std::minmax_element(rates[l].begin(), rates[l].end());
    auto [cmin, cmax] = std::minmax_element(costs[l].begin(), costs[l].end());
    std::printf(
        "  %3d subscribers: writers vs none %.3f / %.3f / %.3f; delivered "
        "ev/s %.0f / %.0f / %.0f; server CPU per delivered event (us) %.2f / "
        "%.2f / %.2f\n",
        levels[l], *rmin, Median(ratios[l]), *rmax, *dmin, Median(rates[l]),
        *dmax, *cmin, Median(costs[l]), *cmax);
  }

  // Catch-up: one subscriber reads the whole log from the start.
  {
    const uint64_t last = store->LastPosition();
    std::vector<std::string> answer =
        absl::StrSplit(subscriber_child.Ask("catchup " + address), ' ');
    double events = 0;
    double elapsed = 0;
    if (answer.size() == 2 && absl::SimpleAtod(answer[0], &events) &&
        absl::SimpleAtod(answer[1], &elapsed)) {
      std::printf("catch-up from the start: %.0f events in %.2f s, %.0f ev/s\n",
                  events, elapsed, events / elapsed);
      if (events != static_cast<double>(last)) {
        std::printf("  expected %llu\n", static_cast<unsigned long long>(last));
      }
    }
  }
  writer_child.Quit();
  subscriber_child.Quit();
  running.Shutdown();
  bench->server.reset();
  bench->store.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
