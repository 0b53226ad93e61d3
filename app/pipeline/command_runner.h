// The one pipeline every change goes through, whoever asks (an API call, the
// scheduler, a delivery worker, a bulk action, a sequence pause):
//
//   lock the keys the change touches (and its request id) -> answer a retried
//   request id with its first outcome -> the change's body (fold state, check
//   versions, domain::Decide, add events and projection changes to a batch)
//   -> record the outcome under the request id in the same batch -> commit
//   it in one durable write -> notify the scheduler and waiting workers.
//
// A body that fails writes nothing. A retried request id (same method and
// request fingerprint) answers the recorded response and runs nothing; the
// same id with another request is INVALID_ARGUMENT. A store-level version
// conflict (a writer outside the lock table got in first) is ABORTED,
// "concurrent modification, nothing was changed". Thread-safe.

#ifndef SEQUENCER_APP_PIPELINE_COMMAND_RUNNER_H_
#define SEQUENCER_APP_PIPELINE_COMMAND_RUNNER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "app/app_deps.h"
#include "app/caller.h"
#include "app/runtime/lock_table.h"
#include "domain/events.h"
#include "domain/model.h"
#include "domain/recipient.h"
#include "eventstore/event_store.h"

namespace sequencer::app {

// What makes a request safe to retry.
struct RequestIdentity {
  // Full RPC method name, part of the outcome record.
  std::string method;
  // Recorded on the events; with `idempotent`, also the retry key (an id as
  // domain::ValidateId accepts, INVALID_ARGUMENT otherwise).
  std::string request_id;
  // A stable fingerprint of the whole request (e.g. RequestFingerprint).
  uint64_t fingerprint = 0;
  // False for the runtime's own changes (the scheduler), which record no
  // outcome.
  bool idempotent = true;
};

// What a change answers: the response its caller gets, as bytes the caller
// encoded (the API's response message), the same on a retry. `result` is set
// when the change ran now, empty when a retry was answered from the record.
template <typename Result>
struct Answered {
  std::optional<Result> result;
  std::string response;
};

// Encodes a result as the response that is recorded (and answered).
template <typename Result>
using ResponseEncoder = std::function<std::string(const Result&)>;

// One recipient command through the pipeline.
struct RecipientCommandRequest {
  RequestIdentity identity;
  std::string sequence_id;
  std::string recipient_id;
  std::optional<uint64_t> expected_version;
};

// The state around one recipient command.
struct CommandOutcome {
  domain::Sequence sequence;
  domain::Recipient before;
  domain::Recipient after;
  std::vector<domain::RecipientEvent> events;
};

// One recipient's command in a batch (CommandRunner::RunRecipientBatch).
struct BatchCommandItem {
  CallContext call;
  // Must not be idempotent (a batch writes no outcome records).
  RecipientCommandRequest request;
};

// One change of CommandRunner::RunBatch: what CommandRunner::Run takes. The
// body may run twice (see RunBatch), so it must capture what it reads by
// value or by pointers that outlive the call.
template <typename Result>
struct Change {
  CallContext call;
  RequestIdentity identity;
  std::vector<std::string> lock_keys;
  std::function<absl::StatusOr<Result>(eventstore::CommitBatch* batch)> body;
  ResponseEncoder<Result> encode;
};

struct BatchItemResult {
  // What RunRecipient would have answered for the item alone.
  absl::Status status;
  // True when the item's events were committed (OK and not empty).
  bool changed = false;
};

class CommandRunner {
 public:
  // Reads and writes the changes through `deps`, which must outlive the
  // runner.
  explicit CommandRunner(const AppDeps& deps) : deps_(deps) {}

  // The body of a change: runs under the locks, after the retry check; adds
  // what the change writes to `batch` and returns its result. An error writes
  // nothing and is the change's answer.
  template <typename Result>
  using Body =
      std::function<absl::StatusOr<Result>(eventstore::CommitBatch* batch)>;

  // Runs one change: validates identity.request_id (when idempotent), locks
  // `lock_keys` and the request id, answers a retry, runs `body`, records
  // encode(result) under the request id and commits the batch (nothing is
  // committed when the batch stays empty and the request is not idempotent).
  template <typename Result>
  absl::StatusOr<Answered<Result>> Run(const CallContext& call,
                                       const RequestIdentity& identity,
                                       std::vector<std::string> lock_keys,
                                       const Body<Result>& body,
                                       const ResponseEncoder<Result>& encode);

  // Runs many changes, each with the semantics of Run (its retry answered
  // from its record, its outcome recorded), and commits the changes of all
  // of them in ONE durable write, so that one fsync serves the batch. Every
  // lock is held from before the first body runs until the commit returned.
  // A change whose body fails contributes nothing and does not stop the
  // others. A change that shares a lock key or request id with an earlier
  // one runs alone, after the batch, and sees its effects. When the store
  // aborts the shared commit (a stream changed outside the lock table), each
  // change that had writes runs again alone on the state it then finds; any
  // other commit error is the answer of every change that had writes. A
  // change given as an error (a request that could not become a change)
  // answers that error and runs nothing. Returns one answer per change, in
  // order.
  template <typename Result>
  std::vector<absl::StatusOr<Answered<Result>>> RunBatch(
      const std::vector<absl::StatusOr<Change<Result>>>& changes);

  // Runs `command` on one recipient: validates the ids, locks the recipient,
  // folds its sequence and itself, checks the expected version (ABORTED,
  // VERSION_MISMATCH), domain::Decide, adds the events and projection
  // changes. NOT_FOUND for an unknown sequence or an unknown or deleted
  // recipient; whatever the domain refuses.
  absl::StatusOr<Answered<CommandOutcome>> RunRecipient(
      const CallContext& call, const RecipientCommandRequest& request,
      const domain::RecipientCommand& command,
      const ResponseEncoder<CommandOutcome>& encode);

  // The change RunRecipient runs, for RunBatch. The ids must be valid
  // (ValidateRecipientRef). Its body uses this runner: run it while the
  // runner lives.
  Change<CommandOutcome> RecipientChange(
      const CallContext& call, const RecipientCommandRequest& request,
      const domain::RecipientCommand& command,
      const ResponseEncoder<CommandOutcome>& encode) const;

  // Runs `command` on many recipients with the semantics of RunRecipient for
  // each one and commits the changes of all of them in ONE durable write, so
  // that one fsync serves the batch. The recipients' locks are all held from
  // before the first fold until the commit has returned. An item that is
  // refused contributes nothing and does not stop the others. A recipient
  // named twice is ABORTED the second time ("appears twice"). When the shared
  // commit is ABORTED by the store, each item that had events runs again alone
  // on the state it then finds; any other commit error is the result of every
  // item that had events. Returns one result per item, in order.
  //
  // `committed`, when set, is called after the shared commit, on this
  // thread and with the locks still held, for each item whose events it
  // committed: the item's index, the recipient's state after them and the
  // sequence they were decided against. (Items run again alone are not
  // reported.)
  using BatchCommitted =
      std::function<void(size_t item, const domain::Recipient& after,
                         const domain::Sequence& sequence)>;
  std::vector<BatchItemResult> RunRecipientBatch(
      const std::vector<BatchCommandItem>& items,
      const domain::RecipientCommand& command,
      const BatchCommitted& committed = nullptr);

  // The store-facing part of a change, for bodies that write many streams:
  // an append of `events` to one recipient expecting `before`'s version,
  // plus the projection changes. Returns the state after the events.
  // `events` must not hold a Deleted event (AddRecipientChange).
  static domain::Recipient AddRecipientEvents(
      absl::string_view tenant, absl::string_view sequence_id,
      absl::string_view recipient_id, const domain::Recipient& before,
      const std::vector<domain::RecipientEvent>& events,
      const domain::Sequence& sequence, eventstore::CommitBatch* batch);

  // AddRecipientEvents for any decided events: when they end in a Deleted
  // event, the recipient is erased instead (app/pipeline/recipient_erasure.h),
  // which reads from `repository`. Errors: the store's.
  static absl::StatusOr<domain::Recipient> AddRecipientChange(
      const Repository& repository, absl::string_view tenant,
      absl::string_view sequence_id, absl::string_view recipient_id,
      const domain::Recipient& before,
      const std::vector<domain::RecipientEvent>& events,
      const domain::Sequence& sequence, eventstore::CommitBatch* batch);

  // The same for a sequence's own stream.
  static domain::Sequence AddSequenceEvents(
      absl::string_view tenant, const domain::Sequence& before,
      absl::string_view sequence_id,
      const std::vector<domain::SequenceEvent>& events,
      eventstore::CommitBatch* batch);

  // Commits `batch` durably, then lowers the queue fronts, wakes the
  // scheduler when a due/ entry is earlier than what it waits for, and wakes
  // as many long polls of each delivery queue as entries were added to it;
  // after erasures, drops the erased recipients' snapshots and wakes the
  // purger. Tells the event feed (AppDeps::feed) of the committed events
  // and erasures first.
  // A store-level version conflict is ABORTED "nothing was changed".
  absl::Status Commit(const eventstore::CommitBatch& batch) const;

  const AppDeps& deps() const { return deps_; }

 private:
  // The non-template steps of Run.
  absl::StatusOr<std::optional<std::string>> LockAndReplay(
      const CallContext& call, const RequestIdentity& identity,
      std::vector<std::string> lock_keys, LockTable::Guard* guard) const;
  absl::Status Record(const CallContext& call, const RequestIdentity& identity,
                      std::string response,
                      eventstore::CommitBatch* batch) const;
  // Adds the outcome record of an idempotent request to `batch`.
  static void AddOutcome(const CallContext& call,
                         const RequestIdentity& identity, std::string response,
                         eventstore::CommitBatch* batch);

  // The part of RunBatch that does not depend on the result type.
  struct BatchPlan {
    // Per change: OK, or the answer (an invalid request id).
    std::vector<absl::Status> refused;
    // Per change: shares a key with an earlier change, runs alone after.
    std::vector<bool> alone;
    // Every key of the changes that run together, request ids included.
    std::vector<std::string> lock_keys;
  };
  // All null for a change given as an error.
  struct ChangeKeys {
    const CallContext* call;
    const RequestIdentity* identity;
    const std::vector<std::string>* lock_keys;
  };
  static BatchPlan PlanBatch(const std::vector<ChangeKeys>& changes);
  // The recorded answer of a retried idempotent request, if any.
  absl::StatusOr<std::optional<std::string>> Replay(
      const CallContext& call, const RequestIdentity& identity) const;

  absl::Status DecideInto(const CallContext& call,
                          const RecipientCommandRequest& request,
                          const domain::RecipientCommand& command,
                          const domain::Sequence& sequence, absl::Time now,
                          CommandOutcome* outcome,
                          eventstore::CommitBatch* batch) const;

  const AppDeps& deps_;
};

// OK when both ids are valid; INVALID_ARGUMENT naming the field otherwise.
absl::Status ValidateRecipientRef(absl::string_view sequence_id,
                                  absl::string_view recipient_id);

// Whether the caller of `call` has stopped waiting (CallContext::deadline, in
// real time), and the answer of a change not committed for that reason.
bool DeadlinePassed(const CallContext& call);
absl::Status DeadlineExceeded();

// ABORTED with a VERSION_MISMATCH refusal: `what` ("recipient", "sequence")
// is at `actual`, the caller expected `expected`.
absl::Status VersionMismatch(absl::string_view what, uint64_t expected,
                             uint64_t actual);

template <typename Result>
absl::StatusOr<Answered<Result>> CommandRunner::Run(
    const CallContext& call, const RequestIdentity& identity,
    std::vector<std::string> lock_keys, const Body<Result>& body,
    const ResponseEncoder<Result>& encode) {
  LockTable::Guard guard;
  absl::StatusOr<std::optional<std::string>> replayed =
      LockAndReplay(call, identity, std::move(lock_keys), &guard);
  if (!replayed.ok()) return replayed.status();
  Answered<Result> answered;
  if (replayed->has_value()) {
    answered.response = std::move(**replayed);
    return answered;
  }
  eventstore::CommitBatch batch;
  absl::StatusOr<Result> result = body(&batch);
  if (!result.ok()) return result.status();
  if (encode) answered.response = encode(*result);
  if (absl::Status recorded = Record(call, identity, answered.response, &batch);
      !recorded.ok()) {
    return recorded;
  }
  answered.result = *std::move(result);
  return answered;
}

template <typename Result>
std::vector<absl::StatusOr<Answered<Result>>> CommandRunner::RunBatch(
    const std::vector<absl::StatusOr<Change<Result>>>& changes) {
  std::vector<absl::StatusOr<Answered<Result>>> answers(
      changes.size(), absl::InternalError("not run"));
  std::vector<ChangeKeys> keys;
  keys.reserve(changes.size());
  for (const absl::StatusOr<Change<Result>>& change : changes) {
    keys.push_back(change.ok() ? ChangeKeys{&change->call, &change->identity,
                                            &change->lock_keys}
                               : ChangeKeys{nullptr, nullptr, nullptr});
  }
  const BatchPlan plan = PlanBatch(keys);
  std::vector<size_t> written;
  {
    LockTable::Guard guard = deps_.locks->Lock(plan.lock_keys);
    eventstore::CommitBatch batch;
    for (size_t i = 0; i < changes.size(); ++i) {
      if (!changes[i].ok()) {
        answers[i] = changes[i].status();
        continue;
      }
      if (!plan.refused[i].ok()) {
        answers[i] = plan.refused[i];
        continue;
      }
      if (plan.alone[i]) continue;
      const Change<Result>& change = *changes[i];
      absl::StatusOr<std::optional<std::string>> replayed =
          Replay(change.call, change.identity);
      if (!replayed.ok() || replayed->has_value()) {
        answers[i] = replayed.ok()
                         ? Answered<Result>{std::nullopt, std::move(**replayed)}
                         : absl::StatusOr<Answered<Result>>(replayed.status());
        continue;
      }
      eventstore::CommitBatch own;
      absl::StatusOr<Result> result = change.body(&own);
      if (!result.ok()) {
        answers[i] = result.status();
        continue;
      }
      Answered<Result> answered;
      if (change.encode) answered.response = change.encode(*result);
      AddOutcome(change.call, change.identity, answered.response, &own);
      answered.result = *std::move(result);
      answers[i] = std::move(answered);
      if (own.appends.empty() && own.index_writes.empty()) continue;
      written.push_back(i);
      for (auto& append : own.appends) {
        batch.appends.push_back(std::move(append));
      }
      for (auto& write : own.index_writes) {
        batch.index_writes.push_back(std::move(write));
      }
    }
    if (!written.empty() && DeadlinePassed(changes[written.front()]->call)) {
      // The caller has gone (the items of a batch call share its deadline):
      // nothing is written, as for Run.
      for (size_t i : written) answers[i] = DeadlineExceeded();
      written.clear();
    }
    if (!written.empty()) {
      const absl::Status committed = Commit(batch);
      if (committed.ok()) {
        written.clear();
      } else if (!absl::IsAborted(committed)) {
        for (size_t i : written) answers[i] = committed;
        written.clear();
      }
    }
  }
  // Conflicts with a writer outside the lock table, then the changes that
  // share keys with earlier ones: each alone.
  for (size_t i = 0; i < changes.size(); ++i) {
    if (plan.alone[i]) written.push_back(i);
  }
  for (size_t i : written) {
    const Change<Result>& change = *changes[i];
    answers[i] = Run<Result>(change.call, change.identity, change.lock_keys,
                             change.body, change.encode);
  }
  return answers;
}

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_PIPELINE_COMMAND_RUNNER_H_
