// What GetSequenceReport costs as one sequence grows: the report sums one
// rp/ entry per recipient (app/use_cases/sequence_report.h), so its cost is a
// prefix scan of the sequence's entries plus a small decode each.
//
// A RocksDB store (default RocksDbEventStore::Options) in a scratch
// directory gets one sequence of 5 steps and --recipients rp/ entries, written
// straight into the index in batches of 10,000 (the entries are what the
// service would have written for recipients spread over the steps). Then
// app::GetSequenceReport runs --runs times on the open store, and again after
// the store is closed and reopened (block cache empty; the OS page cache stays
// warm). Reported: the time of each call and the entries/s of the best, and
// the store's size.
//
// With --backfill_recipients=N (0: skip), a second store gets N recipients
// enrolled through the app (app::EnrollRecipients, 10,000 a call), its rp/
// entries and the backfill marker are removed, and app::BackfillReportEntries
// (what sequencerd runs at start-up on a directory from before the report)
// is timed; the report must then count all N again.
//
//   build/report_scale_bench [--recipients=1000000] [--runs=3]
//       [--backfill_recipients=200000] [--dir=/tmp/x]

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "app/app_deps.h"
#include "app/runtime/clock.h"
#include "app/runtime/id_generator.h"
#include "app/runtime/lock_table.h"
#include "app/storage/event_codec.h"
#include "app/storage/repository.h"
#include "app/storage/store_layout.h"
#include "app/use_cases/enrollment.h"
#include "app/use_cases/sequence_report.h"
#include "app/use_cases/sequences.h"
#include "eventstore/rocksdb_event_store.h"

ABSL_FLAG(int, recipients, 1000000, "rp/ entries of the one sequence");
ABSL_FLAG(int, runs, 3, "GetSequenceReport calls per measurement");
ABSL_FLAG(int, backfill_recipients, 200000,
          "recipients enrolled before the backfill is timed (0: skip)");
ABSL_FLAG(std::string, dir, "",
          "scratch directory (default: a fresh one under /tmp; removed)");

namespace {

using namespace sequencer;  // NOLINT: a benchmark's main file.

constexpr char kTenant[] = "bench";
constexpr int kSteps = 5;

int Fail(const std::string& what) {
  std::fprintf(stderr, "report_scale_bench: %s\n", what.c_str());
  return 1;
}

// A contribution as recipients spread over the steps would have.
domain::ReportContribution Contribution(std::mt19937& random) {
  domain::ReportContribution c;
  const int at = static_cast<int>(random() % (kSteps + 1));
  c.steps.resize(kSteps);
  for (int i = 0; i < at; ++i) {
    c.steps[i].sent = 1;
    if (random() % 10 == 0) c.steps[i].replies = 1;
  }
  if (at < kSteps) {
    c.status = domain::RecipientStatus::kInProgress;
    ++(random() % 4 == 0 ? c.steps[at].due : c.steps[at].waiting);
  } else {
    c.status = domain::RecipientStatus::kFinished;
  }
  while (!c.steps.empty() && c.steps.back().empty()) c.steps.pop_back();
  return c;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
      .count();
}

struct Stack {
  explicit Stack(eventstore::EventStore* store)
      : repository(store), polls(&clock) {
    deps.repository = &repository;
    deps.clock = &clock;
    deps.ids = &ids;
    deps.locks = &locks;
    deps.work = &work;
    deps.polls = &polls;
    deps.fronts = &fronts;
  }
  app::Repository repository;
  app::ManualClock clock;
  app::SequentialIdGenerator ids;
  app::LockTable locks;
  app::WorkSignal work;
  app::PollRegistry polls;
  app::QueueFronts fronts;
  app::AppDeps deps;
};

absl::Status CreateBenchSequence(Stack& stack) {
  app::CreateSequenceRequest create;
  create.identity = {"/bench/CreateSequence", "create-s", 1, true};
  create.command.sequence_id = "s";
  create.command.name = "Bench";
  for (int i = 0; i < kSteps; ++i) {
    domain::StepDefinition step;
    step.delay = absl::Hours(24);
    step.content.subject = "Hello {{first_name}}";
    step.content.body = "Hi";
    create.command.steps.push_back(step);
  }
  return app::CreateSequence(stack.deps, {kTenant, "bench"}, create, nullptr)
      .status();
}

// Enrolls `count` recipients, drops their rp/ entries and the marker, and
// times the backfill.
int Backfill(const std::string& dir, int count) {
  auto store = eventstore::RocksDbEventStore::Open(dir);
  if (!store.ok()) return Fail(store.status().ToString());
  Stack stack(store->get());
  if (absl::Status created = CreateBenchSequence(stack); !created.ok()) {
    return Fail(created.ToString());
  }
  auto start = std::chrono::steady_clock::now();
  for (int done = 0; done < count;) {
    app::EnrollRequest enroll;
    enroll.identity = {"/bench/Enroll", absl::StrCat("enroll-", done), 1, true};
    enroll.sequence_id = "s";
    for (int i = 0; i < 10000 && done < count; ++i, ++done) {
      domain::EnrollRecipient recipient;
      recipient.recipient_id = absl::StrCat("r", 10000000 + done);
      recipient.contact.email = recipient.recipient_id + "@example.com";
      recipient.variables["first_name"] = "Ada";
      enroll.recipients.push_back(std::move(recipient));
    }
    auto enrolled =
        app::EnrollRecipients(stack.deps, {kTenant, "bench"}, enroll, nullptr);
    if (!enrolled.ok()) return Fail(enrolled.status().ToString());
  }
  std::printf("enrolled %d recipients in %.1f s\n", count, Seconds(start));
  eventstore::CommitBatch drop;
  absl::Status visited = (*store)->VisitIndex(
      app::layout::kReportRoot, "",
      [&](absl::string_view key, absl::string_view) {
        drop.index_writes.push_back({std::string(key), std::nullopt});
        return absl::OkStatus();
      });
  if (!visited.ok()) return Fail(visited.ToString());
  drop.index_writes.push_back(
      {app::layout::kReportBackfillMarker, std::nullopt});
  if (auto dropped = (*store)->Commit(drop); !dropped.ok()) {
    return Fail(dropped.status().ToString());
  }
  start = std::chrono::steady_clock::now();
  auto backfilled = app::BackfillReportEntries(store->get());
  const double took = Seconds(start);
  if (!backfilled.ok()) return Fail(backfilled.status().ToString());
  auto report = app::GetSequenceReport(stack.deps, {kTenant, "bench"}, "s");
  if (!report.ok() || report->report.recipients != count) {
    return Fail("the backfilled report does not count every recipient");
  }
  std::printf(
      "RESULT backfill recipients=%d entries=%llu s=%.2f recipients_per_s=%.0f"
      "\n",
      count, static_cast<unsigned long long>(backfilled->entries_written), took,
      count / took);
  return 0;
}

// Runs the report --runs times; prints each call's time.
bool Measure(const char* what, Stack& stack, int recipients) {
  double best = 1e9;
  for (int run = 0; run < absl::GetFlag(FLAGS_runs); ++run) {
    const auto start = std::chrono::steady_clock::now();
    auto report = app::GetSequenceReport(stack.deps, {kTenant, "bench"}, "s");
    const double took = Seconds(start);
    if (!report.ok()) {
      Fail(report.status().ToString());
      return false;
    }
    if (report->report.recipients != recipients) {
      Fail(absl::StrCat("counted ", report->report.recipients));
      return false;
    }
    std::printf("%s run %d: %.3f s\n", what, run + 1, took);
    best = std::min(best, took);
  }
  std::printf("RESULT %s recipients=%d best_s=%.3f entries_per_s=%.0f\n", what,
              recipients, best, recipients / best);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int recipients = absl::GetFlag(FLAGS_recipients);
  std::string dir = absl::GetFlag(FLAGS_dir);
  const bool remove = dir.empty();
  if (dir.empty()) {
    dir = absl::StrCat(std::filesystem::temp_directory_path().string(),
                       "/report_scale_bench.", getpid());
  }
  {
    auto store = eventstore::RocksDbEventStore::Open(dir);
    if (!store.ok()) return Fail(store.status().ToString());
    Stack stack(store->get());
    if (absl::Status created = CreateBenchSequence(stack); !created.ok()) {
      return Fail(created.ToString());
    }

    std::mt19937 random(7);
    const auto start = std::chrono::steady_clock::now();
    for (int written = 0; written < recipients;) {
      eventstore::CommitBatch batch;
      for (int i = 0; i < 10000 && written < recipients; ++i, ++written) {
        batch.index_writes.push_back(
            {app::layout::ReportEntryKey(kTenant, "s",
                                         absl::StrCat("r", 10000000 + written)),
             app::EncodeReportContribution(Contribution(random))});
      }
      auto committed = (*store)->Commit(batch);
      if (!committed.ok()) return Fail(committed.status().ToString());
    }
    std::printf("wrote %d entries in %.1f s\n", recipients, Seconds(start));
    if (!Measure("open", stack, recipients)) return 1;
  }
  {
    auto store = eventstore::RocksDbEventStore::Open(dir);
    if (!store.ok()) return Fail(store.status().ToString());
    Stack stack(store->get());
    if (!Measure("reopened", stack, recipients)) return 1;
  }
  uintmax_t bytes = 0;
  for (const auto& file : std::filesystem::recursive_directory_iterator(dir)) {
    if (file.is_regular_file()) bytes += file.file_size();
  }
  std::printf("RESULT store_bytes=%ju\n", bytes);
  int status = 0;
  if (absl::GetFlag(FLAGS_backfill_recipients) > 0) {
    status =
        Backfill(dir + "-backfill", absl::GetFlag(FLAGS_backfill_recipients));
  }
  if (remove) {
    std::filesystem::remove_all(dir);
    std::filesystem::remove_all(dir + "-backfill");
  }
  return status;
}
