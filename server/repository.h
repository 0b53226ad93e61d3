// Loads domain state by folding a stream's events, and turns decided events
// into store writes. Recipient and sequence state are projections of their own
// streams; the listing indexes (server/store_layout.h) are projections kept in
// the same atomic commit as the events. Thread-safe (the store is).

#ifndef SEQUENCER_SERVER_REPOSITORY_H_
#define SEQUENCER_SERVER_REPOSITORY_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "domain/events.h"
#include "domain/model.h"
#include "eventstore/event_store.h"
#include "sequencer/v1/events.pb.h"

namespace sequencer::server {

class Repository {
 public:
  // `store` must outlive the repository.
  explicit Repository(eventstore::EventStore* store) : store_(*store) {}

  eventstore::EventStore& store() const { return store_; }

  // The folded state; `exists` is false for an unknown id. DATA_LOSS for an
  // undecodable event.
  absl::StatusOr<domain::Sequence> LoadSequence(
      absl::string_view tenant, absl::string_view sequence_id) const;
  absl::StatusOr<domain::Recipient> LoadRecipient(
      absl::string_view tenant, absl::string_view sequence_id,
      absl::string_view recipient_id) const;

  // As above, but NOT_FOUND for an unknown sequence, or an unknown or deleted
  // recipient.
  absl::StatusOr<domain::Sequence> GetSequence(
      absl::string_view tenant, absl::string_view sequence_id) const;
  absl::StatusOr<domain::Recipient> GetRecipient(
      absl::string_view tenant, absl::string_view sequence_id,
      absl::string_view recipient_id) const;

  // The recipient's stored events, oldest first, with versions and positions.
  absl::StatusOr<std::vector<std::pair<eventstore::StoredEvent, v1::Event>>>
  ReadRecipientEvents(absl::string_view tenant, absl::string_view sequence_id,
                      absl::string_view recipient_id) const;

  static eventstore::NewEvent Encode(const domain::SequenceEvent& event);
  static eventstore::NewEvent Encode(const domain::RecipientEvent& event);

  // The index entries (key -> value) that the recipient's state implies:
  // listing (rl/, rs/) while it exists and is not deleted; the scheduler's
  // due/ entry while it waits for a delay, or at the deadline of a send in
  // flight; the delivery queue's ready/ entry while an automatic step waits
  // for a worker. See server/store_layout.h.
  static std::map<std::string, std::string> ProjectionEntries(
      absl::string_view tenant, absl::string_view sequence_id,
      absl::string_view recipient_id, const domain::Recipient& recipient,
      const domain::Sequence& sequence);

  // Index writes that move the stored projections from `before` to `after`.
  static std::vector<eventstore::IndexWrite> ProjectionWrites(
      absl::string_view tenant, absl::string_view sequence_id,
      absl::string_view recipient_id, const domain::Recipient& before,
      const domain::Recipient& after, const domain::Sequence& sequence);

 private:
  eventstore::EventStore& store_;
};

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_REPOSITORY_H_
