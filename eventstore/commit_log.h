// The replicated part of the event store: an ordered log of commit records.
//
// One CommitRecord is what one EventStore::Commit wrote, as one atomic unit,
// whatever streams it touched: the stream appends (each with the version the
// stream had before it, as checked) and the index writes. Everything else the
// store keeps (stream versions, global event positions, the index keyspace)
// is derived state (eventstore/derived_state.h): replaying the records in log
// order from an empty state rebuilds it exactly.
//
// Records have log positions 1, 2, 3, ... without gaps; a record's log
// position is not an event's global position (one record holds zero or more
// events).
//
// Implementations: InMemoryCommitLog (below, for tests). RocksDbEventStore
// keeps the same records in its own database, next to the derived state, in
// the same atomic write (eventstore/FORMAT.md, `l/` keys). A replicated log
// (e.g. NATS JetStream, appending with an expected last sequence) is meant to
// implement this interface.

#ifndef SEQUENCER_EVENTSTORE_COMMIT_LOG_H_
#define SEQUENCER_EVENTSTORE_COMMIT_LOG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "eventstore/event_store.h"

namespace sequencer::eventstore {

// What one Commit wrote. Unlike CommitBatch, every append's expected_version
// is the stream's actual version before the append, as checked at commit time
// (never kAnyVersion), so that applying the record is deterministic and can
// verify that it applies to the state it was decided on.
//
// Erasure (EventStore's StreamErasure): a record that erased streams lists
// them in `erasures` (each with the stream's version before, as checked;
// forget_keys is not kept, their removal is among the index writes), applied
// before its appends. Each earlier record that appended to an erased stream is
// rewritten in place: that append is marked in `erased_appends` and keeps only
// its event count (the events' types and data are gone), and its writes to the
// forgotten keys are dropped. Replaying the log still assigns those events
// their versions and global positions, so later records apply as before.
struct CommitRecord {
  std::vector<StreamAppend> appends;
  std::vector<IndexWrite> index_writes;
  std::vector<StreamErasure> erasures = {};
  // erased_appends[i]: appends[i] was erased by a later record (its events are
  // empty placeholders). Empty or shorter than `appends`: the rest were not.
  std::vector<bool> erased_appends = {};

  bool IsErased(size_t append) const {
    return append < erased_appends.size() && erased_appends[append];
  }
};

bool operator==(const CommitRecord& a, const CommitRecord& b);
inline bool operator!=(const CommitRecord& a, const CommitRecord& b) {
  return !(a == b);
}

// The record's encoding (eventstore/FORMAT.md, "Commit record"):
// deterministic, so equal records have equal bytes.
std::string EncodeCommitRecord(const CommitRecord& record);

// The same record with its events' types and data left out, only their
// number kept (record format 2): for a store that keeps the events elsewhere
// (RocksDbEventStore's `l/` values, whose events are its `s/` keys).
// `versions_before[i]` is the version of appends[i].stream before it (the
// appends' own expected_version is ignored).
// `erasures` as in CommitRecord (their expected_version is the version
// before); records without erasures or erased appends keep format 2.
std::string EncodeCommitRecordWithoutEvents(
    const std::vector<StreamAppend>& appends,
    const std::vector<uint64_t>& versions_before,
    const std::vector<IndexWrite>& index_writes,
    const std::vector<StreamErasure>& erasures = {},
    const std::vector<bool>& erased_appends = {});

// Decodes any format. A record without events (format 2 or 4) has appends
// holding as many events as were written, each empty; `*without_events` (if
// not null) tells which.
// INTERNAL ("malformed commit record ...") when `bytes` is not an encoding
// of a record (truncated, trailing bytes, unknown record format or write
// kind).
absl::StatusOr<CommitRecord> DecodeCommitRecord(absl::string_view bytes,
                                                bool* without_events = nullptr);

struct LoggedRecord {
  uint64_t position = 0;
  CommitRecord record;
};

class CommitLog {
 public:
  virtual ~CommitLog() = default;

  // Appends `record` if the log's last position is `expected_last_position`
  // (0: the log must be empty), and returns its position
  // (expected_last_position + 1). The record is durable when this returns OK
  // (for a replicated log: acknowledged by its quorum).
  //
  // Errors: ABORTED, nothing appended, when the last position differs
  // (another writer appended first: read its records, apply them, decide
  // again); INVALID_ARGUMENT when the record holds a kAnyVersion append, an
  // invalid stream name or an empty index key; UNAVAILABLE / INTERNAL on I/O
  // or transport failure, in which case the record may or may not have been
  // appended (Read tells).
  virtual absl::StatusOr<uint64_t> Append(const CommitRecord& record,
                                          uint64_t expected_last_position) = 0;

  // The records with position >= from_position, in position order, at most
  // max_count; fewer (none) at the end of the log. Errors: I/O or transport
  // failure; INTERNAL for a malformed stored record.
  virtual absl::StatusOr<std::vector<LoggedRecord>> Read(
      uint64_t from_position, size_t max_count) const = 0;

  // The position of the last record; 0 when the log is empty.
  virtual absl::StatusOr<uint64_t> LastPosition() const = 0;
};

// A CommitLog in memory, for tests: records are kept encoded, so every Read
// decodes what Append encoded. Thread-safe (one mutex).
class InMemoryCommitLog final : public CommitLog {
 public:
  InMemoryCommitLog() = default;
  InMemoryCommitLog(const InMemoryCommitLog&) = delete;
  InMemoryCommitLog& operator=(const InMemoryCommitLog&) = delete;

  absl::StatusOr<uint64_t> Append(const CommitRecord& record,
                                  uint64_t expected_last_position) override;
  absl::StatusOr<std::vector<LoggedRecord>> Read(
      uint64_t from_position, size_t max_count) const override;
  absl::StatusOr<uint64_t> LastPosition() const override;

 private:
  mutable absl::Mutex mu_;
  // records_[p - 1] is the encoded record at position p.
  std::vector<std::string> records_ ABSL_GUARDED_BY(mu_);
};

// INVALID_ARGUMENT unless every append and erasure names a valid stream with
// an expected version >= 0 and every index key is non-empty.
absl::Status ValidateCommitRecord(const CommitRecord& record);

// What a DerivedState checks before applying `record` at `log_position` when it
// reflects `applied`: FAILED_PRECONDITION unless the record is the next one;
// INTERNAL (naming the position) for a record ValidateCommitRecord refuses.
absl::Status CheckNextRecord(uint64_t log_position, uint64_t applied,
                             const CommitRecord& record);

}  // namespace sequencer::eventstore

#endif  // SEQUENCER_EVENTSTORE_COMMIT_LOG_H_
