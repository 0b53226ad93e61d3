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
// The database is a commit log (eventstore/commit_log.h) and the state derived
// from it, kept in the same atomic writes: each Commit that writes anything
// also writes its commit record at l/<log position> (its events by reference
// to their s/ keys), and each group advances m/applied_position. The derived
// keys (versions, global pointers, index) can be dropped and rebuilt from the
// log (Options::rebuild_derived_state); Open applies the records past
// m/applied_position, if any, before it returns. ReadLog gives the records.
// Layout, and the migration from format 1: eventstore/FORMAT.md.
//
// When a write fails, the Commits of that group get an error (UNAVAILABLE when
// the disk is full, INTERNAL otherwise) and the store enters a failed state in
// which every later Commit gets UNAVAILABLE without trying (reads keep
// working; WriteState() says why). A thread of the store then retries
// rocksdb::DB::Resume() every Options::recovery_interval (RocksDB's own
// automatic recovery is turned off: it waits for more free space than a small
// disk ever has); once it succeeds, commits are accepted again, without a
// restart. The write that failed is not applied (RocksDB inserts a batch into
// its memtable only after its log write succeeded, and recovery flushes the
// memtable and starts a new write-ahead log). An I/O error other than a full
// disk (e.g. EIO) is fatal to RocksDB: Resume() cannot clear it, and commits
// stay refused until the store is reopened.
//
// Opening (recovery of the write-ahead log, WAL):
//   - RocksDB runs in WALRecoveryMode::kAbsoluteConsistency first: any damage
//     in the WAL fails that open, and nothing is replayed or deleted.
//   - Then the store checks, read-only (nothing written), whether the damage
//     is only a torn tail: an incomplete last record, which is what a crash
//     during a write leaves, and which was never acknowledged (Commit returns
//     after the fsync). RocksDB's kTolerateCorruptedTailRecords accepts
//     exactly that (a truncated header or record at the end of a WAL file)
//     and refuses a checksum mismatch anywhere (kPointInTimeRecovery, the
//     default, would instead stop replaying at a damaged record in the middle
//     and silently drop every acknowledged write after it, then delete the
//     WAL).
//     RocksDB accepts a record cut by the end of ANY WAL file, so the store
//     also checks the log format itself (eventstore/wal_files.h): only the
//     last WAL may end in a cut record, and no record may fail its checksum.
//   - A torn tail: every WAL file is first copied, fsync'd, to
//     <dir>/evidence/wal-<UTC time>/ (if that fails, Open refuses), then the
//     database is opened with kTolerateCorruptedTailRecords (RecoveryNote()
//     says what happened).
//   - Any other damage: Open refuses with DATA_LOSS naming the WAL file and
//     the offset of the first bad record, and changes nothing.
//   Known limit: a flipped bit in the length field of a record in the last
//   WAL's last 32 KiB block makes the record look cut by the end of the file,
//   like a torn tail; the evidence copy then still holds the dropped bytes.
//
// RocksDB's info log (<dir>/LOG) is written by the store's own logger, which
// ignores write errors: RocksDB's logger aborts the process (an assertion in
// Debian's build) when the disk is full.
//
// Thread-safe. The store must outlive every call into it.

#ifndef SEQUENCER_EVENTSTORE_ROCKSDB_EVENT_STORE_H_
#define SEQUENCER_EVENTSTORE_ROCKSDB_EVENT_STORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "eventstore/commit_log.h"
#include "eventstore/derived_state.h"
#include "eventstore/event_store.h"

namespace rocksdb {
class DB;
class Env;
class Logger;
class FileLock;
}  // namespace rocksdb

namespace sequencer::eventstore {

class KeyOrderedBatch;

class RocksDbEventStore final : public EventStore, public DerivedState {
 public:
  struct Options {
    // fsync the write-ahead log before a Commit returns OK. Only benchmarks
    // should turn this off: then a machine crash (not a process crash) may lose
    // acknowledged commits.
    bool sync = true;
    // Create the database when `dir` holds none.
    bool create_if_missing = true;
    // Open without writing anything to `dir` (rocksdb::DB::OpenForReadOnly, no
    // info log file); Commit answers FAILED_PRECONDITION. The store still
    // takes RocksDB's LOCK (an fcntl lock; the file is not modified), so it
    // refuses a directory that a running read-write store holds. A torn WAL
    // tail is read past in memory (see RecoveryNote); no evidence copy is
    // made because nothing is deleted.
    bool read_only = false;
    // How often the store retries recovery after a failed write.
    absl::Duration recovery_interval = absl::Seconds(1);
    // Upper bound on the payload (stream names, event types and data, index
    // keys and values) that one group commit gathers. A single larger batch
    // still commits, alone.
    size_t max_group_bytes = 4 << 20;
    // RocksDB tuning; eventstore/FORMAT.md ("RocksDB options") gives the
    // reason for each choice. Index and filters are partitioned (4 KiB
    // partitions) and kept in the block cache in its high-priority pool, with
    // their top levels pinned: table-reader memory stays bounded however
    // large the database grows, and no lookup ever has to re-read a whole
    // filter or index because it does not fit in a cache shard (what made
    // lookups in a 1M-recipient store 30x slower with a 64 MiB cache of 64
    // shards and whole filters of 7.7 MiB).
    size_t block_cache_bytes = 128 << 20;
    // The cache has 2^block_cache_shard_bits shards (each a mutex and an LRU
    // list; an entry larger than its shard cannot stay in the cache).
    int block_cache_shard_bits = 4;
    size_t write_buffer_bytes = 32 << 20;
    // Bloom filter bits per key (0: none); makes lookups of new streams'
    // versions (every enrollment asks for them) cheap.
    int bloom_bits_per_key = 10;
    int max_background_jobs = 2;
    // For tests (fault injection); nullptr means rocksdb::Env::Default(). Not
    // owned; must outlive the store.
    rocksdb::Env* env = nullptr;
    // Drop every derived key (g/, v/, i/, m/last_position,
    // m/applied_position) at Open and rebuild them from the commit log (l/
    // records and the s/ events they name), as catch-up does. For repair and
    // tests; not with read_only.
    bool rebuild_derived_state = false;
    // The commit log is kept elsewhere: the store is only the DerivedState
    // of a LogBackedEventStore (eventstore/log_backed_event_store.h), which
    // feeds it the log's records through Apply. No l/ keys; the s/ events
    // are derived too. Commit answers FAILED_PRECONDITION. A database is
    // created in one mode and refuses to open in the other
    // (INVALID_ARGUMENT). Apply fsyncs when `sync` (the log holds the
    // records anyway, so an Apply lost by a machine crash is applied again
    // at the next catch-up).
    bool external_log = false;
  };

  // Opens the database in `dir` (creating it when missing and
  // Options::create_if_missing). Errors: INVALID_ARGUMENT when `dir` holds no
  // database and create_if_missing is false (or read_only), or holds a
  // database of another format; DATA_LOSS when the write-ahead log is damaged
  // other than at its tail (see above; the message names the file, the offset
  // and what to do); RESOURCE_EXHAUSTED when the disk is full; UNAVAILABLE
  // on other I/O failure or when another process holds the directory;
  // INTERNAL on other corruption.
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
  // Reads [s/<prefix>, successor) with one iterator on a snapshot, with
  // readahead and without filling the block cache.
  absl::Status ScanStreams(
      absl::string_view prefix,
      const std::function<absl::Status(const StoredEventView&)>& visit)
      const override;
  // Reads [s/<from>, s/<to>) the same way.
  absl::Status ScanStreamRange(
      absl::string_view from, absl::string_view to,
      const std::function<absl::Status(const StoredEventView&)>& visit)
      const override;
  // Bisects the key range of the streams by RocksDB's approximate sizes
  // (index blocks and memtables; no data block is read), then takes the stream
  // of the first event at or after each point.
  absl::StatusOr<std::vector<std::string>> StreamSplitPoints(
      absl::string_view prefix, int parts) const override;
  // Reads [e/, e0) from one snapshot.
  absl::Status VisitErasedPositions(
      const std::function<absl::Status(uint64_t position)>& visit)
      const override;
  uint64_t LastPosition() const override;
  absl::StatusOr<std::optional<std::string>> GetIndex(
      absl::string_view key) const override;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanIndex(
      absl::string_view prefix, absl::string_view start_after,
      size_t max_count) const override;
  // Reads [i/<prefix>, successor) from past `start_after` with one iterator
  // on a snapshot, with readahead and without filling the block cache.
  absl::Status VisitIndex(
      absl::string_view prefix, absl::string_view start_after,
      const std::function<absl::Status(absl::string_view key,
                                       absl::string_view value)>& visit)
      const override;

  // Erasure (CommitBatch::erasures, eventstore/FORMAT.md "Erasure"): a batch
  // that erases commits alone in its group; it reads the erased streams'
  // events (each names the commit record that wrote it) and rewrites those
  // records. PurgeErased flushes the memtables (the write-ahead logs holding
  // erased data are then deleted) and compacts the key ranges erasures
  // touched down to the last level (everything, after a restart that found
  // erasures not yet purged, or past 256 ranges). Calls are serialized.
  absl::Status PurgeErased() override;
  // True while erasures committed (or found at Open) are not yet purged.
  bool PurgePending() const;
  // Flushes and compacts the whole database down to the last level (what
  // PurgeErased does after a restart): no file keeps a deleted or
  // overwritten value afterwards. For operators (sequencerctl compact).
  absl::Status CompactAll();

  // A RocksDB checkpoint (rocksdb::Checkpoint::CreateCheckpoint) after a
  // flush of the memtables, so the copy needs no WAL: SST files hard-linked
  // (copied across file systems), MANIFEST, OPTIONS and CURRENT copied. It
  // is built in `<directory>.tmp` and renamed, so a failure leaves nothing at
  // `directory`. Open (read-write or read-only) takes it as a data directory.
  // Erasures not yet purged are purged first (PurgeErased), so the copy's
  // files hold no erased bytes; one committed meanwhile leaves
  // m/purge_pending in the copy, which a store opened on it then purges.
  // Works while commits go on; a store opened read-only answers
  // FAILED_PRECONDITION.
  absl::Status Checkpoint(const std::string& directory) override;

  absl::Status WriteState() const override;
  void SetWriteStateObserver(
      std::function<void(const absl::Status&)> observer) override;

  // The commit log (eventstore/commit_log.h) this store keeps in the same
  // atomic writes as its derived state: one record per Commit that wrote
  // anything, at l/<log position>. ReadLog has CommitLog::Read's contract
  // (records as EncodeCommitRecord would hold them, events included, read
  // from one snapshot); replaying them into a DerivedState rebuilds this
  // store's state. LastLogPosition: 0 for none.
  absl::StatusOr<std::vector<LoggedRecord>> ReadLog(uint64_t from_position,
                                                    size_t max_count) const;
  uint64_t LastLogPosition() const;

  // DerivedState (eventstore/derived_state.h), for a store opened with
  // Options::external_log: applies the record in one atomic write (events,
  // global pointers, versions, index writes, m/applied_position). A failed
  // write puts the store in the failed state, as for Commit. Without
  // external_log, Apply answers FAILED_PRECONDITION (the store writes its
  // own records). AppliedPosition is the log position the derived keys
  // reflect, in either mode (LastLogPosition without external_log).
  absl::Status Apply(uint64_t log_position,
                     const CommitRecord& record) override;
  uint64_t AppliedPosition() const override;

  // What Open had to do beyond a normal open, for the operator (e.g. a torn WAL
  // tail dropped, and where its copy is kept, or a migration from format 1);
  // empty when nothing.
  const std::string& RecoveryNote() const { return recovery_note_; }

  // How many group commits (RocksDB writes) Commit has made since Open; commits
  // / groups is the average group size. For tests and benchmarks.
  uint64_t GroupCommitCount() const;
  // Counters of Commit's writes (Options-independent), the files' sizes and
  // RocksDB's background error and write-stall properties.
  StoreStats Stats() const override;

 private:
  struct Writer;
  struct Opened;
  // The global position of the last event and the position of the last
  // commit record.
  struct Positions {
    uint64_t events = 0;
    uint64_t log = 0;
  };

  RocksDbEventStore(Opened opened, Options options, uint64_t last_position,
                    uint64_t last_log_position);

  // ScanStreams and ScanStreamRange: the event keys in [lower, upper).
  absl::Status ScanEventKeys(
      const std::string& lower, const std::string& upper,
      const std::function<absl::Status(const StoredEventView&)>& visit) const;

  // Puts m/memtable_marker into the memtable, bypassing the WAL. DB::Resume()
  // starts a new WAL only when it has a memtable to flush; if it does not,
  // the next write goes to the WAL writer that failed, which aborts the
  // process (an assertion in Debian's RocksDB). Written after Open and after
  // each recovery, when the memtable is empty; a commit that fails first
  // thus always leaves something to flush.
  void WriteMemtableMarker();
  // Retries recovery while failed_; runs until the destructor.
  void RecoveryLoop();
  // Calls the observer with the current WriteState.
  void NotifyWriteState();

  // Run by the leader without mu_ held: checks, positions and writes `group`,
  // filling in each writer's result. Returns the new last positions, or the
  // write error.
  absl::StatusOr<Positions> WriteGroup(const std::vector<Writer*>& group,
                                       Positions last);
  // Adds the writes of `erasures` to `writes` (nothing on error): the
  // streams' events deleted, their g/ pointers emptied, their versions
  // deleted, the forget keys deleted (also appended to `forgotten`, for the
  // batch's record), and the records that appended to them rewritten.
  absl::Status WriteErasures(const std::vector<StreamErasure>& erasures,
                             KeyOrderedBatch* writes,
                             std::vector<IndexWrite>* forgotten);

  // Declared before db_: RocksDB logs until the database is closed.
  const std::shared_ptr<rocksdb::Logger> logger_;
  std::unique_ptr<rocksdb::DB> db_;
  // The LOCK held by a read-only store; nullptr otherwise.
  rocksdb::FileLock* read_only_lock_ = nullptr;
  const Options options_;
  const std::string recovery_note_;

  mutable absl::Mutex mu_;
  std::deque<Writer*> writers_ ABSL_GUARDED_BY(mu_);
  // Not OK from a failed write until recovery.
  absl::Status failed_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar recovery_cv_;
  std::thread recovery_thread_;

  absl::Mutex observer_mu_;
  std::function<void(const absl::Status&)> observer_
      ABSL_GUARDED_BY(observer_mu_);

  // Written by the leader only, after its group is durable.
  std::atomic<uint64_t> last_position_;
  // The last record's log position; with external_log, the applied one.
  std::atomic<uint64_t> last_log_position_;
  // Serializes Apply.
  absl::Mutex apply_mu_;
  std::atomic<uint64_t> group_commits_{0};
  std::atomic<uint64_t> commits_written_{0};
  std::atomic<uint64_t> refused_commits_{0};
  std::atomic<uint64_t> write_nanos_{0};
  std::atomic<uint64_t>
      writes_at_most_[sizeof(StoreStats::kWriteSecondsBounds) /
                      sizeof(double)] = {};
  // Stream versions as read or written by recent group commits, so that a
  // commit's version check of a stream written (or checked) lately reads
  // nothing. Touched only by WriteGroup, which one leader at a time runs
  // and which is the only writer of v/ keys while the store takes commits
  // (Apply, the other writer, serves only stores opened with external_log,
  // which refuse Commit). Updated after a durable write, cleared on a failed
  // one and when it reaches kVersionCacheEntries.
  static constexpr size_t kVersionCacheEntries = 1 << 18;
  // ReadStream reads at most this many events by key (MultiGet) instead of
  // with an iterator.
  static constexpr uint64_t kPointReadEvents = 32;
  absl::flat_hash_map<std::string, uint64_t> version_cache_;

  // What PurgeErased has left to do.
  mutable absl::Mutex purge_mu_;
  std::vector<std::pair<std::string, std::string>> purge_ranges_
      ABSL_GUARDED_BY(purge_mu_);
  bool purge_everything_ ABSL_GUARDED_BY(purge_mu_) = false;
  uint64_t erasures_written_ ABSL_GUARDED_BY(purge_mu_) = 0;
  uint64_t erasures_purged_ ABSL_GUARDED_BY(purge_mu_) = 0;
  // Serializes PurgeErased.
  absl::Mutex purging_mu_;
};

}  // namespace sequencer::eventstore

#endif  // SEQUENCER_EVENTSTORE_ROCKSDB_EVENT_STORE_H_
