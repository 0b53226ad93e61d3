// Typed reads of the indexes (app/storage/store_layout.h): callers get ids and
// parsed entries, never raw keys. The queue scans (DueBefore, ReadyFor) take
// and give the cursor as a full key so that callers can start them at the
// queue fronts (app/runtime/queue_fronts.h). Thread-safe (the store is).

#ifndef SEQUENCER_APP_STORAGE_INDEXES_H_
#define SEQUENCER_APP_STORAGE_INDEXES_H_

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "app/storage/store_layout.h"
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

// Entries of a queue index, in queue order.
template <typename Entry>
struct QueueScan {
  struct Item {
    // The entry's place in its queue (QueueFronts' unit: the key without
    // the queue's prefix).
    std::string queue_entry;
    // What the key names; nullopt for a malformed key (to be left alone).
    std::optional<Entry> entry;
  };
  std::vector<Item> items;
  // The key to pass as `start_after` to continue.
  std::string last_key;
  // No entry follows `last_key` (as of this read).
  bool end = false;
};

// The scheduler's queue (due/) after `start_after` (a full key; "" from the
// start), at most `limit` entries, stopping before the first entry due after
// `now`, whose queue entry is then `first_later`.
struct DueScan : QueueScan<layout::DueEntry> {
  std::string first_later;
};
absl::StatusOr<DueScan> DueBefore(const eventstore::EventStore& store,
                                  absl::Time now, absl::string_view start_after,
                                  size_t limit);

// A delivery queue (layout::ReadyPrefix of `tenant`, `channel`) after
// `start_after`, at most `limit` entries, oldest due first.
absl::StatusOr<QueueScan<layout::ReadyEntry>> ReadyFor(
    const eventstore::EventStore& store, absl::string_view tenant,
    absl::string_view channel, absl::string_view start_after, size_t limit);

}  // namespace sequencer::app::indexes

#endif  // SEQUENCER_APP_STORAGE_INDEXES_H_
