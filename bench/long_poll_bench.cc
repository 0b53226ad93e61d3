// Latency of an ordinary call (GetSequence) while LeaseSteps long polls wait,
// against the same call on the idle server measured in the same run; and the
// time Shutdown takes to answer every waiting poll.
//
// A real server (RocksDB, loopback gRPC on a free port, manual clock so that
// no poll ends by itself) runs in-process. Polls are spread over several
// connections; each level waits until the server holds them all.
//
//   build/long_poll_bench [--calls=2000] [--polls=1000,10000]

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "app/runtime/clock.h"
#include "app/runtime/id_generator.h"
#include "app/storage/event_codec.h"
#include "bench/bench_client.h"
#include "bench/in_process_server.h"
#include "eventstore/rocksdb_event_store.h"
#include "grpcpp/grpcpp.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "server/sequencer_server.h"

ABSL_FLAG(int, calls, 2000, "GetSequence calls measured per level");
ABSL_FLAG(std::string, polls, "1000,10000", "numbers of outstanding polls");
ABSL_FLAG(int, connections, 10, "client connections the polls are spread on");

namespace {

namespace v1 = sequencer::v1;
using sequencer::bench::Check;

struct Latency {
  double p50_ms;
  double p99_ms;
};

Latency MeasureGetSequence(v1::SequenceService::Stub& stub, int calls) {
  std::vector<double> ms;
  ms.reserve(calls);
  v1::GetSequenceRequest request;
  request.set_sequence_id("seq");
  for (int i = 0; i < calls; ++i) {
    grpc::ClientContext context;
    sequencer::bench::AddBenchMetadata(&context);
    v1::Sequence response;
    const absl::Time start = absl::Now();
    Check(stub.GetSequence(&context, request, &response), "GetSequence");
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 99 / 100)]};
}

struct Poll {
  grpc::ClientContext context;
  v1::LeaseStepsRequest request;
  v1::LeaseStepsResponse response;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // As sequencerd does (its --mutex_deadlock_detection flag): Debian's Abseil
  // checks every lock against a global lock graph unless told not to.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<int> levels;
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_polls), ',')) {
    int n = 0;
    if (absl::SimpleAtoi(part, &n) && n > 0) levels.push_back(n);
  }
  std::sort(levels.begin(), levels.end());
  const int calls = absl::GetFlag(FLAGS_calls);

  char pattern[] = "/tmp/long_poll_bench_XXXXXX";
  const std::string dir = mkdtemp(pattern);
  auto bench = sequencer::bench::StartInProcessServer(dir);
  if (bench == nullptr) return 1;
  sequencer::server::SequencerServer& running = *bench->server;

  auto channel = grpc::CreateChannel(running.address(),
                                     grpc::InsecureChannelCredentials());
  auto sequences = v1::SequenceService::NewStub(channel);
  sequencer::bench::CreateBenchSequence(*sequences);

  // Separate connections for the polls (a distinct argument each).
  std::vector<std::unique_ptr<v1::DeliveryService::Stub>> poll_stubs;
  for (int i = 0; i < absl::GetFlag(FLAGS_connections); ++i) {
    grpc::ChannelArguments args;
    args.SetInt("bench.connection", i);
    poll_stubs.push_back(v1::DeliveryService::NewStub(grpc::CreateCustomChannel(
        running.address(), grpc::InsecureChannelCredentials(), args)));
  }

  MeasureGetSequence(*sequences, calls / 4);  // warm-up
  const Latency idle = MeasureGetSequence(*sequences, calls);
  std::printf("GetSequence latency, %d sequential calls per level\n", calls);
  std::printf("%8s %8s %8s %9s %9s %13s\n", "polls", "p50 ms", "p99 ms",
              "p50/idle", "p99/idle", "p99-idle ms");
  std::printf("%8d %8.3f %8.3f %9.2f %9.2f %13.3f\n", 0, idle.p50_ms,
              idle.p99_ms, 1.0, 1.0, 0.0);

  std::vector<std::unique_ptr<Poll>> polls;
  std::atomic<int> answered{0};
  std::atomic<int> answered_ok{0};
  for (int level : levels) {
    while (static_cast<int>(polls.size()) < level) {
      auto poll = std::make_unique<Poll>();
      sequencer::bench::AddBenchMetadata(&poll->context);
      poll->request.set_channel(v1::STEP_TYPE_EMAIL);
      *poll->request.mutable_wait() =
          sequencer::app::ToProtoDuration(absl::Seconds(30));
      Poll* raw = poll.get();
      poll_stubs[polls.size() % poll_stubs.size()]->async()->LeaseSteps(
          &raw->context, &raw->request, &raw->response,
          [&answered, &answered_ok, raw](grpc::Status status) {
            if (status.ok() && raw->response.leases_size() == 0) ++answered_ok;
            ++answered;
          });
      polls.push_back(std::move(poll));
    }
    const bool held = running.polls().AwaitCounts(
        [level](const sequencer::app::PollRegistry::Counts& counts) {
          return counts.waiting == level;
        },
        absl::Minutes(2));
    if (!held) {
      std::fprintf(stderr, "the server holds %d polls, not %d\n",
                   running.polls().counts().waiting, level);
      return 1;
    }
    const Latency busy = MeasureGetSequence(*sequences, calls);
    std::printf("%8d %8.3f %8.3f %9.2f %9.2f %13.3f\n", level, busy.p50_ms,
                busy.p99_ms, busy.p50_ms / idle.p50_ms,
                busy.p99_ms / idle.p99_ms, busy.p99_ms - idle.p99_ms);
  }

  const absl::Time start = absl::Now();
  running.Shutdown();
  const absl::Duration shutdown = absl::Now() - start;
  while (answered.load() < static_cast<int>(polls.size())) {
    std::this_thread::yield();
  }
  std::printf("Shutdown with %zu polls waiting: %.0f ms; %d answered OK\n",
              polls.size(), absl::ToDoubleMilliseconds(shutdown),
              answered_ok.load());
  bench->server.reset();
  bench->store.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
