// Recipients deleted before deletion erased (sequencerd before issue 11):
// their stream ends in a Deleted event and still holds their personal data.
// EraseKeptDeletions erases each of them the way a deletion does now
// (app/pipeline/recipient_erasure.h), with its own Deleted event (who, when,
// which request) as its tombstone.
//
// Run at start-up, before anything is served. It scans every recipient
// stream once (layout::kRecipientStreamPrefix), commits up to
// kKeptDeletionsPerCommit erasures per commit, then records that the store
// has none left (index key kKeptDeletionsErasedKey), so later starts skip the
// scan. Interrupted, it starts again at the next start (an erased recipient is
// not found again).

#ifndef SEQUENCER_APP_USE_CASES_KEPT_DELETIONS_H_
#define SEQUENCER_APP_USE_CASES_KEPT_DELETIONS_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "app/app_deps.h"

namespace sequencer::app {

inline constexpr char kKeptDeletionsErasedKey[] = "maint/kept-deletions-erased";
inline constexpr int kKeptDeletionsPerCommit = 256;

// How many recipients were erased (0 when the store had none, or was done
// before). Errors: the store's; DATA_LOSS for an undecodable event.
absl::StatusOr<uint64_t> EraseKeptDeletions(const AppDeps& deps);

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_USE_CASES_KEPT_DELETIONS_H_
