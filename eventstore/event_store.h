// The event log: append-only streams with a contiguous global order, plus a
// small keyspace of index entries (projections, idempotency records) committed
// atomically with the events.
//
// A stream is named by an opaque string (e.g.
// "r/<tenant>/<sequence>/<recipient>"); its events are numbered 1, 2, 3, ...
// (the stream version is the number of events in it; 0 = empty). Every
// committed event also gets a global position 1, 2, 3, ... without gaps, in
// commit order.
//
// Implementations: RocksDbEventStore (eventstore/rocksdb_event_store.h,
// durable), InMemoryEventStore (eventstore/in_memory_event_store.h, for
// tests) and LogBackedEventStore (eventstore/log_backed_event_store.h: a
// CommitLog, the replicated part, plus a DerivedState, the local part). All
// pass the same contract suite
// (tests/eventstore/event_store_contract_test.cc).
//
// Thread-safety: all methods may be called concurrently. Commit is
// linearizable: a Commit that returned OK is visible to every read that starts
// after it returns. Concurrent Commits are grouped so that one fsync serves
// many (group commit).

#ifndef SEQUENCER_EVENTSTORE_EVENT_STORE_H_
#define SEQUENCER_EVENTSTORE_EVENT_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sequencer::eventstore {

// Expected version meaning "whatever the stream's version is".
inline constexpr int64_t kAnyVersion = -1;

struct NewEvent {
  // A short type name, e.g. "Paused". Opaque to the store.
  std::string type;
  // The serialized event. Opaque to the store.
  std::string data;
};

struct StreamAppend {
  std::string stream;
  // The version the stream must have before this append (0: the stream must be
  // empty), or kAnyVersion.
  int64_t expected_version = kAnyVersion;
  std::vector<NewEvent> events;
};

// A write or removal in the index keyspace.
struct IndexWrite {
  std::string key;
  // nullopt removes the key.
  std::optional<std::string> value;
};

// Erasing a stream (e.g. a deleted recipient's events, which hold personal
// data): its events are removed as if never written, except that their global
// positions stay used: ReadAll skips them, LastPosition never goes down, and
// no later event takes them. The stream is empty afterwards (version 0) and
// may be written again from version 1. The log keeps no copy of the erased
// events: the records that appended them keep only how many there were.
struct StreamErasure {
  std::string stream;
  // The version the stream must have (0: it must be empty), or kAnyVersion.
  int64_t expected_version = kAnyVersion;
  // Index keys removed now, and whose writes are removed from the log's
  // records that appended to the stream (e.g. idempotency records whose
  // recorded responses hold the stream's data). Writes to them in other
  // records stay (they must not hold the erased data).
  std::vector<std::string> forget_keys;
};

// Everything one Commit writes, atomically: all of it or none of it. The
// erasures apply first, then the appends, then the index writes.
struct CommitBatch {
  std::vector<StreamAppend> appends;
  std::vector<IndexWrite> index_writes;
  std::vector<StreamErasure> erasures = {};
};

struct CommitResult {
  // Global positions of the first and last event written; both 0 when no event
  // was written.
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  // The version of each stream after the commit, in the order of
  // CommitBatch::appends.
  std::vector<uint64_t> stream_versions;
};

struct StoredEvent {
  std::string stream;
  uint64_t version = 0;
  uint64_t position = 0;
  std::string type;
  std::string data;
};

// One event as EventStore::ScanStreams shows it: the views point into the
// store's buffers and are valid only during the visitor's call.
struct StoredEventView {
  absl::string_view stream;
  uint64_t version = 0;
  uint64_t position = 0;
  absl::string_view type;
  absl::string_view data;
};

// What a store reports about itself, for metrics (all zero when it keeps
// nothing of the kind). Counters only grow.
struct StoreStats {
  // Commit calls that wrote, and the durable writes (groups) that served
  // them: commits / groups is the mean group size.
  uint64_t commits = 0;
  uint64_t group_writes = 0;
  // Time spent in those writes (each one fsync'd), and how many took at most
  // each bound of kWriteSecondsBounds (cumulative counts, as Prometheus
  // histograms have them; the last bucket is everything).
  double write_seconds = 0;
  static constexpr double kWriteSecondsBounds[] = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
      0.01,   0.025,   0.05,   0.1,   0.25,   1.0};
  uint64_t writes_at_most[sizeof(kWriteSecondsBounds) / sizeof(double)] = {};
  // Bytes of the store's files (tables and write-ahead logs).
  uint64_t disk_bytes = 0;
  // Background errors seen by the storage engine, writes stopped now (1/0)
  // and the rate writes are slowed to (bytes/s, 0: not slowed).
  uint64_t background_errors = 0;
  uint64_t writes_stopped = 0;
  uint64_t delayed_write_rate = 0;
  // Commits refused because the store was failed (e.g. a full disk).
  uint64_t refused_commits = 0;
};

class EventStore {
 public:
  // See StoreStats. Default: all zero.
  virtual StoreStats Stats() const { return {}; }

  virtual ~EventStore() = default;

  // Appends the events and applies the index writes in one atomic, durable
  // write (on disk and fsync'd before returning OK, for the durable
  // implementation). Several appends in one batch may name the same stream;
  // each one's expected version is checked against the stream as left by the
  // appends before it in the batch.
  //
  // Errors: ABORTED (nothing written) when an expected version does not match,
  // naming the stream, expected and actual version; INVALID_ARGUMENT when a
  // stream name or index key is empty (forget keys included), or a stream is
  // erased twice in one batch; UNIMPLEMENTED when the implementation cannot
  // erase (LogBackedEventStore); INTERNAL / UNAVAILABLE on I/O failure
  // (then nothing is guaranteed to be written, and the store refuses further
  // commits until it recovers: see WriteState); FAILED_PRECONDITION when the
  // store was opened read-only.
  virtual absl::StatusOr<CommitResult> Commit(const CommitBatch& batch) = 0;

  // Makes the erasures committed so far physically gone from the store's
  // files: no file it keeps (write-ahead logs included) holds an erased event
  // or a forgotten index value afterwards. Blocks until done; safe to call
  // concurrently with commits (erasures committed during the call may need
  // another call). Errors: the store's I/O errors; FAILED_PRECONDITION when
  // opened read-only. Default: OK (a store that keeps nothing on disk).
  virtual absl::Status PurgeErased() { return absl::OkStatus(); }

  // OK while Commit accepts writes; otherwise the error Commit answers without
  // trying (e.g. UNAVAILABLE after a write failed because the disk is full,
  // until the store has recovered). Reads work either way.
  virtual absl::Status WriteState() const { return absl::OkStatus(); }

  // Registers `observer` (nullptr: none), called with the new WriteState each
  // time it may have changed, from whichever thread noticed (a committing one
  // or the store's own). A failed write is reported before any Commit of its
  // group returns. It must not call into the store. When this returns, no call
  // of the previous observer is running. Default: never called.
  virtual void SetWriteStateObserver(
      std::function<void(const absl::Status&)> observer) {}

  // Events of `stream` with version >= from_version, oldest first, at most
  // max_count. An unknown stream has no events (not an error).
  virtual absl::StatusOr<std::vector<StoredEvent>> ReadStream(
      absl::string_view stream, uint64_t from_version,
      size_t max_count) const = 0;

  // The stream's version (number of events); 0 for an unknown stream.
  virtual absl::StatusOr<uint64_t> StreamVersion(
      absl::string_view stream) const = 0;

  // Events of every stream with position >= from_position, in position order,
  // at most max_count. Erased positions are skipped (the positions of the
  // events returned may have holes).
  virtual absl::StatusOr<std::vector<StoredEvent>> ReadAll(
      uint64_t from_position, size_t max_count) const = 0;

  // Calls `visit` with every event of every stream whose name starts with
  // `prefix` ("" for all streams), in stream-name order (bytewise) and, within
  // a stream, in version order; stops at the first status `visit` returns that
  // is not OK, and returns it. The read is one consistent snapshot. Meant for
  // whole-log passes (sequencerctl verify): the durable implementation reads
  // its files sequentially, with readahead, and leaves its cache alone, so a
  // scan costs one sequential read of the log and no lookup per event.
  // Errors: the store's read errors; INTERNAL for a malformed stored event.
  //
  // The default implementation (for stores written for tests) reads the whole
  // log with ReadAll into memory and sorts it.
  virtual absl::Status ScanStreams(
      absl::string_view prefix,
      const std::function<absl::Status(const StoredEventView&)>& visit) const;

  // ScanStreams over the streams whose name is >= `from` and < `to` (no upper
  // bound when `to` is empty) instead of a prefix, with the same order,
  // snapshot, errors and costs. Meant for splitting one whole-log pass into
  // ranges scanned in parallel (see StreamSplitPoints).
  //
  // The default implementation reads the whole log with ReadAll, as
  // ScanStreams' default does.
  virtual absl::Status ScanStreamRange(
      absl::string_view from, absl::string_view to,
      const std::function<absl::Status(const StoredEventView&)>& visit) const;

  // At most `parts - 1` stream names, ascending, each starting with `prefix`
  // and naming a stream that has events, that split the streams starting with
  // `prefix` into `parts` ranges of roughly equal stored size (range i starts
  // at point i - 1, or at `prefix`, and ends before point i). A hint for
  // scanning them in parallel: any answer covers every stream, only the
  // balance depends on it, and fewer points (none) are always allowed. The
  // durable implementation estimates sizes from its table files, without
  // reading the log.
  //
  // The default implementation returns none.
  virtual absl::StatusOr<std::vector<std::string>> StreamSplitPoints(
      absl::string_view prefix, int parts) const;

  // Calls `visit` with each erased global position (see StreamErasure),
  // ascending; stops at the first status `visit` returns that is not OK, and
  // returns it. One consistent snapshot. Default: none (a store that cannot
  // erase).
  virtual absl::Status VisitErasedPositions(
      const std::function<absl::Status(uint64_t position)>& visit) const {
    return absl::OkStatus();
  }

  // The position of the last committed event; 0 when the log is empty.
  virtual uint64_t LastPosition() const = 0;

  // The value of an index key, or nullopt when absent.
  virtual absl::StatusOr<std::optional<std::string>> GetIndex(
      absl::string_view key) const = 0;

  // Index entries whose key starts with `prefix` and is > `start_after` (all
  // when empty), in key order, at most max_count.
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
  ScanIndex(absl::string_view prefix, absl::string_view start_after,
            size_t max_count) const = 0;

  // Calls `visit` with every index entry whose key starts with `prefix` ("" for
  // all) and is > `start_after` (all when empty), as ScanIndex would list
  // them, in key order, without copying them out: the views are valid only
  // during the call. Stops at the first status `visit` returns that is not OK,
  // and returns it. The read is one consistent snapshot. Meant for whole-index
  // passes (sequencerctl verify); like ScanStreams, the durable implementation
  // reads sequentially with readahead and leaves its cache alone. Errors: the
  // store's read errors.
  //
  // The default implementation calls ScanIndex in chunks (each chunk is one
  // read, the whole is not one snapshot).
  virtual absl::Status VisitIndex(
      absl::string_view prefix, absl::string_view start_after,
      const std::function<absl::Status(absl::string_view key,
                                       absl::string_view value)>& visit) const;

  // Writes a consistent copy of the whole store, as of one instant between
  // commits (every commit entirely or not at all), into `directory`, which
  // must not exist yet; its parent must. The copy is a store of the same
  // kind that opens like the original (for the durable implementation: a
  // RocksDB checkpoint, hard links where the file system allows, flushed
  // first so that it needs no write-ahead log). Commits may go on meanwhile.
  // Errors: INVALID_ARGUMENT when `directory` is empty, not absolute, or its
  // parent is not a directory; ALREADY_EXISTS when it exists (then nothing is
  // written); the store's I/O errors (then nothing is left at `directory`).
  //
  // The default implementation answers UNIMPLEMENTED.
  virtual absl::Status Checkpoint(const std::string& directory);
};

}  // namespace sequencer::eventstore

#endif  // SEQUENCER_EVENTSTORE_EVENT_STORE_H_
