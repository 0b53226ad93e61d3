// An EventStore composed of a CommitLog (the replicated part: one record per
// Commit, eventstore/commit_log.h) and a DerivedState (the local part that
// answers reads, eventstore/derived_state.h).
//
// Commit: checks the batch's expected versions against the derived state,
// appends the record (the appends with the versions as checked, and the index
// writes) to the log with the log position the state reflects as the
// expected last position, then applies the record to the state and returns.
// When the log refuses the append because another writer appended first
// (ABORTED), the store applies the records it missed and decides again (a
// batch whose expected versions no longer hold is then answered ABORTED, as
// for any version conflict); it gives up with ABORTED after kMaxAppendAttempts
// refusals in a row. A batch that writes nothing (no events, no index writes)
// is checked against the derived state and appends no record.
//
// Open (and CatchUp) apply the log's records past the state's
// AppliedPosition, so a restart with a durable derived state applies only the
// records it misses, and an empty derived state is rebuilt from the log.
//
// Errors beyond EventStore's: when the log's append fails other than ABORTED
// (I/O, transport), Commit returns that error, and the record may or may not
// be in the log: the next Commit or CatchUp applies it if it is. When the
// state fails to apply a record for I/O (e.g. UNAVAILABLE, a full disk), the
// record is in the log and Commit returns that error; the next Commit or
// CatchUp applies it. When a record does not apply to the state (INTERNAL:
// the log and the state disagree), Commit returns INTERNAL and the store
// refuses every later Commit (WriteState) until it is reopened.
//
// Reads reflect the records this store has applied: another writer's commits
// become visible after this store's next Commit or CatchUp. Commits are
// serialized (no group commit: each Commit costs one log append).
//
// Thread-safe. `log` and `state` are not owned and must outlive the store.

#ifndef SEQUENCER_EVENTSTORE_LOG_BACKED_EVENT_STORE_H_
#define SEQUENCER_EVENTSTORE_LOG_BACKED_EVENT_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "eventstore/commit_log.h"
#include "eventstore/derived_state.h"
#include "eventstore/event_store.h"

namespace sequencer::eventstore {

class LogBackedEventStore final : public EventStore {
 public:
  static constexpr int kMaxAppendAttempts = 8;

  // Applies the log's records past state->AppliedPosition(), then returns the
  // store. Errors: the log's read errors; INTERNAL when a record does not
  // apply to the state.
  static absl::StatusOr<std::unique_ptr<LogBackedEventStore>> Open(
      CommitLog* log, DerivedState* state);

  LogBackedEventStore(const LogBackedEventStore&) = delete;
  LogBackedEventStore& operator=(const LogBackedEventStore&) = delete;

  // Applies the records other writers appended since this store last looked.
  absl::Status CatchUp();

  absl::StatusOr<CommitResult> Commit(const CommitBatch& batch) override;
  absl::Status WriteState() const override;
  void SetWriteStateObserver(
      std::function<void(const absl::Status&)> observer) override;

  absl::StatusOr<std::vector<StoredEvent>> ReadStream(
      absl::string_view stream, uint64_t from_version,
      size_t max_count) const override {
    return state_->ReadStream(stream, from_version, max_count);
  }
  absl::StatusOr<uint64_t> StreamVersion(
      absl::string_view stream) const override {
    return state_->StreamVersion(stream);
  }
  absl::StatusOr<std::vector<StoredEvent>> ReadAll(
      uint64_t from_position, size_t max_count) const override {
    return state_->ReadAll(from_position, max_count);
  }
  absl::Status ScanStreams(
      absl::string_view prefix,
      const std::function<absl::Status(const StoredEventView&)>& visit)
      const override {
    return state_->ScanStreams(prefix, visit);
  }
  uint64_t LastPosition() const override { return state_->LastPosition(); }
  absl::StatusOr<std::optional<std::string>> GetIndex(
      absl::string_view key) const override {
    return state_->GetIndex(key);
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanIndex(
      absl::string_view prefix, absl::string_view start_after,
      size_t max_count) const override {
    return state_->ScanIndex(prefix, start_after, max_count);
  }

 private:
  LogBackedEventStore(CommitLog* log, DerivedState* state)
      : log_(log), state_(state) {}

  absl::Status CatchUpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_);
  // The error for a failed DerivedState::Apply, prefixed with `context`.
  // INTERNAL or FAILED_PRECONDITION (the log and the state disagree) fail
  // the store; any other error (I/O: nothing applied) is returned as is.
  absl::Status ApplyFailed(const absl::Status& applied,
                           absl::string_view context);
  // Remembers that the state no longer follows the log, and tells the
  // observer.
  void Fail(const absl::Status& error);

  CommitLog* const log_;
  DerivedState* const state_;

  // Serializes Commit and CatchUp (the state's Apply).
  absl::Mutex commit_mu_;

  mutable absl::Mutex failed_mu_;
  absl::Status failed_ ABSL_GUARDED_BY(failed_mu_);

  absl::Mutex observer_mu_;
  std::function<void(const absl::Status&)> observer_
      ABSL_GUARDED_BY(observer_mu_);
};

}  // namespace sequencer::eventstore

#endif  // SEQUENCER_EVENTSTORE_LOG_BACKED_EVENT_STORE_H_
