// Group commit: how durable-commit throughput of the RocksDB event store grows
// with concurrency.
//
// Each writer thread appends one small event per Commit (sync=true: fsync'd
// before returning) to its own stream. The ceiling is measured in the same run:
// one thread committing alone, so every figure is a ratio against "one fsync
// per commit". Also reports the average group size (commits per RocksDB write).
//
//   build/group_commit_bench [--dir=/tmp/x] [--seconds=2]
//   [--threads=1,2,4,8,16,32,64]

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
#include "eventstore/rocksdb_event_store.h"

ABSL_FLAG(std::string, dir, "",
          "scratch directory (default: a fresh one under /tmp)");
ABSL_FLAG(double, seconds, 2.0, "measuring time per concurrency level");
ABSL_FLAG(std::string, threads, "1,2,4,8,16,32,64", "concurrency levels");

namespace {

using sequencer::eventstore::CommitBatch;
using sequencer::eventstore::RocksDbEventStore;

struct Result {
  double commits_per_second = 0;
  double group_size = 0;
};

Result Run(const std::string& dir, int threads, double seconds) {
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
      while (!stop.load(std::memory_order_relaxed)) {
        CommitBatch batch;
        batch.appends.push_back({stream,
                                 sequencer::eventstore::kAnyVersion,
                                 {{"Paused", std::string(200, 'x')}}});
        if (!(*store)->Commit(batch).ok()) std::abort();
        commits.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  const auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  Result result;
  result.commits_per_second = commits.load() / elapsed;
  const uint64_t groups = (*store)->GroupCommitCount() - groups_before;
  result.group_size =
      groups == 0 ? 0 : static_cast<double>(commits.load()) / groups;
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
  const Result ceiling = Run(dir, 1, seconds);
  std::printf("ceiling: 1 writer, %.0f durable commits/s (one fsync each)\n",
              ceiling.commits_per_second);
  std::printf("%8s %14s %18s %12s\n", "writers", "commits/s", "x single writer",
              "group size");
  for (int threads : levels) {
    const Result r = Run(dir, threads, seconds);
    std::printf("%8d %14.0f %18.2f %12.1f\n", threads, r.commits_per_second,
                r.commits_per_second / ceiling.commits_per_second,
                r.group_size);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
