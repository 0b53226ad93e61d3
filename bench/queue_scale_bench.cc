// The queues at scale: how fast the scheduler makes steps due, how fast four
// delivery workers drain them, and how long LeaseSteps takes while work is
// queued, on a store whose queue indexes start with many deleted keys.
//
// A real server (RocksDB, loopback gRPC on a free port, manual clock) runs
// in-process. First `--background` recipients are enrolled and bulk-paused:
// their due/ entries, at the front of the index, become deleted keys
// (tombstones). Then, for each N in `--due`: N recipients are enrolled on a
// one-step EMAIL sequence, and ClockService/AdvanceTime makes them all due
// at once (it answers once the scheduler has processed everything due): steps
// made due per second. Then four workers drain the EMAIL queue: each leases
// up to 100 steps (LeaseSteps), then begins and reports them with one
// BeginSends and one ReportDeliveries(SENT) call (with --batch=false: BeginSend
// and ReportDelivery per step on `--senders` concurrent calls), and leases
// again: steps delivered per second, and the p50/p99/p99.9 of LeaseSteps.
// Drained entries are deleted keys at the front of ready/ for the next round.
//
// The ceiling is measured in the same run, on a separate RocksDB store:
// durable (fsync'd) commits per second of one writer, and of 64 concurrent
// writers (group commit), each commit one small event. Figures are printed
// as ratios against it.
//
//   build/queue_scale_bench [--due=10000,100000] [--background=100000]
//   [--batch=true] [--senders=16] [--ceiling_seconds=2]

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
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
#include "bench/in_process_server.h"
#include "eventstore/rocksdb_event_store.h"
#include "grpcpp/grpcpp.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "server/sequencer_server.h"

ABSL_FLAG(std::string, due, "10000,100000",
          "numbers of recipients made due at once, one round each");
ABSL_FLAG(int, background, 100000,
          "recipients enrolled and paused first (deleted due/ keys)");
ABSL_FLAG(int, workers, 4, "delivery workers");
ABSL_FLAG(int, senders, 16, "concurrent BeginSend+ReportDelivery per worker");
ABSL_FLAG(double, ceiling_seconds, 2.0, "measuring time per ceiling level");
ABSL_FLAG(bool, drain, true, "also drain each round with the workers");
ABSL_FLAG(bool, batch, true,
          "workers begin and report each leased batch with one BeginSends and "
          "one ReportDeliveries call (false: BeginSend and ReportDelivery per "
          "step on --senders concurrent calls)");

namespace {

namespace v1 = sequencer::v1;
using sequencer::bench::Check;
using Clock = std::chrono::steady_clock;

constexpr int kChunk = 10000;  // recipients per enrollment / bulk call

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Durable commits per second of `threads` writers, one small event each.
double CommitCeiling(const std::string& dir, int threads, double seconds) {
  std::filesystem::remove_all(dir);
  auto store = sequencer::eventstore::RocksDbEventStore::Open(dir);
  if (!store.ok()) std::exit(1);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> commits{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < threads; ++t) {
    writers.emplace_back([&, t] {
      const std::string stream = absl::StrCat("ceiling/", t);
      while (!stop.load(std::memory_order_relaxed)) {
        sequencer::eventstore::CommitBatch batch;
        batch.appends.push_back({stream,
                                 sequencer::eventstore::kAnyVersion,
                                 {{"StepDue", std::string(200, 'x')}}});
        if (!(*store)->Commit(batch).ok()) std::abort();
        commits.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : writers) w.join();
  const double rate = commits.load() / Since(start);
  store->reset();
  std::filesystem::remove_all(dir);
  return rate;
}

void Enroll(v1::RecipientService::Stub& recipients, const std::string& sequence,
            const std::string& prefix, int count) {
  for (int first = 0; first < count; first += kChunk) {
    v1::EnrollRecipientsRequest request;
    request.set_request_id(absl::StrCat("enroll-", prefix, "-", first));
    request.set_sequence_id(sequence);
    for (int i = first; i < std::min(count, first + kChunk); ++i) {
      auto* r = request.add_recipients();
      r->set_recipient_id(absl::StrCat(prefix, i));
      r->mutable_contact()->set_email(absl::StrCat(prefix, i, "@example.com"));
      (*r->mutable_variables())["first_name"] = "Ada";
    }
    v1::EnrollRecipientsResponse response;
    Check(recipients.EnrollRecipients(sequencer::bench::BenchContext().get(),
                                      request, &response),
          "enroll");
  }
}

void CreateSequence(v1::SequenceService::Stub& sequences, const std::string& id,
                    int64_t delay_seconds) {
  v1::CreateSequenceRequest create;
  create.set_request_id(absl::StrCat("create-", id));
  create.set_sequence_id(id);
  create.set_name(id);
  auto* step = create.add_steps();
  step->set_type(v1::STEP_TYPE_EMAIL);
  step->mutable_delay()->set_seconds(delay_seconds);
  step->mutable_content()->set_subject("Hi {{first_name}}");
  step->mutable_content()->set_body("About the role");
  v1::CreateSequenceResponse created;
  Check(sequences.CreateSequence(sequencer::bench::BenchContext().get(), create,
                                 &created),
        "create");
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t index = std::min(
      values.size() - 1, static_cast<size_t>(p * (values.size() - 1) + 0.5));
  return values[index];
}

struct DrainResult {
  double steps_per_second = 0;
  int revoked = 0;  // BeginSend refused LEASE_REVOKED (stale leases)
  std::vector<double> lease_ms;  // LeaseSteps calls that returned leases
};

// Drains `expected` EMAIL steps with `workers` workers.
DrainResult Drain(const std::string& address, int workers, int senders,
                  bool batch, int expected) {
  std::atomic<int> delivered{0};
  std::atomic<int> revoked{0};
  std::mutex mu;
  DrainResult result;
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      grpc::ChannelArguments args;
      args.SetInt("bench.worker", w);  // a connection of its own
      auto channel = grpc::CreateCustomChannel(
          address, grpc::InsecureChannelCredentials(), args);
      auto delivery = v1::DeliveryService::NewStub(channel);
      std::vector<double> lease_ms;
      while (delivered.load() < expected) {
        v1::LeaseStepsRequest lease;
        lease.set_channel(v1::STEP_TYPE_EMAIL);
        lease.set_max_steps(100);
        v1::LeaseStepsResponse leased;
        const auto lease_start = Clock::now();
        Check(delivery->LeaseSteps(sequencer::bench::BenchContext().get(),
                                   lease, &leased),
              "lease");
        if (leased.leases_size() == 0) {
          std::this_thread::yield();
          continue;
        }
        lease_ms.push_back(Since(lease_start) * 1000);
        if (batch) {
          v1::BeginSendsRequest sends;
          for (const v1::DeliveryLease& l : leased.leases()) {
            v1::BeginSendRequest* begin = sends.add_sends();
            begin->set_lease_token(l.lease_token());
            begin->set_sequence_id(l.sequence_id());
            begin->set_recipient_id(l.recipient_id());
          }
          v1::BeginSendsResponse began;
          Check(delivery->BeginSends(sequencer::bench::BenchContext().get(),
                                     sends, &began),
                "begin");
          v1::ReportDeliveriesRequest reports;
          for (int i = 0; i < began.answers_size(); ++i) {
            if (began.answers(i).status().code() != 0) {
              revoked.fetch_add(1);  // fenced, as above: not sent
              continue;
            }
            const v1::DeliveryLease& l = leased.leases(i);
            v1::ReportDeliveryRequest* report = reports.add_reports();
            report->set_lease_token(l.lease_token());
            report->set_sequence_id(l.sequence_id());
            report->set_recipient_id(l.recipient_id());
            report->set_outcome(v1::DELIVERY_OUTCOME_SENT);
            report->set_provider_message_id("m");
          }
          if (reports.reports_size() == 0) continue;
          v1::ReportDeliveriesResponse reported;
          Check(delivery->ReportDeliveries(
                    sequencer::bench::BenchContext().get(), reports, &reported),
                "report");
          for (const auto& answer : reported.answers()) {
            if (answer.status().code() != 0) {
              std::fprintf(stderr, "report: %s\n",
                           answer.status().message().c_str());
              std::exit(1);
            }
          }
          delivered.fetch_add(reported.answers_size());
          continue;
        }
        std::atomic<int> next{0};
        std::vector<std::thread> sending;
        for (int s = 0; s < senders; ++s) {
          sending.emplace_back([&] {
            for (int i = next.fetch_add(1); i < leased.leases_size();
                 i = next.fetch_add(1)) {
              const v1::DeliveryLease& l = leased.leases(i);
              v1::BeginSendRequest begin;
              begin.set_lease_token(l.lease_token());
              begin.set_sequence_id(l.sequence_id());
              begin.set_recipient_id(l.recipient_id());
              v1::BeginSendResponse begun;
              const grpc::Status began = delivery->BeginSend(
                  sequencer::bench::BenchContext().get(), begin, &begun);
              if (began.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
                // A lease granted from a read made just before another
                // worker's send began: fenced, as it must be. Not sent.
                revoked.fetch_add(1);
                continue;
              }
              Check(began, "begin");
              v1::ReportDeliveryRequest report;
              report.set_lease_token(l.lease_token());
              report.set_sequence_id(l.sequence_id());
              report.set_recipient_id(l.recipient_id());
              report.set_outcome(v1::DELIVERY_OUTCOME_SENT);
              report.set_provider_message_id("m");
              v1::Recipient after;
              Check(delivery->ReportDelivery(
                        sequencer::bench::BenchContext().get(), report, &after),
                    "report");
              delivered.fetch_add(1);
            }
          });
        }
        for (auto& t : sending) t.join();
      }
      std::lock_guard<std::mutex> lock(mu);
      result.lease_ms.insert(result.lease_ms.end(), lease_ms.begin(),
                             lease_ms.end());
    });
  }
  for (auto& t : threads) t.join();
  result.steps_per_second = delivered.load() / Since(start);
  result.revoked = revoked.load();
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // As sequencerd does (its --mutex_deadlock_detection flag): Debian's Abseil
  // checks every lock against a global lock graph unless told not to.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<int> rounds;
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_due), ',', absl::SkipEmpty())) {
    int n = 0;
    if (absl::SimpleAtoi(part, &n) && n > 0) rounds.push_back(n);
  }
  char pattern[] = "/tmp/queue_scale_bench_XXXXXX";
  const std::string dir = mkdtemp(pattern);

  const double seconds = absl::GetFlag(FLAGS_ceiling_seconds);
  const double one_writer = CommitCeiling(dir + "/ceiling", 1, seconds);
  const double many_writers = CommitCeiling(dir + "/ceiling", 64, seconds);
  std::printf(
      "ceiling (RocksDB synced commits of one event): 1 writer %.0f/s, 64 "
      "writers %.0f/s\n",
      one_writer, many_writers);

  auto bench = sequencer::bench::StartInProcessServer(dir);
  if (bench == nullptr) return 1;
  sequencer::server::SequencerServer* server = bench->server.get();
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(
      server->address(), grpc::InsecureChannelCredentials(), args);
  auto sequences = v1::SequenceService::NewStub(channel);
  auto recipients = v1::RecipientService::NewStub(channel);
  auto clock_service = v1::ClockService::NewStub(channel);
  auto advance = [&](absl::Duration by) {
    v1::AdvanceTimeRequest request;
    request.mutable_by()->set_seconds(absl::ToInt64Seconds(by));
    v1::TimeResponse response;
    const auto start = Clock::now();
    Check(clock_service->AdvanceTime(sequencer::bench::BenchContext().get(),
                                     request, &response),
          "advance");
    return Since(start);
  };

  // Deleted keys at the front of due/: recipients due first, then paused.
  const int background = absl::GetFlag(FLAGS_background);
  {
    const auto start = Clock::now();
    CreateSequence(*sequences, "paused", 3600);
    Enroll(*recipients, "paused", "p", background);
    for (int first = 0; first < background; first += kChunk) {
      v1::BulkActionRequest bulk;
      bulk.set_request_id(absl::StrCat("pause-", first));
      bulk.set_sequence_id("paused");
      bulk.set_action(v1::BULK_ACTION_TYPE_PAUSE);
      for (int i = first; i < std::min(background, first + kChunk); ++i) {
        bulk.add_recipient_ids(absl::StrCat("p", i));
      }
      v1::BulkActionResponse done;
      Check(recipients->BulkAction(sequencer::bench::BenchContext().get(), bulk,
                                   &done),
            "pause");
    }
    std::printf(
        "store: %d recipients enrolled and paused (deleted due/ keys at the "
        "front) in %.1f s\n",
        background, Since(start));
  }
  CreateSequence(*sequences, "due", 3600);
  advance(absl::Seconds(1));  // the round's entries sort after the deleted

  int enrolled = 0;
  for (int n : rounds) {
    Enroll(*recipients, "due", absl::StrCat("d", enrolled, "-"), n);
    enrolled += n;
    const double made_due_seconds = advance(absl::Hours(1));
    const double made_due = n / made_due_seconds;
    std::printf(
        "scheduler, %d due at once: %.2f s, %.0f steps made due/s = %.2fx 1 "
        "writer's commits, %.2fx 64 writers'\n",
        n, made_due_seconds, made_due, made_due / one_writer,
        made_due / many_writers);
    std::fflush(stdout);
    if (!absl::GetFlag(FLAGS_drain)) continue;
    DrainResult drained =
        Drain(server->address(), absl::GetFlag(FLAGS_workers),
              absl::GetFlag(FLAGS_senders), absl::GetFlag(FLAGS_batch), n);
    const std::string how =
        absl::GetFlag(FLAGS_batch)
            ? std::string("BeginSends + ReportDeliveries per leased batch")
            : absl::StrCat(absl::GetFlag(FLAGS_senders),
                           " concurrent BeginSend + ReportDelivery");
    std::printf(
        "delivery drain of %d, %d workers, %s: %.0f steps/s = %.2fx 1 "
        "writer's commits, %.2fx 64 writers'\n",
        n, absl::GetFlag(FLAGS_workers), how.c_str(), drained.steps_per_second,
        drained.steps_per_second / one_writer,
        drained.steps_per_second / many_writers);
    std::printf(
        "LeaseSteps (max 100) while work is queued: p50 %.2f ms, p99 %.2f ms, "
        "p99.9 %.2f ms (%zu calls; %d stale leases refused by BeginSend)\n",
        Percentile(drained.lease_ms, 0.5), Percentile(drained.lease_ms, 0.99),
        Percentile(drained.lease_ms, 0.999), drained.lease_ms.size(),
        drained.revoked);
    std::fflush(stdout);
  }
  server->Shutdown();
  bench->server.reset();
  bench->store.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
