// Event subscriptions (issue 12): events per second delivered to 1 and to
// 100 live subscribers while writers run at full speed, and the writers'
// throughput with those subscribers as a ratio of their throughput with none,
// measured in the same run; then the catch-up rate of one subscriber reading
// the whole log from the start.
//
// A real server (RocksDB in a temporary directory, loopback gRPC on a free
// port, manual clock) runs in-process. Writers enroll one recipient per call
// (one event, one durable commit each, group-committed); subscribers are
// callback clients spread over several connections, counting what arrives
// without parsing it. Everything shares the machine's cores.
//
//   build/subscription_bench [--seconds=5] [--writers=16]
//                            [--subscribers=1,100]

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
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
#include "eventstore/rocksdb_event_store.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "sequencer/v1/subscriptions.grpc.pb.h"
#include "server/sequencer_server.h"

ABSL_FLAG(int, seconds, 5, "seconds of writing per measurement");
ABSL_FLAG(int, writers, 16, "concurrent writer threads");
ABSL_FLAG(std::string, subscribers, "1,100",
          "numbers of live subscribers measured");
ABSL_FLAG(int, connections, 10, "client connections subscribers use");

namespace {

namespace v1 = sequencer::v1;

void AddMetadata(grpc::ClientContext* context) {
  context->AddMetadata("x-tenant-id", "bench");
  context->AddMetadata("x-actor", "bench");
}

void Check(const grpc::Status& status, const char* what) {
  if (!status.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, status.error_message().c_str());
    std::exit(1);
  }
}

// One subscriber: counts events and remembers the last position. A generic
// call that reads the messages' bytes without parsing them (only the leading
// position field and the next tag), so that the client's share of the
// machine's cores stays small next to the server's.
class Subscriber final
    : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  Subscriber(grpc::GenericStub& stub,
             const v1::SubscribeEventsRequest& request) {
    AddMetadata(&context_);
    const std::string bytes = request.SerializeAsString();
    grpc::Slice slice(bytes);
    request_ = grpc::ByteBuffer(&slice, 1);
    stub.PrepareBidiStreamingCall(
        &context_, "/sequencer.v1.SubscriptionService/SubscribeEvents",
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
      uint64_t position = 0;
      if (p < end && *p == 0x08) {  // field 1 (position), varint
        ++p;
        for (int shift = 0; p < end; shift += 7) {
          position |= static_cast<uint64_t>(*p & 0x7f) << shift;
          if ((*p++ & 0x80) == 0) break;
        }
      }
      if (p < end && *p == 0x32) {  // field 6 (caught_up)
        caught_up_.store(true);
      } else {
        events_.fetch_add(1, std::memory_order_relaxed);
      }
      last_.store(position, std::memory_order_release);
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
  uint64_t last() const { return last_.load(std::memory_order_acquire); }

 private:
  grpc::ClientContext context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer message_;
  std::atomic<bool> caught_up_{false};
  std::atomic<uint64_t> events_{0};
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

// Writers enroll one recipient per call for `seconds`; returns calls/s.
double Write(v1::RecipientService::Stub& stub, int writers, int seconds,
             std::atomic<int64_t>* next_id) {
  std::atomic<int64_t> done{0};
  const absl::Time end = absl::Now() + absl::Seconds(seconds);
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&] {
      while (absl::Now() < end) {
        const int64_t id = next_id->fetch_add(1);
        v1::EnrollRecipientsRequest request;
        request.set_request_id(absl::StrCat("enroll-", id));
        request.set_sequence_id("seq");
        v1::RecipientInput* recipient = request.add_recipients();
        recipient->set_recipient_id(absl::StrCat("r", id));
        recipient->mutable_contact()->set_email(
            absl::StrCat("r", id, "@example.com"));
        (*recipient->mutable_variables())["first_name"] = "Ann";
        grpc::ClientContext context;
        AddMetadata(&context);
        v1::EnrollRecipientsResponse response;
        Check(stub.EnrollRecipients(&context, request, &response), "Enroll");
        done.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  return done.load() / absl::ToDoubleSeconds(absl::Now() - start);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<int> levels;
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_subscribers), ',')) {
    int n = 0;
    if (absl::SimpleAtoi(part, &n) && n > 0) levels.push_back(n);
  }
  const int seconds = absl::GetFlag(FLAGS_seconds);
  const int writers = absl::GetFlag(FLAGS_writers);

  char pattern[] = "/tmp/subscription_bench_XXXXXX";
  const std::string dir = mkdtemp(pattern);
  auto store = sequencer::eventstore::RocksDbEventStore::Open(dir + "/db");
  if (!store.ok()) return 1;
  sequencer::app::ManualClock clock;
  sequencer::app::SequentialIdGenerator ids;
  sequencer::server::ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  auto server = sequencer::server::SequencerServer::Start(options, store->get(),
                                                          &clock, &clock, &ids);
  if (!server.ok()) return 1;
  sequencer::server::SequencerServer& running = **server;

  auto channel = grpc::CreateChannel(running.address(),
                                     grpc::InsecureChannelCredentials());
  auto sequences = v1::SequenceService::NewStub(channel);
  auto recipients = v1::RecipientService::NewStub(channel);
  {
    v1::CreateSequenceRequest request;
    request.set_request_id("create");
    request.set_sequence_id("seq");
    request.set_name("bench");
    v1::StepDefinition* step = request.add_steps();
    step->set_type(v1::STEP_TYPE_EMAIL);
    *step->mutable_delay() = sequencer::app::ToProtoDuration(absl::Hours(1));
    step->mutable_content()->set_subject("Hi");
    step->mutable_content()->set_body("Body");
    grpc::ClientContext context;
    AddMetadata(&context);
    v1::CreateSequenceResponse response;
    Check(sequences->CreateSequence(&context, request, &response),
          "CreateSequence");
  }
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  for (int i = 0; i < absl::GetFlag(FLAGS_connections); ++i) {
    grpc::ChannelArguments args;
    args.SetInt("bench.connection", i);
    stubs.push_back(
        std::make_unique<grpc::GenericStub>(grpc::CreateCustomChannel(
            running.address(), grpc::InsecureChannelCredentials(), args)));
  }

  std::atomic<int64_t> next_id{0};
  Write(*recipients, writers, 1, &next_id);  // warm-up
  const double alone = Write(*recipients, writers, seconds, &next_id);
  std::printf("%d writers, one event per call, %d s per measurement\n", writers,
              seconds);
  std::printf("%12s %14s %10s %16s %16s\n", "subscribers", "writes/s",
              "vs none", "delivered ev/s", "per subscriber");
  std::printf("%12d %14.0f %10.3f %16s %16s\n", 0, alone, 1.0, "-", "-");

  for (int level : levels) {
    std::vector<std::unique_ptr<Subscriber>> subscribers;
    v1::SubscribeEventsRequest request;
    request.set_from_now(true);
    for (int i = 0; i < level; ++i) {
      subscribers.push_back(
          std::make_unique<Subscriber>(*stubs[i % stubs.size()], request));
    }
    if (!WaitFor(
            [&] {
              return std::all_of(subscribers.begin(), subscribers.end(),
                                 [](const auto& s) { return s->caught_up(); });
            },
            absl::Minutes(1))) {
      std::fprintf(stderr, "subscribers did not go live\n");
      return 1;
    }
    const uint64_t first = (*store)->LastPosition();
    const absl::Time start = absl::Now();
    const double rate = Write(*recipients, writers, seconds, &next_id);
    const uint64_t last = (*store)->LastPosition();
    const bool all = WaitFor(
        [&] {
          return std::all_of(
              subscribers.begin(), subscribers.end(),
              [last](const auto& s) { return s->last() >= last; });
        },
        absl::Minutes(2));
    const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
    uint64_t delivered = 0;
    for (const auto& s : subscribers) delivered += s->events();
    std::printf("%12d %14.0f %10.3f %16.0f %16.0f%s\n", level, rate,
                rate / alone, delivered / elapsed, delivered / elapsed / level,
                all ? "" : "  (not all delivered within 2 min)");
    if (delivered != (last - first) * level) {
      std::printf("  delivered %llu, expected %llu\n",
                  static_cast<unsigned long long>(delivered),
                  static_cast<unsigned long long>((last - first) * level));
    }
    for (auto& s : subscribers) s->Cancel();
    for (auto& s : subscribers) s->AwaitDone();
  }

  // The writers alone again: how much the machine itself moved meanwhile.
  const double alone_again = Write(*recipients, writers, seconds, &next_id);
  std::printf("%12d %14.0f %10.3f %16s %16s  (again, after)\n", 0, alone_again,
              alone_again / alone, "-", "-");

  // Catch-up: one subscriber reads the whole log from the start.
  {
    const uint64_t last = (*store)->LastPosition();
    v1::SubscribeEventsRequest request;
    request.set_from_start(true);
    const absl::Time start = absl::Now();
    Subscriber reader(*stubs[0], request);
    WaitFor([&] { return reader.caught_up(); }, absl::Minutes(5));
    const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
    std::printf("catch-up from the start: %llu events in %.2f s, %.0f ev/s\n",
                static_cast<unsigned long long>(reader.events()), elapsed,
                reader.events() / elapsed);
    if (reader.events() != last)
      std::printf("  expected %llu\n", static_cast<unsigned long long>(last));
    reader.Cancel();
    reader.AwaitDone();
  }
  running.Shutdown();
  server->reset();
  store->reset();
  std::filesystem::remove_all(dir);
  return 0;
}
