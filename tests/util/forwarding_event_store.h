// An EventStore that passes every call to another store: the base of test
// stores that watch or change one call (count commits, hide an event, run a
// hook before a write) and forward the rest. The inner store must outlive it.

#ifndef SEQUENCER_TESTS_UTIL_FORWARDING_EVENT_STORE_H_
#define SEQUENCER_TESTS_UTIL_FORWARDING_EVENT_STORE_H_

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "eventstore/event_store.h"

namespace sequencer::testing {

class ForwardingEventStore : public eventstore::EventStore {
 public:
  explicit ForwardingEventStore(eventstore::EventStore* inner)
      : inner_(*inner) {}

  absl::StatusOr<eventstore::CommitResult> Commit(
      const eventstore::CommitBatch& batch) override {
    return inner_.Commit(batch);
  }
  absl::Status WriteState() const override { return inner_.WriteState(); }
  void SetWriteStateObserver(
      std::function<void(const absl::Status&)> observer) override {
    inner_.SetWriteStateObserver(std::move(observer));
  }
  absl::StatusOr<std::vector<eventstore::StoredEvent>> ReadStream(
      absl::string_view stream, uint64_t from_version,
      size_t max_count) const override {
    return inner_.ReadStream(stream, from_version, max_count);
  }
  absl::StatusOr<uint64_t> StreamVersion(
      absl::string_view stream) const override {
    return inner_.StreamVersion(stream);
  }
  absl::StatusOr<std::vector<eventstore::StoredEvent>> ReadAll(
      uint64_t from_position, size_t max_count) const override {
    return inner_.ReadAll(from_position, max_count);
  }
  absl::Status VisitErasedPositions(
      const std::function<absl::Status(uint64_t position)>& visit)
      const override {
    return inner_.VisitErasedPositions(visit);
  }
  absl::Status PurgeErased() override { return inner_.PurgeErased(); }
  uint64_t LastPosition() const override { return inner_.LastPosition(); }
  absl::StatusOr<std::optional<std::string>> GetIndex(
      absl::string_view key) const override {
    return inner_.GetIndex(key);
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanIndex(
      absl::string_view prefix, absl::string_view start_after,
      size_t max_count) const override {
    return inner_.ScanIndex(prefix, start_after, max_count);
  }

 protected:
  eventstore::EventStore& inner() const { return inner_; }

 private:
  eventstore::EventStore& inner_;
};

}  // namespace sequencer::testing

#endif  // SEQUENCER_TESTS_UTIL_FORWARDING_EVENT_STORE_H_
