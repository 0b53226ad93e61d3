// A DerivedState held in memory (eventstore/derived_state.h), for tests and
// for LogBackedEventStore over a log that lives elsewhere. Not durable: a new
// one starts empty (AppliedPosition 0) and catches up from the whole log.
//
// Thread-safe.

#ifndef SEQUENCER_EVENTSTORE_IN_MEMORY_DERIVED_STATE_H_
#define SEQUENCER_EVENTSTORE_IN_MEMORY_DERIVED_STATE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "eventstore/derived_state.h"
#include "eventstore/in_memory_event_store.h"

namespace sequencer::eventstore {

class InMemoryDerivedState final : public DerivedState {
 public:
  InMemoryDerivedState() = default;
  InMemoryDerivedState(const InMemoryDerivedState&) = delete;
  InMemoryDerivedState& operator=(const InMemoryDerivedState&) = delete;

  absl::Status Apply(uint64_t log_position,
                     const CommitRecord& record) override;
  uint64_t AppliedPosition() const override;

  absl::StatusOr<std::vector<StoredEvent>> ReadStream(
      absl::string_view stream, uint64_t from_version,
      size_t max_count) const override {
    return events_.ReadStream(stream, from_version, max_count);
  }
  absl::StatusOr<uint64_t> StreamVersion(
      absl::string_view stream) const override {
    return events_.StreamVersion(stream);
  }
  absl::StatusOr<std::vector<StoredEvent>> ReadAll(
      uint64_t from_position, size_t max_count) const override {
    return events_.ReadAll(from_position, max_count);
  }
  absl::Status ScanStreams(
      absl::string_view prefix,
      const std::function<absl::Status(const StoredEventView&)>& visit)
      const override {
    return events_.ScanStreams(prefix, visit);
  }
  uint64_t LastPosition() const override { return events_.LastPosition(); }
  absl::StatusOr<std::optional<std::string>> GetIndex(
      absl::string_view key) const override {
    return events_.GetIndex(key);
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanIndex(
      absl::string_view prefix, absl::string_view start_after,
      size_t max_count) const override {
    return events_.ScanIndex(prefix, start_after, max_count);
  }

 private:
  // Serializes Apply.
  absl::Mutex apply_mu_;
  // Applying a record is committing it as a batch whose expected versions
  // are the record's: InMemoryEventStore checks them and writes all or
  // nothing.
  InMemoryEventStore events_;
  std::atomic<uint64_t> applied_{0};
};

}  // namespace sequencer::eventstore

#endif  // SEQUENCER_EVENTSTORE_IN_MEMORY_DERIVED_STATE_H_
