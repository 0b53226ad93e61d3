// An EventStore held in memory, for tests. Not durable; otherwise it honours
// the same contract as RocksDbEventStore
// (tests/eventstore/event_store_contract_test.cc runs against both).
//
// Thread-safe: one mutex serializes commits and reads.

#ifndef SEQUENCER_EVENTSTORE_IN_MEMORY_EVENT_STORE_H_
#define SEQUENCER_EVENTSTORE_IN_MEMORY_EVENT_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
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

namespace sequencer::eventstore {

class InMemoryEventStore final : public EventStore {
 public:
  InMemoryEventStore() = default;
  InMemoryEventStore(const InMemoryEventStore&) = delete;
  InMemoryEventStore& operator=(const InMemoryEventStore&) = delete;

  absl::StatusOr<CommitResult> Commit(const CommitBatch& batch) override;
  absl::Status VisitErasedPositions(
      const std::function<absl::Status(uint64_t position)>& visit)
      const override;
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
  // Exact: the streams split by their number of events.
  absl::StatusOr<std::vector<std::string>> StreamSplitPoints(
      absl::string_view prefix, int parts) const override;
  // Copies the entries under the lock (one snapshot), then visits them.
  absl::Status VisitIndex(
      absl::string_view prefix, absl::string_view start_after,
      const std::function<absl::Status(absl::string_view key,
                                       absl::string_view value)>& visit)
      const override;

 private:
  mutable absl::Mutex mu_;
  // log_[p - 1] is the event at global position p.
  std::vector<StoredEvent> log_ ABSL_GUARDED_BY(mu_);
  // For each stream, the global positions of its events in version order.
  std::map<std::string, std::vector<uint64_t>, std::less<>> streams_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string, std::less<>> index_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sequencer::eventstore

#endif  // SEQUENCER_EVENTSTORE_IN_MEMORY_EVENT_STORE_H_
