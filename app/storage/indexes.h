// Typed reads of the listing indexes (app/storage/store_layout.h): callers
// get ids, never keys. The scheduler's and the delivery queues' entries are
// read through layout::ParseDueKey / ParseReadyKey where the queues are
// scanned (app/runtime/scheduler.cc, app/use_cases/delivery.cc), because those
// scans start at the queue fronts (app/runtime/queue_fronts.h).
// Thread-safe (the store is).

#ifndef SEQUENCER_APP_STORAGE_INDEXES_H_
#define SEQUENCER_APP_STORAGE_INDEXES_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "domain/model.h"
#include "eventstore/event_store.h"

namespace sequencer::app::indexes {

struct IdPage {
  std::vector<std::string> ids;
  // More ids follow the last one.
  bool more = false;
};

// The sequence's listed recipients (enrolled, not deleted) with one of
// `statuses` (all when empty), ids in order after `after` (empty: from the
// start), at most `limit`.
absl::StatusOr<IdPage> ListRecipients(
    const eventstore::EventStore& store, absl::string_view tenant,
    absl::string_view sequence_id,
    const std::set<domain::RecipientStatus>& statuses, absl::string_view after,
    int limit);

// The tenant's sequences, ids in order after `after`, at most `limit`.
absl::StatusOr<IdPage> ListSequences(const eventstore::EventStore& store,
                                     absl::string_view tenant,
                                     absl::string_view after, int limit);

}  // namespace sequencer::app::indexes

#endif  // SEQUENCER_APP_STORAGE_INDEXES_H_
