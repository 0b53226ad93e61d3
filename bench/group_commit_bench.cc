// Group commit: how durable-commit throughput of the RocksDB event store grows
// with concurrency.
//
// Each writer thread appends one small event per Commit (sync=true: fsync'd
// before returning) to its own stream. The ceiling is measured in the same run:
// one thread committing alone, so every figure is a ratio against "one fsync
// per commit". Also reports the average group size (commits per RocksDB write).
//
// --shape=action makes each commit the size of one recipient action instead
// (one 160-byte event and four index writes: the two status-index keys, the
// listing entry and an idempotency record), the ceiling bench/run.sh compares
// single actions with. --batch=N also times one synced Commit of N such
// action-sized records (the bulk-pause ceiling) and one of N enrollment-shaped
// records (one event and three index entries each), best and median of
// --batch_rounds, each into a fresh store; --threads= (empty) times only
// those.
//
// Each level also reports the process's CPU time per commit (RocksDB's
// flushes included): what a durable commit costs in CPU, the part of a
// service's per-call budget the store takes.
//
// Besides the table, one machine line per figure, "RESULT key=value ...", for
// bench/run.sh.
//
//   build/group_commit_bench [--dir=/tmp/x] [--seconds=2]
//   [--threads=1,2,4,8,16,32,64] [--shape=small|action] [--batch=0]
//   [--batch_rounds=3]

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "eventstore/rocksdb_event_store.h"

ABSL_FLAG(std::string, dir, "",
          "scratch directory (default: a fresh one under /tmp)");
ABSL_FLAG(double, seconds, 2.0, "measuring time per concurrency level");
ABSL_FLAG(std::string, threads, "1,2,4,8,16,32,64", "concurrency levels");
ABSL_FLAG(std::string, shape, "small",
          "what each commit writes: small (one 200-byte event) or action "
          "(one recipient action's event and index writes)");
ABSL_FLAG(int, batch, 0,
          "also time one synced commit of this many action-sized and "
          "enrollment-sized records (0: skip)");
ABSL_FLAG(int, batch_rounds, 3, "rounds of each --batch commit");

namespace {

using sequencer::eventstore::CommitBatch;
using sequencer::eventstore::RocksDbEventStore;

struct Result {
  double commits_per_second = 0;
  double group_size = 0;
  double cpu_us_per_commit = 0;  // this process's CPU, flushes included
};

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// One recipient action's writes (what a pause commits): the event, the
// status index moved from IN_PROGRESS to PAUSED, the listing entry and the
// request's idempotency record.
void AddAction(CommitBatch* batch, const std::string& id, uint64_t n) {
  batch->appends.push_back({absl::StrCat("rcp/bench/bench/", id),
                            sequencer::eventstore::kAnyVersion,
                            {{"Paused", std::string(160, 'p')}}});
  batch->index_writes.push_back(
      {absl::StrCat("rs/bench/bench/IN_PROGRESS/", id), std::nullopt});
  batch->index_writes.push_back(
      {absl::StrCat("rs/bench/bench/PAUSED/", id), std::string()});
  batch->index_writes.push_back(
      {absl::StrCat("rl/bench/bench/", id), std::string("PAUSED")});
  batch->index_writes.push_back(
      {absl::StrCat("idem/bench/", id, "-", n), std::string(64, 'i')});
}

// One enrolled recipient's writes: the event and three index entries.
void AddEnrollment(CommitBatch* batch, const std::string& id) {
  batch->appends.push_back({absl::StrCat("rcp/bench/bench/", id),
                            0,
                            {{"Enrolled", std::string(160, 'e')}}});
  batch->index_writes.push_back(
      {absl::StrCat("rl/bench/bench/", id), std::string("IN_PROGRESS")});
  batch->index_writes.push_back(
      {absl::StrCat("rs/bench/bench/IN_PROGRESS/", id), std::string()});
  batch->index_writes.push_back(
      {absl::StrCat("due/0000000000001/bench/bench/", id),
       std::string(16, 'd')});
}

struct BatchResult {
  double best_seconds = 0;
  double median_seconds = 0;
};

// One synced Commit of `records` records built by `add`, into a fresh store,
// `rounds` times.
template <typename Add>
BatchResult TimeBatch(const std::string& dir, int records, int rounds,
                      Add add) {
  std::vector<double> times;
  for (int round = 0; round < std::max(1, rounds); ++round) {
    std::filesystem::remove_all(dir);
    auto store = RocksDbEventStore::Open(dir);
    if (!store.ok()) {
      std::fprintf(stderr, "open: %s\n",
                   std::string(store.status().message()).c_str());
      std::exit(1);
    }
    CommitBatch batch;
    for (int i = 0; i < records; ++i) add(&batch, i);
    batch.index_writes.push_back(
        {absl::StrCat("idem/bench/batch-", round), std::string(64, 'i')});
    const auto start = std::chrono::steady_clock::now();
    if (!(*store)->Commit(batch).ok()) std::abort();
    times.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count());
  }
  std::sort(times.begin(), times.end());
  return {times.front(), times[times.size() / 2]};
}

Result Run(const std::string& dir, int threads, double seconds,
           bool action_shape) {
  std::filesystem::remove_all(dir);
  auto store = RocksDbEventStore::Open(dir);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n",
                 std::string(store.status().message()).c_str());
    std::exit(1);
  }
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> commits{0};
  const uint64_t groups_before = (*store)->GroupCommitCount();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const std::string stream = absl::StrCat("bench/", t);
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        CommitBatch batch;
        if (action_shape) {
          AddAction(&batch, absl::StrCat(t, "-", n % 64), n);
        } else {
          batch.appends.push_back({stream,
                                   sequencer::eventstore::kAnyVersion,
                                   {{"Paused", std::string(200, 'x')}}});
        }
        ++n;
        if (!(*store)->Commit(batch).ok()) std::abort();
        commits.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = ProcessCpuSeconds();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  const double cpu = ProcessCpuSeconds() - cpu_start;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  Result result;
  result.commits_per_second = commits.load() / elapsed;
  const uint64_t groups = (*store)->GroupCommitCount() - groups_before;
  result.group_size =
      groups == 0 ? 0 : static_cast<double>(commits.load()) / groups;
  result.cpu_us_per_commit =
      commits.load() == 0 ? 0 : 1e6 * cpu / commits.load();
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::string dir = absl::GetFlag(FLAGS_dir);
  if (dir.empty()) {
    char pattern[] = "/tmp/group_commit_bench_XXXXXX";
    dir = std::string(mkdtemp(pattern)) + "/db";
  }
  std::vector<int> levels;
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_threads), ',')) {
    int n = 0;
    if (absl::SimpleAtoi(part, &n) && n > 0) levels.push_back(n);
  }
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const std::string shape = absl::GetFlag(FLAGS_shape);
  if (shape != "small" && shape != "action") {
    std::fprintf(stderr, "--shape must be small or action\n");
    return 2;
  }
  const bool action_shape = shape == "action";
  // --threads= (empty) with --batch: only the batch timings.
  if (!levels.empty()) {
    std::printf("commits of %s\n", action_shape
                                       ? "one action's size (one event, four "
                                         "index writes)"
                                       : "one small event");
    const Result ceiling = Run(dir, 1, seconds, action_shape);
    std::printf(
        "RESULT writers=1 shape=%s commits_per_s=%.0f group_size=%.1f "
        "cpu_us=%.1f\n",
        shape.c_str(), ceiling.commits_per_second, ceiling.group_size,
        ceiling.cpu_us_per_commit);
    std::printf("ceiling: 1 writer, %.0f durable commits/s (one fsync each)\n",
                ceiling.commits_per_second);
    std::printf("%8s %14s %18s %12s %16s\n", "writers", "commits/s",
                "x single writer", "group size", "CPU us/commit");
    for (int threads : levels) {
      const Result r = Run(dir, threads, seconds, action_shape);
      std::printf("%8d %14.0f %18.2f %12.1f %16.1f\n", threads,
                  r.commits_per_second,
                  r.commits_per_second / ceiling.commits_per_second,
                  r.group_size, r.cpu_us_per_commit);
      std::printf(
          "RESULT writers=%d shape=%s commits_per_s=%.0f group_size=%.1f "
          "cpu_us=%.1f\n",
          threads, shape.c_str(), r.commits_per_second, r.group_size,
          r.cpu_us_per_commit);
    }
  }
  const int records = absl::GetFlag(FLAGS_batch);
  if (records > 0) {
    const int rounds = absl::GetFlag(FLAGS_batch_rounds);
    const BatchResult action =
        TimeBatch(dir, records, rounds, [](CommitBatch* batch, int i) {
          AddAction(batch, absl::StrCat("b", i), 0);
        });
    const BatchResult enroll =
        TimeBatch(dir, records, rounds, [](CommitBatch* batch, int i) {
          AddEnrollment(batch, absl::StrCat("e", i));
        });
    std::printf(
        "one synced commit of %d action-sized records: best %.4f s, median "
        "%.4f s\n",
        records, action.best_seconds, action.median_seconds);
    std::printf(
        "one synced commit of %d enrollment-sized records: best %.4f s, "
        "median %.4f s\n",
        records, enroll.best_seconds, enroll.median_seconds);
    std::printf(
        "RESULT batch=%d action_best_s=%.4f action_median_s=%.4f "
        "enroll_best_s=%.4f enroll_median_s=%.4f\n",
        records, action.best_seconds, action.median_seconds,
        enroll.best_seconds, enroll.median_seconds);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
