// The local part of the event store: the state derived from the commit log
// (eventstore/commit_log.h) by applying its records in order, and the read
// side of EventStore over it: streams with their versions and global event
// positions, the index keyspace.
//
// The state records the log position it reflects (AppliedPosition), stored
// with it atomically: after a crash it reflects exactly the records up to that
// position, so catching up means applying the records after it.
//
// Applying a record: its appends in order (each stream's events get versions
// after the stream's current one, and the next global positions, in order),
// then its index writes in order (a put sets the key, a delete removes it).
// Deterministic: the same records from an empty state give the same state.
//
// Implementations: InMemoryDerivedState (eventstore/in_memory_derived_state.h)
// and RocksDbEventStore opened with Options::external_log (durable).
//
// Thread-safety: reads may run concurrently with each other and with Apply;
// Apply is called by one thread at a time (the committer). A read sees the
// state before or after each Apply, never half of one.

#ifndef SEQUENCER_EVENTSTORE_DERIVED_STATE_H_
#define SEQUENCER_EVENTSTORE_DERIVED_STATE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "eventstore/commit_log.h"
#include "eventstore/event_store.h"

namespace sequencer::eventstore {

class DerivedState {
 public:
  virtual ~DerivedState() = default;

  // Applies the record at `log_position`, which must be AppliedPosition() + 1,
  // and advances AppliedPosition to it, atomically (all or nothing).
  // Errors: FAILED_PRECONDITION (nothing applied) when `log_position` is not
  // the next one; INTERNAL (nothing applied) when an append's
  // expected_version is not the stream's version (the record was not decided
  // on this state: the log and the state disagree); I/O errors.
  virtual absl::Status Apply(uint64_t log_position,
                             const CommitRecord& record) = 0;

  // The log position of the last record applied; 0 for an empty state.
  virtual uint64_t AppliedPosition() const = 0;

  // The read side, with EventStore's contracts (eventstore/event_store.h).
  virtual absl::StatusOr<std::vector<StoredEvent>> ReadStream(
      absl::string_view stream, uint64_t from_version,
      size_t max_count) const = 0;
  virtual absl::StatusOr<uint64_t> StreamVersion(
      absl::string_view stream) const = 0;
  virtual absl::StatusOr<std::vector<StoredEvent>> ReadAll(
      uint64_t from_position, size_t max_count) const = 0;
  virtual absl::Status ScanStreams(
      absl::string_view prefix,
      const std::function<absl::Status(const StoredEventView&)>& visit)
      const = 0;
  // The global position of the last event applied; 0 when none.
  virtual uint64_t LastPosition() const = 0;
  virtual absl::StatusOr<std::optional<std::string>> GetIndex(
      absl::string_view key) const = 0;
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
  ScanIndex(absl::string_view prefix, absl::string_view start_after,
            size_t max_count) const = 0;
};

}  // namespace sequencer::eventstore

#endif  // SEQUENCER_EVENTSTORE_DERIVED_STATE_H_
