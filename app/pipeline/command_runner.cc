#include "app/pipeline/command_runner.h"

#include <functional>
#include <map>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "app/pipeline/idempotency.h"
#include "app/pipeline/recipient_erasure.h"
#include "app/status_macros.h"
#include "app/storage/store_layout.h"
#include "domain/refusal.h"
#include "domain/sequence.h"

namespace sequencer::app {
namespace {

// After a successful commit: lowers the queue fronts for the entries the
// batch added, wakes the scheduler when a due/ entry is earlier than what it
// waits for, and wakes long polls by queue.
void NoteQueueAdditions(const AppDeps& deps,
                        const eventstore::CommitBatch& batch) {
  bool wake_scheduler = false;
  std::string now_key;
  std::map<std::string, int, std::less<>> ready;
  for (const eventstore::IndexWrite& write : batch.index_writes) {
    if (!write.value.has_value()) continue;
    const absl::string_view due_entry =
        layout::QueueEntryOf(write.key, layout::kDuePrefix);
    if (!due_entry.empty()) {
      if (deps.fronts == nullptr) {
        wake_scheduler = true;
      } else {
        if (now_key.empty()) now_key = layout::TimeKey(deps.clock->Now());
        wake_scheduler |=
            deps.fronts->Added(layout::kDuePrefix, due_entry, now_key);
      }
      continue;
    }
    const absl::string_view queue = layout::ReadyQueueOf(write.key);
    if (queue.empty()) continue;
    ++ready[std::string(queue)];
    if (deps.fronts != nullptr) {
      deps.fronts->Added(queue, layout::QueueEntryOf(write.key, queue));
    }
  }
  if (wake_scheduler && deps.work != nullptr) deps.work->Notify();
  if (deps.polls != nullptr) {
    for (const auto& [queue, count] : ready) deps.polls->Notify(queue, count);
  }
}

}  // namespace

absl::Status VersionMismatch(absl::string_view what, uint64_t expected,
                             uint64_t actual) {
  return domain::WithRefusal(
      absl::AbortedError(absl::StrCat("expected version ", expected,
                                      " but the ", what, " is at ", actual,
                                      "; nothing was changed")),
      {domain::RefusalReason::kVersionMismatch,
       {{"expected_version", absl::StrCat(expected)},
        {"actual_version", absl::StrCat(actual)}}});
}

absl::Status ValidateRecipientRef(absl::string_view sequence_id,
                                  absl::string_view recipient_id) {
  SEQ_RETURN_IF_ERROR(domain::ValidateId("sequence_id", sequence_id));
  return domain::ValidateId("recipient_id", recipient_id);
}

domain::Recipient CommandRunner::AddRecipientEvents(
    absl::string_view tenant, absl::string_view sequence_id,
    absl::string_view recipient_id, const domain::Recipient& before,
    const std::vector<domain::RecipientEvent>& events,
    const domain::Sequence& sequence, eventstore::CommitBatch* batch) {
  domain::Recipient after = before;
  if (!events.empty()) {
    eventstore::StreamAppend append{
        layout::RecipientStream(tenant, sequence_id, recipient_id),
        static_cast<int64_t>(before.version),
        {}};
    for (const auto& event : events) {
      after = domain::Evolve(std::move(after), event);
      append.events.push_back(Repository::Encode(event));
    }
    batch->appends.push_back(std::move(append));
  }
  for (auto& write : Repository::ProjectionWrites(
           tenant, sequence_id, recipient_id, before, after, sequence)) {
    batch->index_writes.push_back(std::move(write));
  }
  return after;
}

absl::StatusOr<domain::Recipient> CommandRunner::AddRecipientChange(
    const Repository& repository, absl::string_view tenant,
    absl::string_view sequence_id, absl::string_view recipient_id,
    const domain::Recipient& before,
    const std::vector<domain::RecipientEvent>& events,
    const domain::Sequence& sequence, eventstore::CommitBatch* batch) {
  if (events.empty() ||
      !std::holds_alternative<domain::Deleted>(events.back().payload)) {
    return AddRecipientEvents(tenant, sequence_id, recipient_id, before, events,
                              sequence, batch);
  }
  domain::Recipient after = before;
  for (const auto& event : events)
    after = domain::Evolve(std::move(after), event);
  SEQ_RETURN_IF_ERROR(AddRecipientErasure(repository, tenant, sequence_id,
                                          recipient_id, before, events.back(),
                                          sequence, batch));
  return after;
}

domain::Sequence CommandRunner::AddSequenceEvents(
    absl::string_view tenant, const domain::Sequence& before,
    absl::string_view sequence_id,
    const std::vector<domain::SequenceEvent>& events,
    eventstore::CommitBatch* batch) {
  domain::Sequence after = before;
  if (events.empty()) return after;
  eventstore::StreamAppend append{layout::SequenceStream(tenant, sequence_id),
                                  static_cast<int64_t>(before.version),
                                  {}};
  for (const auto& event : events) {
    after = domain::Evolve(std::move(after), event);
    append.events.push_back(Repository::Encode(event));
  }
  batch->appends.push_back(std::move(append));
  return after;
}

absl::Status CommandRunner::Commit(const eventstore::CommitBatch& batch) const {
  absl::StatusOr<eventstore::CommitResult> committed =
      deps_.repository->store().Commit(batch);
  if (absl::IsAborted(committed.status())) {
    return absl::AbortedError(
        absl::StrCat("concurrent modification, nothing was changed: ",
                     committed.status().message()));
  }
  if (!committed.ok()) return committed.status();
  // Before anything else: the erased streams leave the feed's memory before
  // the caller answers.
  if (deps_.feed != nullptr) deps_.feed->Committed(batch, *committed);
  deps_.repository->Committed(batch);
  NoteQueueAdditions(deps_, batch);
  if (!batch.erasures.empty()) {
    for (const eventstore::StreamErasure& erasure : batch.erasures) {
      deps_.repository->ForgetRecipient(erasure.stream);
    }
    if (deps_.purger != nullptr) deps_.purger->Notify();
  }
  if (deps_.counters != nullptr) {
    for (const eventstore::StreamAppend& append : batch.appends) {
      for (const eventstore::NewEvent& event : append.events) {
        if (event.type == "SendTimedOut") {
          deps_.counters->sends_timed_out.fetch_add(1,
                                                    std::memory_order_relaxed);
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> CommandRunner::LockAndReplay(
    const CallContext& call, const RequestIdentity& identity,
    std::vector<std::string> lock_keys, LockTable::Guard* guard) const {
  if (identity.idempotent) {
    SEQ_RETURN_IF_ERROR(domain::ValidateId("request_id", identity.request_id));
    lock_keys.push_back(
        layout::IdempotencyKey(call.tenant_id, identity.request_id));
  }
  *guard = deps_.locks->Lock(lock_keys);
  return Replay(call, identity);
}

void CommandRunner::AddOutcome(const CallContext& call,
                               const RequestIdentity& identity,
                               std::string response,
                               eventstore::CommitBatch* batch) {
  if (!identity.idempotent) return;
  batch->index_writes.push_back(
      OutcomeRecord(call.tenant_id, identity.request_id, identity.method,
                    identity.fingerprint, std::move(response)));
}

bool DeadlinePassed(const CallContext& call) {
  return call.deadline != absl::InfiniteFuture() &&
         absl::Now() >= call.deadline;
}

absl::Status DeadlineExceeded() {
  return absl::DeadlineExceededError(
      "the call's deadline passed before its change was committed; nothing "
      "was written");
}

absl::Status CommandRunner::Record(const CallContext& call,
                                   const RequestIdentity& identity,
                                   std::string response,
                                   eventstore::CommitBatch* batch) const {
  AddOutcome(call, identity, std::move(response), batch);
  if (batch->appends.empty() && batch->index_writes.empty()) {
    return absl::OkStatus();
  }
  // The caller has gone: it would see DEADLINE_EXCEEDED whatever happens, so
  // nothing is written (a retry with the same request id runs the change).
  // The deadline is the caller's, in real time.
  if (DeadlinePassed(call)) return DeadlineExceeded();
  return Commit(*batch);
}

CommandRunner::BatchPlan CommandRunner::PlanBatch(
    const std::vector<ChangeKeys>& changes) {
  BatchPlan plan;
  plan.refused.assign(changes.size(), absl::OkStatus());
  plan.alone.assign(changes.size(), false);
  absl::flat_hash_set<std::string> taken;
  for (size_t i = 0; i < changes.size(); ++i) {
    const ChangeKeys& change = changes[i];
    if (change.call == nullptr) continue;
    std::vector<std::string> keys = *change.lock_keys;
    if (change.identity->idempotent) {
      plan.refused[i] =
          domain::ValidateId("request_id", change.identity->request_id);
      if (!plan.refused[i].ok()) continue;
      keys.push_back(layout::IdempotencyKey(change.call->tenant_id,
                                            change.identity->request_id));
    }
    for (const std::string& key : keys) {
      if (taken.contains(key)) plan.alone[i] = true;
    }
    if (plan.alone[i]) continue;
    for (std::string& key : keys) {
      taken.insert(key);
      plan.lock_keys.push_back(std::move(key));
    }
  }
  return plan;
}

absl::StatusOr<std::optional<std::string>> CommandRunner::Replay(
    const CallContext& call, const RequestIdentity& identity) const {
  if (!identity.idempotent) return std::optional<std::string>();
  return LoadPreviousOutcome(deps_.repository->store(), call.tenant_id,
                             identity.request_id, identity.method,
                             identity.fingerprint);
}

absl::Status CommandRunner::DecideInto(const CallContext& call,
                                       const RecipientCommandRequest& request,
                                       const domain::RecipientCommand& command,
                                       const domain::Sequence& sequence,
                                       absl::Time now, CommandOutcome* outcome,
                                       eventstore::CommitBatch* batch) const {
  SEQ_ASSIGN_OR_RETURN(outcome->before, deps_.repository->GetRecipient(
                                            call.tenant_id, request.sequence_id,
                                            request.recipient_id));
  if (request.expected_version.has_value() &&
      *request.expected_version != outcome->before.version) {
    return VersionMismatch("recipient", *request.expected_version,
                           outcome->before.version);
  }
  const domain::DecisionContext context{call.tenant_id, call.actor,
                                        request.identity.request_id, now};
  SEQ_ASSIGN_OR_RETURN(outcome->events, domain::Decide(command, outcome->before,
                                                       sequence, context));
  SEQ_ASSIGN_OR_RETURN(
      outcome->after,
      AddRecipientChange(*deps_.repository, call.tenant_id, request.sequence_id,
                         request.recipient_id, outcome->before, outcome->events,
                         sequence, batch));
  return absl::OkStatus();
}

Change<CommandOutcome> CommandRunner::RecipientChange(
    const CallContext& call, const RecipientCommandRequest& request,
    const domain::RecipientCommand& command,
    const ResponseEncoder<CommandOutcome>& encode) const {
  Change<CommandOutcome> change;
  change.call = call;
  change.identity = request.identity;
  change.lock_keys = {layout::RecipientStream(
      call.tenant_id, request.sequence_id, request.recipient_id)};
  change.encode = encode;
  change.body =
      [this, call, request, command](
          eventstore::CommitBatch* batch) -> absl::StatusOr<CommandOutcome> {
    CommandOutcome outcome;
    SEQ_ASSIGN_OR_RETURN(
        outcome.sequence,
        deps_.repository->GetSequence(call.tenant_id, request.sequence_id));
    SEQ_RETURN_IF_ERROR(DecideInto(call, request, command, outcome.sequence,
                                   deps_.clock->Now(), &outcome, batch));
    return outcome;
  };
  return change;
}

absl::StatusOr<Answered<CommandOutcome>> CommandRunner::RunRecipient(
    const CallContext& call, const RecipientCommandRequest& request,
    const domain::RecipientCommand& command,
    const ResponseEncoder<CommandOutcome>& encode) {
  if (request.identity.idempotent) {
    SEQ_RETURN_IF_ERROR(
        domain::ValidateId("request_id", request.identity.request_id));
  }
  SEQ_RETURN_IF_ERROR(
      ValidateRecipientRef(request.sequence_id, request.recipient_id));
  const Change<CommandOutcome> change =
      RecipientChange(call, request, command, encode);
  return Run<CommandOutcome>(change.call, change.identity, change.lock_keys,
                             change.body, change.encode);
}

std::vector<BatchItemResult> CommandRunner::RunRecipientBatch(
    const std::vector<BatchCommandItem>& items,
    const domain::RecipientCommand& command, const BatchCommitted& committed) {
  std::vector<BatchItemResult> results(items.size());
  std::vector<std::string> streams(items.size());
  std::vector<std::string> lock_keys;
  lock_keys.reserve(items.size());
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < items.size(); ++i) {
    const BatchCommandItem& item = items[i];
    if (item.request.identity.idempotent) {
      results[i].status = absl::InvalidArgumentError(
          "a batch runs only requests that are not idempotent");
      continue;
    }
    results[i].status = ValidateRecipientRef(item.request.sequence_id,
                                             item.request.recipient_id);
    if (!results[i].status.ok()) continue;
    streams[i] =
        layout::RecipientStream(item.call.tenant_id, item.request.sequence_id,
                                item.request.recipient_id);
    if (!seen.insert(streams[i]).second) {
      results[i].status = absl::AbortedError(absl::StrCat(
          "recipient ", streams[i],
          " appears twice in one batch; nothing was changed for this item"));
      continue;
    }
    lock_keys.push_back(streams[i]);
  }

  std::vector<size_t> changed;
  // With `committed`: each changed item's state after its events and its
  // sequence (owned by `sequences`, which outlives them).
  std::vector<std::pair<domain::Recipient, const domain::Sequence*>> afters;
  {
    LockTable::Guard guard = deps_.locks->Lock(lock_keys);
    std::map<std::pair<std::string, std::string>,
             absl::StatusOr<domain::Sequence>>
        sequences;
    eventstore::CommitBatch batch;
    const absl::Time now = deps_.clock->Now();
    for (size_t i = 0; i < items.size(); ++i) {
      if (!results[i].status.ok()) continue;
      const BatchCommandItem& item = items[i];
      auto key = std::make_pair(item.call.tenant_id, item.request.sequence_id);
      auto cached = sequences.find(key);
      if (cached == sequences.end()) {
        cached = sequences
                     .emplace(key, deps_.repository->GetSequence(
                                       item.call.tenant_id,
                                       item.request.sequence_id))
                     .first;
      }
      if (!cached->second.ok()) {
        results[i].status = cached->second.status();
        continue;
      }
      CommandOutcome outcome;
      results[i].status = DecideInto(item.call, item.request, command,
                                     *cached->second, now, &outcome, &batch);
      if (results[i].status.ok() && !outcome.events.empty()) {
        changed.push_back(i);
        if (committed) {
          afters.emplace_back(std::move(outcome.after), &*cached->second);
        }
      }
    }
    if (changed.empty()) return results;
    const absl::Status status = Commit(batch);
    if (status.ok()) {
      for (size_t k = 0; k < changed.size(); ++k) {
        results[changed[k]].changed = true;
        if (committed) {
          committed(changed[k], afters[k].first, *afters[k].second);
        }
      }
      return results;
    }
    if (!absl::IsAborted(status)) {
      for (size_t i : changed) results[i].status = status;
      return results;
    }
  }
  // A store-level conflict (a writer outside the lock table got in first)
  // aborted the whole batch: run each changed item alone, on the state it
  // finds, so that one conflict does not fail the others.
  for (size_t i : changed) {
    absl::StatusOr<Answered<CommandOutcome>> alone =
        RunRecipient(items[i].call, items[i].request, command, nullptr);
    results[i].status = alone.status();
    results[i].changed = alone.ok() && alone->result.has_value() &&
                         !alone->result->events.empty();
  }
  return results;
}

}  // namespace sequencer::app
