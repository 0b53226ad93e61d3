// Start-up and memory against history length: opening the RocksDB event store
// must not replay the log, and memory must not grow with the number of events.
//
// Fills a small store and a large one (same number of recipients' streams, 50x
// the events), then reopens each and reads every stream's head version. The
// small store is the ceiling measured in the same run for the open time; the
// memory growth is reported against the block cache's bound (what reads may
// keep resident whatever the history). Filling uses sync=false (only for speed;
// reopening is what is timed).
//
//   build/startup_bench [--streams=2000] [--events_small=2]
//   [--events_large=100]

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "eventstore/rocksdb_event_store.h"

ABSL_FLAG(int, streams, 2000, "streams (recipients) in each store");
ABSL_FLAG(int, events_small, 2, "events per stream in the small store");
ABSL_FLAG(int, events_large, 100, "events per stream in the large store");

namespace {

using sequencer::eventstore::CommitBatch;
using sequencer::eventstore::RocksDbEventStore;

long ResidentKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

void Fill(const std::string& dir, int streams, int events_per_stream) {
  RocksDbEventStore::Options options;
  options.sync = false;
  auto store = RocksDbEventStore::Open(dir, options);
  if (!store.ok()) std::abort();
  const std::string data(300, 'e');
  for (int round = 0; round < events_per_stream; ++round) {
    CommitBatch batch;
    for (int s = 0; s < streams; ++s) {
      batch.appends.push_back({absl::StrCat("rcp/t/seq/r", s),
                               sequencer::eventstore::kAnyVersion,
                               {{"Paused", data}}});
    }
    if (!(*store)->Commit(batch).ok()) std::abort();
  }
}

struct Measure {
  double open_seconds = 0;
  long rss_growth_kib = 0;
};

Measure Reopen(const std::string& dir, int streams) {
  const long rss_before = ResidentKiB();
  const auto start = std::chrono::steady_clock::now();
  auto store = RocksDbEventStore::Open(dir);
  if (!store.ok()) std::abort();
  uint64_t total = (*store)->LastPosition();
  const double open_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  for (int s = 0; s < streams; ++s) {
    total += *(*store)->StreamVersion(absl::StrCat("rcp/t/seq/r", s));
  }
  Measure m;
  m.open_seconds = open_seconds;
  m.rss_growth_kib = ResidentKiB() - rss_before;
  if (total == 0) std::abort();
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int streams = absl::GetFlag(FLAGS_streams);
  char pattern[] = "/tmp/startup_bench_XXXXXX";
  const std::string root = mkdtemp(pattern);
  const std::string small = root + "/small", large = root + "/large";
  Fill(small, streams, absl::GetFlag(FLAGS_events_small));
  Fill(large, streams, absl::GetFlag(FLAGS_events_large));
  const Measure s = Reopen(small, streams);
  const Measure l = Reopen(large, streams);
  std::printf(
      "ceiling (small store, %d events): open %.4f s, memory +%ld KiB\n",
      streams * absl::GetFlag(FLAGS_events_small), s.open_seconds,
      s.rss_growth_kib);
  // Memory after reading every stream head is dominated by the block cache,
  // whose bound is the ceiling for any history length.
  const long cache_kib =
      static_cast<long>(RocksDbEventStore::Options().block_cache_bytes / 1024);
  std::printf(
      "large store (%d events): open %.4f s (%.2f x the ceiling), memory "
      "+%ld KiB (%.3f of the %ld KiB block-cache bound)\n",
      streams * absl::GetFlag(FLAGS_events_large), l.open_seconds,
      l.open_seconds / s.open_seconds, l.rss_growth_kib,
      static_cast<double>(l.rss_growth_kib) / cache_kib, cache_kib);
  std::filesystem::remove_all(root);
  return 0;
}
