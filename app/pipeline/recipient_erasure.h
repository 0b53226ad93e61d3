// Delete erases (product.md, "Delete"): what a recipient's deletion writes.
//
// The recipient's stream is erased (eventstore::StreamErasure: its events are
// removed, and the log's records keep only how many there were), and so is
// every index entry about it: its listing and queue entries, and the
// idempotency records of its own requests, whose recorded responses hold its
// contact fields and content (the records of requests that spoke for many
// recipients at once, such as enrollment, bulk actions and sequence pauses,
// hold no recipient data and stay). The log keeps a tombstone without
// personal data: the Deleted event (who, when, which request) appended to the
// recipient's deletion stream (layout::DeletionStream). The recipient id may
// then be enrolled again, as a new recipient.

#ifndef SEQUENCER_APP_PIPELINE_RECIPIENT_ERASURE_H_
#define SEQUENCER_APP_PIPELINE_RECIPIENT_ERASURE_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "app/storage/repository.h"
#include "domain/events.h"
#include "domain/model.h"
#include "eventstore/event_store.h"

namespace sequencer::app {

// True when the idempotency record of a call to `method` (a full RPC method
// name) may hold one recipient's data, so that the recipient's erasure must
// forget it: every method but those that act on many recipients at once or
// hold no recipient data (enrollment, bulk actions, the delete itself, the
// sequence service's).
bool RecordMayHoldOneRecipient(absl::string_view method);

// Adds the erasure of the recipient (state `before`, at its stream's version)
// to `batch`, with `deleted` (a Deleted event as decided) as its tombstone.
// Reads the recipient's events (for their request ids) and those requests'
// idempotency records. Errors: the store's.
absl::Status AddRecipientErasure(
    const Repository& repository, absl::string_view tenant,
    absl::string_view sequence_id, absl::string_view recipient_id,
    const domain::Recipient& before, const domain::RecipientEvent& deleted,
    const domain::Sequence& sequence, eventstore::CommitBatch* batch);

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_PIPELINE_RECIPIENT_ERASURE_H_
