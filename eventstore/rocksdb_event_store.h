// The durable EventStore, kept in a RocksDB database (on-disk layout:
// eventstore/FORMAT.md).
//
// Commits are group-committed the way LevelDB's DBImpl::Write is: concurrent
// Commit callers join a queue; the caller at the front becomes the leader,
// takes the queued batches behind it (up to Options::max_group_bytes), checks
// each batch's expected versions in queue order (a batch that fails is answered
// ABORTED on its own and left out; the rest still commit), gives the events
// contiguous global positions, writes everything as ONE rocksdb::WriteBatch
// (fsync'd when Options::sync) and then wakes the others with their results.
// One fsync thus serves many commits, and throughput grows with the number of
// concurrent committers.
//
// Memory does not grow with the history: stream versions live on disk (one key
// per stream) and are read by the leader; nothing is replayed at start-up.
//
// When a write fails, the Commits of that group get INTERNAL and the store
// enters a failed state in which every later Commit gets UNAVAILABLE (reads
// keep working). Reopen to recover.
//
// Thread-safe. The store must outlive every call into it.

#ifndef SEQUENCER_EVENTSTORE_ROCKSDB_EVENT_STORE_H_
#define SEQUENCER_EVENTSTORE_ROCKSDB_EVENT_STORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "eventstore/event_store.h"

namespace rocksdb {
class DB;
class Env;
}  // namespace rocksdb

namespace sequencer::eventstore {

class RocksDbEventStore final : public EventStore {
 public:
  struct Options {
    // fsync the write-ahead log before a Commit returns OK. Only benchmarks
    // should turn this off: then a machine crash (not a process crash) may lose
    // acknowledged commits.
    bool sync = true;
    // Create the database when `dir` holds none.
    bool create_if_missing = true;
    // Upper bound on the payload (stream names, event types and data, index
    // keys and values) that one group commit gathers. A single larger batch
    // still commits, alone.
    size_t max_group_bytes = 4 << 20;
    // RocksDB tuning. The block cache also holds index and filter blocks, so
    // table-reader memory stays bounded however large the database grows.
    size_t block_cache_bytes = 64 << 20;
    size_t write_buffer_bytes = 32 << 20;
    // Bloom filter bits per key (0: none); makes lookups of new streams'
    // versions cheap.
    int bloom_bits_per_key = 10;
    int max_background_jobs = 2;
    // For tests (fault injection); nullptr means rocksdb::Env::Default(). Not
    // owned; must outlive the store.
    rocksdb::Env* env = nullptr;
  };

  // Opens the database in `dir` (creating it when missing and
  // Options::create_if_missing). Errors: INVALID_ARGUMENT when `dir` holds no
  // database and create_if_missing is false, or holds a database of another
  // format; INTERNAL / UNAVAILABLE on I/O failure or corruption.
  static absl::StatusOr<std::unique_ptr<RocksDbEventStore>> Open(
      const std::string& dir, Options options);
  static absl::StatusOr<std::unique_ptr<RocksDbEventStore>> Open(
      const std::string& dir) {
    return Open(dir, Options());
  }

  RocksDbEventStore(const RocksDbEventStore&) = delete;
  RocksDbEventStore& operator=(const RocksDbEventStore&) = delete;
  ~RocksDbEventStore() override;

  absl::StatusOr<CommitResult> Commit(const CommitBatch& batch) override;
  absl::StatusOr<std::vector<StoredEvent>> ReadStream(
      absl::string_view stream, uint64_t from_version,
      size_t max_count) const override;
  absl::StatusOr<uint64_t> StreamVersion(
      absl::string_view stream) const override;
  absl::StatusOr<std::vector<StoredEvent>> ReadAll(
      uint64_t from_position, size_t max_count) const override;
  uint64_t LastPosition() const override;
  absl::StatusOr<std::optional<std::string>> GetIndex(
      absl::string_view key) const override;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanIndex(
      absl::string_view prefix, absl::string_view start_after,
      size_t max_count) const override;

  // How many group commits (RocksDB writes) Commit has made since Open; commits
  // / groups is the average group size. For tests and benchmarks.
  uint64_t GroupCommitCount() const;

 private:
  struct Writer;

  RocksDbEventStore(std::unique_ptr<rocksdb::DB> db, Options options,
                    uint64_t last_position);

  // Run by the leader without mu_ held: checks, positions and writes `group`,
  // filling in each writer's result. Returns the new last position, or the
  // write error.
  absl::StatusOr<uint64_t> WriteGroup(const std::vector<Writer*>& group,
                                      uint64_t last_position);

  const std::unique_ptr<rocksdb::DB> db_;
  const Options options_;

  absl::Mutex mu_;
  std::deque<Writer*> writers_ ABSL_GUARDED_BY(mu_);
  // Not OK once a write has failed.
  absl::Status failed_ ABSL_GUARDED_BY(mu_);

  // Written by the leader only, after its group is durable.
  std::atomic<uint64_t> last_position_;
  std::atomic<uint64_t> group_commits_{0};
};

}  // namespace sequencer::eventstore

#endif  // SEQUENCER_EVENTSTORE_ROCKSDB_EVENT_STORE_H_
