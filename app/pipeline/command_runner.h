// The one pipeline every change to a recipient goes through, whoever asks
// (an API call, the scheduler, a delivery worker):
//
//   validate ids -> lock the recipient (and the request id) -> answer a
//   retried request id with its first outcome -> fold the sequence and the
//   recipient -> check the expected version (ABORTED) -> domain::Decide ->
//   commit events + projection index changes + idempotency record in one
//   durable write -> notify waiting workers.
//
// A refusal writes nothing. Thread-safe.

#ifndef SEQUENCER_APP_PIPELINE_COMMAND_RUNNER_H_
#define SEQUENCER_APP_PIPELINE_COMMAND_RUNNER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "app/app_deps.h"
#include "app/call_context.h"
#include "domain/events.h"
#include "domain/model.h"
#include "domain/recipient.h"
#include "google/protobuf/message.h"

namespace sequencer::app {

struct RecipientCommandRequest {
  // Full RPC method name; part of the idempotency record.
  std::string method;
  // Recorded on the events. With `idempotent`, also the retry key.
  std::string request_id;
  bool idempotent = true;
  std::string sequence_id;
  std::string recipient_id;
  std::optional<uint64_t> expected_version;
  // RequestFingerprint of the request (only used when idempotent).
  uint64_t fingerprint = 0;
};

struct CommandOutcome {
  domain::Sequence sequence;
  domain::Recipient before;
  domain::Recipient after;
  std::vector<domain::RecipientEvent> events;
};

// Fills `response` from the outcome (before the commit, so that the
// idempotency record can hold it).
using RespondFn =
    std::function<void(const CommandOutcome&, google::protobuf::Message*)>;

// Runs `command` on the recipient. `response` may be null when `idempotent` is
// false. On a retried request id, `response` gets the first outcome and
// nothing runs. Errors: INVALID_ARGUMENT (bad ids, reused request id),
// NOT_FOUND, ABORTED (version mismatch or a concurrent write), and whatever
// the domain refuses.
absl::Status RunRecipientCommand(const AppDeps& deps, const CallContext& call,
                                 const RecipientCommandRequest& request,
                                 const domain::RecipientCommand& command,
                                 const RespondFn& respond,
                                 google::protobuf::Message* response);

// One recipient's command in a batch (RunRecipientCommandBatch).
struct BatchCommandItem {
  CallContext call;
  // Must not be idempotent (a batch writes no idempotency records).
  RecipientCommandRequest request;
};

struct BatchItemResult {
  // What RunRecipientCommand would have answered for the item alone.
  absl::Status status;
  // True when the item's events were committed (OK and not empty).
  bool changed = false;
};

// Runs `command` on many recipients with the semantics of RunRecipientCommand
// for each one (validate, lock, fold, check the expected version, decide) and
// commits the changes of all of them in ONE durable write, so that one fsync
// serves the batch. The recipients' locks are all held from before the first
// fold until the commit has returned. An item that is refused (bad ids,
// NOT_FOUND, ABORTED for its expected version, a domain refusal) contributes
// nothing and does not stop the others. A recipient named twice is ABORTED
// the second time ("appears twice"). When the shared commit is ABORTED by the
// store (a writer that does not take the lock table changed one of the
// streams first), each item that had events runs again alone through
// RunRecipientCommand on the state it then finds; any other commit error is
// the result of every item that had events. Returns one result per item, in
// order.
std::vector<BatchItemResult> RunRecipientCommandBatch(
    const AppDeps& deps, const std::vector<BatchCommandItem>& items,
    const domain::RecipientCommand& command);

// Adds `events` of one recipient to `batch`: an append expecting the
// recipient's current version, and the projection index changes. Returns the
// state after the events.
domain::Recipient AddRecipientEvents(
    absl::string_view tenant, absl::string_view sequence_id,
    absl::string_view recipient_id, const domain::Recipient& before,
    const std::vector<domain::RecipientEvent>& events,
    const domain::Sequence& sequence, eventstore::CommitBatch* batch);

// Commits `batch` durably; a store-level version conflict (someone else wrote
// first) becomes ABORTED "nothing was changed". After a successful commit,
// wakes the scheduler when the batch wrote a due/ entry, and, for each
// delivery queue the batch added ready/ entries to, as many of that queue's
// long polls as entries were added (PollRegistry::Notify); nothing else.
absl::Status CommitAndNotify(const AppDeps& deps,
                             const eventstore::CommitBatch& batch);

// OK when both ids are valid; INVALID_ARGUMENT naming the field otherwise.
absl::Status ValidateRecipientRef(absl::string_view sequence_id,
                                  absl::string_view recipient_id);

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_PIPELINE_COMMAND_RUNNER_H_
