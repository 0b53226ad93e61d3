// End-to-end throughput of recipient actions through gRPC with durable commits,
// by number of concurrent clients; and the time of one 10,000-recipient
// enrollment.
//
// A real server (RocksDB, loopback gRPC on a free port, manual clock) runs
// in-process. Each client thread pauses then resumes its own recipients. The
// ceiling is one client measured in the same run, so figures are ratios: they
// show whether concurrent calls share fsyncs end to end. A bulk pause or
// resume of 10,000 is compared with one durable commit of the very writes it
// made (copied from the server's store) into a fresh store.
//
//   build/server_actions_bench [--seconds=2] [--clients=1,4,16,64]

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "app/runtime/clock.h"
#include "app/runtime/id_generator.h"
#include "bench/bench_client.h"
#include "eventstore/rocksdb_event_store.h"
#include "grpcpp/grpcpp.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "server/sequencer_server.h"
#include "tests/util/forwarding_event_store.h"

ABSL_FLAG(double, seconds, 2.0, "measuring time per concurrency level");
ABSL_FLAG(std::string, clients, "1,4,16,64", "concurrency levels");

namespace {

namespace v1 = sequencer::v1;
using sequencer::bench::Check;
constexpr int kRecipientsPerClient = 8;

// Forwards to the server's store and keeps a copy of the last commit that
// appended to at least 10,000 streams (a bulk action's one write).
class RecordingStore : public sequencer::testing::ForwardingEventStore {
 public:
  using ForwardingEventStore::ForwardingEventStore;

  absl::StatusOr<sequencer::eventstore::CommitResult> Commit(
      const sequencer::eventstore::CommitBatch& batch) override {
    if (batch.appends.size() >= 10000) {
      absl::MutexLock lock(&mu_);
      last_bulk_ = batch;
    }
    return ForwardingEventStore::Commit(batch);
  }

  sequencer::eventstore::CommitBatch last_bulk() {
    absl::MutexLock lock(&mu_);
    return last_bulk_;
  }

 private:
  absl::Mutex mu_;
  sequencer::eventstore::CommitBatch last_bulk_ ABSL_GUARDED_BY(mu_);
};

// Seconds for one durable Commit of `batch` (every expected version
// dropped) into a fresh RocksDB store under `dir`: the write a bulk action
// cannot avoid.
double CommitSeconds(const std::string& dir,
                     sequencer::eventstore::CommitBatch batch) {
  for (auto& append : batch.appends) {
    append.expected_version = sequencer::eventstore::kAnyVersion;
  }
  auto store = sequencer::eventstore::RocksDbEventStore::Open(dir);
  if (!store.ok()) std::exit(1);
  const auto start = std::chrono::steady_clock::now();
  if (!(*store)->Commit(batch).ok()) std::exit(1);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // As sequencerd does (its --mutex_deadlock_detection flag): Debian's Abseil
  // checks every lock against a global lock graph unless told not to.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<int> levels;
  int max_clients = 1;
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_clients), ',')) {
    int n = 0;
    if (absl::SimpleAtoi(part, &n) && n > 0) {
      levels.push_back(n);
      max_clients = std::max(max_clients, n);
    }
  }
  char pattern[] = "/tmp/server_actions_bench_XXXXXX";
  const std::string dir = mkdtemp(pattern);
  auto rocksdb_store =
      sequencer::eventstore::RocksDbEventStore::Open(dir + "/db");
  if (!rocksdb_store.ok()) return 1;
  RecordingStore store(rocksdb_store->get());
  sequencer::app::ManualClock clock;
  sequencer::app::SequentialIdGenerator ids;
  sequencer::server::ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  auto server = sequencer::server::SequencerServer::Start(options, &store,
                                                          &clock, &clock, &ids);
  if (!server.ok()) return 1;
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(
      (*server)->address(), grpc::InsecureChannelCredentials(), args);
  auto sequences = v1::SequenceService::NewStub(channel);
  auto recipients = v1::RecipientService::NewStub(channel);

  v1::CreateSequenceRequest create;
  create.set_request_id("create");
  create.set_sequence_id("bench");
  create.set_name("bench");
  auto* step = create.add_steps();
  step->set_type(v1::STEP_TYPE_EMAIL);
  step->mutable_delay()->set_seconds(86400);
  step->mutable_content()->set_subject("Hi {{first_name}}");
  v1::CreateSequenceResponse created;
  Check(sequences->CreateSequence(sequencer::bench::BenchContext().get(),
                                  create, &created),
        "create");

  // One enrollment of 10,000 recipients: one atomic, durable write.
  v1::EnrollRecipientsRequest enroll;
  enroll.set_request_id("enroll");
  enroll.set_sequence_id("bench");
  const int total = std::max(10000, max_clients * kRecipientsPerClient);
  for (int i = 0; i < total; ++i) {
    auto* r = enroll.add_recipients();
    r->set_recipient_id(absl::StrCat("r", i));
    (*r->mutable_variables())["first_name"] = "Ada";
  }
  // Enroll in chunks of at most 10,000; the first chunk is the timed one.
  const auto enroll_start = std::chrono::steady_clock::now();
  for (int first = 0; first < total; first += 10000) {
    v1::EnrollRecipientsRequest chunk;
    chunk.set_request_id(absl::StrCat("enroll-", first));
    chunk.set_sequence_id("bench");
    for (int i = first; i < std::min(total, first + 10000); ++i) {
      *chunk.add_recipients() = enroll.recipients(i);
    }
    v1::EnrollRecipientsResponse enrolled;
    Check(recipients->EnrollRecipients(sequencer::bench::BenchContext().get(),
                                       chunk, &enrolled),
          "enroll");
    if (first == 0) {
      std::printf("enroll 10,000 recipients in one call: %.3f s\n",
                  std::chrono::duration<double>(
                      std::chrono::steady_clock::now() - enroll_start)
                      .count());
    }
  }

  // Bulk pause then bulk resume of the first 10,000: one atomic write each.
  // The ceiling is one single-recipient pause in the same run.
  {
    auto time_call = [](auto&& call) {
      const auto start = std::chrono::steady_clock::now();
      call();
      return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                           start)
          .count();
    };
    const double single =
        time_call([&] {
          v1::RecipientActionRequest request;
          request.set_request_id("single-pause");
          request.set_sequence_id("bench");
          request.set_recipient_id("r0");
          v1::Recipient out;
          Check(recipients->PauseRecipient(
                    sequencer::bench::BenchContext().get(), request, &out),
                "pause");
          request.set_request_id("single-resume");
          Check(recipients->ResumeRecipient(
                    sequencer::bench::BenchContext().get(), request, &out),
                "resume");
        }) /
        2;
    for (v1::BulkActionType type :
         {v1::BULK_ACTION_TYPE_PAUSE, v1::BULK_ACTION_TYPE_RESUME}) {
      v1::BulkActionRequest bulk;
      bulk.set_request_id(absl::StrCat("bulk-", type));
      bulk.set_sequence_id("bench");
      bulk.set_action(type);
      for (int i = 0; i < 10000; ++i) {
        bulk.add_recipient_ids(absl::StrCat("r", i));
      }
      v1::BulkActionResponse done;
      const double seconds = time_call([&] {
        Check(recipients->BulkAction(sequencer::bench::BenchContext().get(),
                                     bulk, &done),
              "bulk");
      });
      const double ceiling = CommitSeconds(absl::StrCat(dir, "/ceiling-", type),
                                           store.last_bulk());
      std::printf(
          "bulk %s of 10,000 recipients: %.3f s = %.2f x one durable commit "
          "of the same writes into a fresh store (%.3f s); %.0f x one "
          "single-recipient action (%.4f s)\n",
          type == v1::BULK_ACTION_TYPE_PAUSE ? "pause" : "resume", seconds,
          seconds / ceiling, ceiling, seconds / single, single);
    }
  }

  std::atomic<uint64_t> request_counter{0};
  auto run = [&](int clients) {
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> calls{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        std::vector<bool> paused(kRecipientsPerClient, false);
        while (!stop.load(std::memory_order_relaxed)) {
          for (int k = 0; k < kRecipientsPerClient && !stop; ++k) {
            v1::RecipientActionRequest request;
            request.set_request_id(
                absl::StrCat("q", request_counter.fetch_add(1)));
            request.set_sequence_id("bench");
            request.set_recipient_id(
                absl::StrCat("r", c * kRecipientsPerClient + k));
            v1::Recipient out;
            grpc::Status status =
                paused[k]
                    ? recipients->ResumeRecipient(
                          sequencer::bench::BenchContext().get(), request, &out)
                    : recipients->PauseRecipient(
                          sequencer::bench::BenchContext().get(), request,
                          &out);
            Check(status, "action");
            paused[k] = !paused[k];
            calls.fetch_add(1, std::memory_order_relaxed);
          }
        }
        // Leave every recipient running for the next level.
        for (int k = 0; k < kRecipientsPerClient; ++k) {
          if (paused[k]) {
            v1::RecipientActionRequest request;
            request.set_request_id(
                absl::StrCat("q", request_counter.fetch_add(1)));
            request.set_sequence_id("bench");
            request.set_recipient_id(
                absl::StrCat("r", c * kRecipientsPerClient + k));
            v1::Recipient out;
            recipients->ResumeRecipient(sequencer::bench::BenchContext().get(),
                                        request, &out);
          }
        }
      });
    }
    const auto start = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(
        std::chrono::duration<double>(absl::GetFlag(FLAGS_seconds)));
    stop = true;
    for (auto& t : threads) t.join();
    return calls.load() / std::chrono::duration<double>(
                              std::chrono::steady_clock::now() - start)
                              .count();
  };

  const double ceiling = run(1);
  std::printf("ceiling: 1 client, %.0f durable actions/s\n", ceiling);
  std::printf("%8s %12s %16s\n", "clients", "actions/s", "x one client");
  for (int clients : levels) {
    const double rate = run(clients);
    std::printf("%8d %12.0f %16.2f\n", clients, rate, rate / ceiling);
  }
  // Deletion erases: one recipient, then a bulk delete of the others, up to
  // 10,000 (the
  // confirmed call), against the bulk pause above. The purge of the files
  // runs on the server's own thread and is timed apart.
  {
    const auto timed = [](auto&& call) {
      const auto start = std::chrono::steady_clock::now();
      call();
      return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                           start)
          .count();
    };
    const double single = timed([&] {
      v1::RecipientActionRequest request;
      request.set_request_id("single-delete");
      request.set_sequence_id("bench");
      request.set_recipient_id(absl::StrCat("r", total - 1));
      v1::DeleteRecipientResponse out;
      Check(recipients->DeleteRecipient(sequencer::bench::BenchContext().get(),
                                        request, &out),
            "delete");
    });
    v1::BulkActionRequest bulk;
    bulk.set_request_id("bulk-delete-first");
    bulk.set_sequence_id("bench");
    bulk.set_action(v1::BULK_ACTION_TYPE_DELETE);
    const int bulk_count = std::min(10000, total - 1);
    for (int i = 0; i < bulk_count; ++i) {
      bulk.add_recipient_ids(absl::StrCat("r", i));
    }
    v1::BulkActionResponse first;
    Check(recipients->BulkAction(sequencer::bench::BenchContext().get(), bulk,
                                 &first),
          "bulk delete");
    bulk.set_request_id("bulk-delete");
    bulk.set_confirmation_token(first.confirmation().token());
    v1::BulkActionResponse done;
    const double seconds = timed([&] {
      Check(recipients->BulkAction(sequencer::bench::BenchContext().get(), bulk,
                                   &done),
            "bulk delete");
    });
    const double purge =
        timed([&] { (void)rocksdb_store->get()->PurgeErased(); });
    std::printf(
        "delete (erase) 1 recipient: %.4f s; bulk delete of %d: %.3f s; "
        "then the purge of what remained to purge: %.3f s\n",
        single, bulk_count, seconds, purge);
  }

  (*server)->Shutdown();
  server->reset();
  rocksdb_store->reset();
  std::filesystem::remove_all(dir);
  return 0;
}
