// How the cost of enrollment, single actions and replay (verify) grows with
// the number of recipients in the store. Every figure is a ratio to a ceiling
// measured in the same run, on the same disk.
//
// For each store size (--small, then --recipients) a real server runs
// in-process (RocksDB with the default RocksDbEventStore::Options, durable
// commits, loopback gRPC on a free port, manual clock) over a fresh store:
//
//   1. Enrollment: one sequence, then EnrollRecipients calls of --enroll_batch
//      recipients until the store holds the size. Reported: recipients/s of
//      the first and the last call, p50/p99 of the call latency. Ceiling: a
//      durable Commit of a batch of the same shape (one event and three index
//      entries per recipient, plus one idempotency record) into an empty
//      scratch store, through the store API.
//   2. Single actions: --clients client threads, one call in flight each,
//      pause or resume a recipient picked at random over the whole store (each
//      client has its own recipients, so no call waits for another's lock).
//      Reported: actions/s, p50/p99 latency. Ceiling: --clients writer
//      threads making durable Commits of the same size as one action (one
//      event, four index writes) into a scratch store.
//   3. Replay: the server is stopped, the store closed and opened read-only
//      as sequencerctl verify does, and ProjectionVerifier::Verify() runs.
//      Reported: events/s. Ceiling: one sequential scan of the store's events
//      (the s/ range, raw RocksDB iterator with readahead) that parses every
//      event as a sequencer.v1.Event.
//
//   build/store_scale_bench [--recipients=1000000] [--small=1000]
//       [--seconds=5] [--clients=64] [--enroll_batch=10000]
//       [--verify=true] [--dir=/tmp/x] [--keep]
//
// --scan_dir=DIR only measures the replay ceiling (the sequential scan) on
// the closed store at DIR, e.g. sequencerd's data directory (bench/run.sh),
// and prints "RESULT scan_events=N scan_rate=R".
//
// With the defaults it runs a few minutes on two cores (most of it enrolling
// the 1,000,000 recipients).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "app/runtime/clock.h"
#include "app/runtime/id_generator.h"
#include "app/storage/projection_verifier.h"
#include "eventstore/rocksdb_event_store.h"
#include "grpcpp/grpcpp.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "sequencer/v1/events.pb.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "server/sequencer_server.h"

ABSL_FLAG(int, recipients, 1000000, "recipients in the large store");
ABSL_FLAG(int, small, 1000, "recipients in the small store (0: skip it)");
ABSL_FLAG(double, seconds, 5.0,
          "measuring time of single actions and of "
          "each ceiling");
ABSL_FLAG(int, clients, 64, "single-action calls in flight");
ABSL_FLAG(int, enroll_batch, 10000, "recipients per EnrollRecipients call");
ABSL_FLAG(bool, verify, true, "measure replay (verify) too");
ABSL_FLAG(std::string, dir, "",
          "scratch directory (default: a fresh one under /tmp)");
ABSL_FLAG(bool, keep, false, "keep the stores (under --dir) after the run");
ABSL_FLAG(std::string, scan_dir, "",
          "only time the sequential scan of the closed store at this "
          "directory, then exit");

namespace {

namespace v1 = sequencer::v1;
using sequencer::eventstore::CommitBatch;
using sequencer::eventstore::RocksDbEventStore;
using Clock = std::chrono::steady_clock;

// CPU seconds this process has used (all threads): the steadier figure on a
// shared machine.
double CpuSeconds() {
  timespec now;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return now.tv_sec + now.tv_nsec * 1e-9;
}

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t i =
      std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  return values[i];
}

void Die(const std::string& what) {
  std::fprintf(stderr, "store_scale_bench: %s\n", what.c_str());
  std::exit(1);
}

void Check(const grpc::Status& status, const char* what) {
  if (!status.ok()) Die(absl::StrCat(what, ": ", status.error_message()));
}

std::unique_ptr<RocksDbEventStore> OpenStore(const std::string& dir,
                                             bool read_only = false) {
  RocksDbEventStore::Options options;
  options.read_only = read_only;
  options.create_if_missing = !read_only;
  auto store = RocksDbEventStore::Open(dir, options);
  if (!store.ok())
    Die(absl::StrCat("open ", dir, ": ", store.status().ToString()));
  return *std::move(store);
}

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("x-tenant-id", "bench");
  context->AddMetadata("x-actor", "bench");
  return context;
}

std::string RecipientId(int i) { return absl::StrCat("r", i); }

// ---- ceilings ---------------------------------------------------------------

// Durable commits of one enrollment-shaped batch of `recipients` recipients
// into an empty store: recipients/s.
double EnrollCeiling(const std::string& dir, int recipients) {
  std::filesystem::remove_all(dir);
  auto store = OpenStore(dir);
  double best = 0;
  for (int round = 0; round < 3; ++round) {
    CommitBatch batch;
    for (int i = 0; i < recipients; ++i) {
      const std::string id = absl::StrCat("c", round, "-", i);
      batch.appends.push_back({absl::StrCat("rcp/bench/bench/", id),
                               0,
                               {{"Enrolled", std::string(160, 'e')}}});
      batch.index_writes.push_back(
          {absl::StrCat("rl/bench/bench/", id), std::string("IN_PROGRESS")});
      batch.index_writes.push_back(
          {absl::StrCat("rs/bench/bench/IN_PROGRESS/", id), std::string()});
      batch.index_writes.push_back(
          {absl::StrCat("due/0000000000001/bench/bench/", id),
           std::string(16, 'd')});
    }
    batch.index_writes.push_back(
        {absl::StrCat("idem/bench/enroll-", round), std::string(64, 'i')});
    const auto start = Clock::now();
    if (!store->Commit(batch).ok()) Die("ceiling commit failed");
    best = std::max(best, recipients / Since(start));
  }
  store.reset();
  std::filesystem::remove_all(dir);
  return best;
}

// `writers` threads making durable commits the size of one action: commits/s.
double ActionCeiling(const std::string& dir, int writers, double seconds) {
  std::filesystem::remove_all(dir);
  auto store = OpenStore(dir);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> commits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < writers; ++t) {
    threads.emplace_back([&, t] {
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const std::string id = absl::StrCat("w", t, "-", n++ % 64);
        CommitBatch batch;
        batch.appends.push_back({absl::StrCat("rcp/bench/bench/", id),
                                 sequencer::eventstore::kAnyVersion,
                                 {{"Paused", std::string(160, 'p')}}});
        batch.index_writes.push_back(
            {absl::StrCat("rs/bench/bench/IN_PROGRESS/", id), std::nullopt});
        batch.index_writes.push_back(
            {absl::StrCat("rs/bench/bench/PAUSED/", id), std::string()});
        batch.index_writes.push_back(
            {absl::StrCat("rl/bench/bench/", id), std::string("PAUSED")});
        batch.index_writes.push_back(
            {absl::StrCat("idem/bench/q", t, "-", n), std::string(64, 'i')});
        if (!store->Commit(batch).ok()) Die("ceiling commit failed");
        commits.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double rate = commits.load() / Since(start);
  store.reset();
  std::filesystem::remove_all(dir);
  return rate;
}

// A sequential scan of every event record (s/ range) of the closed store at
// `dir`, parsing each as a sequencer.v1.Event: events/s.
double ScanCeiling(const std::string& dir, uint64_t* events,
                   double* cpu_seconds) {
  rocksdb::Options options;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(options, dir, &raw);
  if (!s.ok()) Die(absl::StrCat("scan open: ", s.ToString()));
  std::unique_ptr<rocksdb::DB> db(raw);
  const auto start = Clock::now();
  const double cpu_start = CpuSeconds();
  rocksdb::ReadOptions read;
  read.fill_cache = false;
  read.readahead_size = 2 << 20;
  const rocksdb::Slice upper("s0");
  read.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read));
  v1::Event event;
  uint64_t n = 0;
  for (it->Seek("s/"); it->Valid(); it->Next()) {
    const rocksdb::Slice value = it->value();
    // be64 position (bit 63: a varint log position follows), then varint
    // type length and type (eventstore/FORMAT.md, "Event record").
    size_t p = 8;
    auto varint = [&value, &p] {
      uint64_t v = 0;
      for (int shift = 0; p < value.size() && shift < 64; shift += 7) {
        const unsigned char byte = value[p++];
        v |= static_cast<uint64_t>(byte & 0x7f) << shift;
        if ((byte & 0x80) == 0) break;
      }
      return v;
    };
    if (value.size() < 8) Die("scan: an event record is too short");
    if (static_cast<unsigned char>(value[0]) & 0x80) varint();
    const uint64_t type_len = varint();
    p += type_len;
    if (p > value.size() ||
        !event.ParseFromArray(value.data() + p,
                              static_cast<int>(value.size() - p))) {
      Die("scan: an event does not parse");
    }
    ++n;
  }
  if (!it->status().ok()) Die(it->status().ToString());
  *events = n;
  *cpu_seconds = CpuSeconds() - cpu_start;
  return n / Since(start);
}

// ---- one store size ---------------------------------------------------------

void RunSize(const std::string& base, int size) {
  const std::string dir = absl::StrCat(base, "/store-", size);
  std::filesystem::remove_all(dir);
  const int batch =
      std::max(1, std::min(absl::GetFlag(FLAGS_enroll_batch), size));
  const int clients = absl::GetFlag(FLAGS_clients);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  std::printf("\n== store of %d recipients ==\n", size);

  auto store = OpenStore(dir);
  sequencer::app::ManualClock clock;
  sequencer::app::SequentialIdGenerator ids;
  sequencer::server::ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  auto server = sequencer::server::SequencerServer::Start(options, store.get(),
                                                          &clock, &clock, &ids);
  if (!server.ok()) Die(server.status().ToString());
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
  Check(sequences->CreateSequence(Ctx().get(), create, &created), "create");

  // 1. Enrollment.
  std::vector<double> call_seconds;
  const auto enroll_start = Clock::now();
  for (int first = 0; first < size; first += batch) {
    v1::EnrollRecipientsRequest request;
    request.set_request_id(absl::StrCat("enroll-", first));
    request.set_sequence_id("bench");
    for (int i = first; i < std::min(size, first + batch); ++i) {
      auto* r = request.add_recipients();
      r->set_recipient_id(RecipientId(i));
      r->mutable_contact()->set_email(absl::StrCat("r", i, "@example.com"));
      (*r->mutable_variables())["first_name"] = "Ada";
    }
    v1::EnrollRecipientsResponse enrolled;
    const auto start = Clock::now();
    Check(recipients->EnrollRecipients(Ctx().get(), request, &enrolled),
          "enroll");
    call_seconds.push_back(Since(start));
    if (call_seconds.size() % 10 == 0) {
      std::fprintf(stderr, "  enrolled %d: this call %.0f recipients/s\n",
                   first + batch, batch / call_seconds.back());
    }
  }
  const double enroll_total = Since(enroll_start);
  const double enroll_ceiling = EnrollCeiling(dir + "-ceiling", batch);
  const double first_rate = batch / call_seconds.front();
  const double last_rate =
      (size - (static_cast<int>(call_seconds.size()) - 1) * batch) /
      call_seconds.back();
  std::printf(
      "enroll: %d calls of %d in %.1f s; first call %.0f recipients/s "
      "(%.3f of ceiling), last call %.0f/s (%.3f of ceiling); call p50 %.3f "
      "s, p99 %.3f s\n",
      static_cast<int>(call_seconds.size()), batch, enroll_total, first_rate,
      first_rate / enroll_ceiling, last_rate, last_rate / enroll_ceiling,
      Percentile(call_seconds, 0.5), Percentile(call_seconds, 0.99));
  std::printf(
      "  ceiling: durable commit of one batch of %d: %.0f recipients/s\n",
      batch, enroll_ceiling);

  // 2. Single actions, `clients` in flight.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> calls{0};
  std::vector<std::vector<double>> latencies(clients);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937 rng(c);
      const int per_client = std::max(1, size / clients);
      std::uniform_int_distribution<int> pick(0, per_client - 1);
      std::unordered_set<int> paused;
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const int i = pick(rng) * clients + c;
        if (i >= size) continue;
        v1::RecipientActionRequest request;
        request.set_request_id(absl::StrCat("a", c, "-", n++));
        request.set_sequence_id("bench");
        request.set_recipient_id(RecipientId(i));
        v1::Recipient out;
        const bool resume = paused.count(i) > 0;
        const auto start = Clock::now();
        Check(resume ? recipients->ResumeRecipient(Ctx().get(), request, &out)
                     : recipients->PauseRecipient(Ctx().get(), request, &out),
              "action");
        latencies[c].push_back(Since(start));
        if (resume) {
          paused.erase(i);
        } else {
          paused.insert(i);
        }
        calls.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  const auto actions_start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double action_rate = calls.load() / Since(actions_start);
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  (*server)->Shutdown();
  server->reset();
  store.reset();
  const double action_ceiling =
      ActionCeiling(dir + "-ceiling", clients, seconds);
  std::printf(
      "actions: %d in flight, %.0f/s (%.3f of ceiling); p50 %.2f ms, p99 %.2f "
      "ms\n",
      clients, action_rate, action_rate / action_ceiling,
      1e3 * Percentile(all, 0.5), 1e3 * Percentile(all, 0.99));
  std::printf(
      "  ceiling: %d writers, durable commits of one action's size: "
      "%.0f/s\n",
      clients, action_ceiling);

  // 3. Replay.
  if (absl::GetFlag(FLAGS_verify)) {
    uint64_t scanned = 0;
    double scan_cpu = 0;
    const double scan_rate = ScanCeiling(dir, &scanned, &scan_cpu);
    auto read_only = OpenStore(dir, /*read_only=*/true);
    sequencer::app::ProjectionVerifier verifier(read_only.get());
    const auto start = Clock::now();
    const double cpu_start = CpuSeconds();
    auto result = verifier.Verify();
    const double verify_cpu = CpuSeconds() - cpu_start;
    const double elapsed = Since(start);
    if (!result.ok()) Die(result.status().ToString());
    const double verify_rate = result->events / elapsed;
    std::printf(
        "verify: %llu events in %.2f s, %.0f events/s (%.3f of ceiling), %llu "
        "discrepancies\n",
        static_cast<unsigned long long>(result->events), elapsed, verify_rate,
        verify_rate / scan_rate,
        static_cast<unsigned long long>(result->discrepancy_count));
    std::printf(
        "  ceiling: sequential scan parsing every event: %llu events, "
        "%.0f/s\n",
        static_cast<unsigned long long>(scanned), scan_rate);
    std::printf(
        "  CPU: verify %.2f s, %.0f events per CPU-second; ceiling %.2f s, "
        "%.0f per CPU-second (%.3f of it)\n",
        verify_cpu, result->events / verify_cpu, scan_cpu, scanned / scan_cpu,
        (result->events / verify_cpu) / (scanned / scan_cpu));
  }
  if (!absl::GetFlag(FLAGS_keep)) std::filesystem::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // As sequencerd does (its --mutex_deadlock_detection flag): Debian's Abseil
  // checks every lock against a global lock graph unless told not to.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (!absl::GetFlag(FLAGS_scan_dir).empty()) {
    uint64_t scanned = 0;
    double cpu_seconds = 0;
    const double rate =
        ScanCeiling(absl::GetFlag(FLAGS_scan_dir), &scanned, &cpu_seconds);
    std::printf(
        "sequential scan parsing every event: %llu events, %.0f/s, %.2f s of "
        "CPU\n"
        "RESULT scan_events=%llu scan_rate=%.0f scan_cpu_s=%.3f\n",
        static_cast<unsigned long long>(scanned), rate, cpu_seconds,
        static_cast<unsigned long long>(scanned), rate, cpu_seconds);
    return 0;
  }
  std::string dir = absl::GetFlag(FLAGS_dir);
  if (dir.empty()) {
    char pattern[] = "/tmp/store_scale_bench_XXXXXX";
    dir = mkdtemp(pattern);
  }
  std::filesystem::create_directories(dir);
  if (absl::GetFlag(FLAGS_small) > 0) RunSize(dir, absl::GetFlag(FLAGS_small));
  RunSize(dir, absl::GetFlag(FLAGS_recipients));
  if (!absl::GetFlag(FLAGS_keep) && absl::GetFlag(FLAGS_dir).empty()) {
    std::filesystem::remove_all(dir);
  }
  return 0;
}
