#include "server/recipient_commands.h"

#include <functional>
#include <map>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "domain/refusal.h"
#include "domain/sequence.h"
#include "server/idempotency.h"
#include "server/status_macros.h"
#include "server/store_layout.h"

namespace sequencer::server {
namespace {

absl::Status VersionMismatch(uint64_t expected, uint64_t actual) {
  return domain::WithRefusal(
      absl::AbortedError(absl::StrCat("expected version ", expected,
                                      " but the recipient is at ", actual,
                                      "; nothing was changed")),
      {domain::RefusalReason::kVersionMismatch,
       {{"expected_version", absl::StrCat(expected)},
        {"actual_version", absl::StrCat(actual)}}});
}

// After a successful commit: lowers the queue fronts for the entries the
// batch added, wakes the scheduler when a due/ entry is earlier than what it
// waits for, and wakes long polls by queue.
void NoteQueueAdditions(const ServiceDeps& deps,
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

// The middle of the pipeline, under the recipient's lock: fold the recipient,
// check the expected version, decide at `now` against `sequence`, and add the
// events and projection changes to `batch`. Fills outcome's before, events and
// after.
absl::Status DecideInto(const ServiceDeps& deps, const CallContext& call,
                        const RecipientCommandRequest& request,
                        const domain::RecipientCommand& command,
                        const domain::Sequence& sequence, absl::Time now,
                        CommandOutcome* outcome,
                        eventstore::CommitBatch* batch) {
  SEQ_ASSIGN_OR_RETURN(outcome->before, deps.repository->GetRecipient(
                                            call.tenant_id, request.sequence_id,
                                            request.recipient_id));
  if (request.expected_version.has_value() &&
      *request.expected_version != outcome->before.version) {
    return VersionMismatch(*request.expected_version, outcome->before.version);
  }
  const domain::DecisionContext context{call.tenant_id, call.actor,
                                        request.request_id, now};
  SEQ_ASSIGN_OR_RETURN(outcome->events, domain::Decide(command, outcome->before,
                                                       sequence, context));
  outcome->after = AddRecipientEvents(call.tenant_id, request.sequence_id,
                                      request.recipient_id, outcome->before,
                                      outcome->events, sequence, batch);
  return absl::OkStatus();
}

}  // namespace

domain::Recipient AddRecipientEvents(
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

absl::Status CommitAndNotify(const ServiceDeps& deps,
                             const eventstore::CommitBatch& batch) {
  absl::Status committed = deps.repository->store().Commit(batch).status();
  if (absl::IsAborted(committed)) {
    return absl::AbortedError(absl::StrCat(
        "concurrent modification, nothing was changed: ", committed.message()));
  }
  if (!committed.ok()) return committed;
  NoteQueueAdditions(deps, batch);
  return committed;
}

absl::Status ValidateRecipientRef(absl::string_view sequence_id,
                                  absl::string_view recipient_id) {
  SEQ_RETURN_IF_ERROR(domain::ValidateId("sequence_id", sequence_id));
  return domain::ValidateId("recipient_id", recipient_id);
}

absl::Status RunRecipientCommand(const ServiceDeps& deps,
                                 const CallContext& call,
                                 const RecipientCommandRequest& request,
                                 const domain::RecipientCommand& command,
                                 const RespondFn& respond,
                                 google::protobuf::Message* response) {
  if (request.idempotent) {
    SEQ_RETURN_IF_ERROR(domain::ValidateId("request_id", request.request_id));
  }
  SEQ_RETURN_IF_ERROR(
      ValidateRecipientRef(request.sequence_id, request.recipient_id));
  const std::string stream = layout::RecipientStream(
      call.tenant_id, request.sequence_id, request.recipient_id);
  eventstore::EventStore& store = deps.repository->store();
  std::vector<std::string> lock_keys = {stream};
  if (request.idempotent) {
    lock_keys.push_back(
        layout::IdempotencyKey(call.tenant_id, request.request_id));
  }
  LockTable::Guard guard = deps.locks->Lock(lock_keys);

  if (request.idempotent) {
    SEQ_ASSIGN_OR_RETURN(
        bool replayed,
        LoadPreviousOutcome(store, call.tenant_id, request.request_id,
                            request.method, request.fingerprint, response));
    if (replayed) return absl::OkStatus();
  }

  CommandOutcome outcome;
  SEQ_ASSIGN_OR_RETURN(
      outcome.sequence,
      deps.repository->GetSequence(call.tenant_id, request.sequence_id));
  eventstore::CommitBatch batch;
  SEQ_RETURN_IF_ERROR(DecideInto(deps, call, request, command, outcome.sequence,
                                 deps.clock->Now(), &outcome, &batch));
  if (respond) respond(outcome, response);
  if (request.idempotent) {
    batch.index_writes.push_back(
        OutcomeRecord(call.tenant_id, request.request_id, request.method,
                      request.fingerprint, *response));
  }
  if (batch.appends.empty() && batch.index_writes.empty()) {
    return absl::OkStatus();
  }
  return CommitAndNotify(deps, batch);
}

std::vector<BatchItemResult> RunRecipientCommandBatch(
    const ServiceDeps& deps, const std::vector<BatchCommandItem>& items,
    const domain::RecipientCommand& command) {
  std::vector<BatchItemResult> results(items.size());
  std::vector<std::string> streams(items.size());
  std::vector<std::string> lock_keys;
  lock_keys.reserve(items.size());
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < items.size(); ++i) {
    const BatchCommandItem& item = items[i];
    if (item.request.idempotent) {
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
  {
    LockTable::Guard guard = deps.locks->Lock(lock_keys);
    std::map<std::pair<std::string, std::string>,
             absl::StatusOr<domain::Sequence>>
        sequences;
    eventstore::CommitBatch batch;
    const absl::Time now = deps.clock->Now();
    for (size_t i = 0; i < items.size(); ++i) {
      if (!results[i].status.ok()) continue;
      const BatchCommandItem& item = items[i];
      auto key = std::make_pair(item.call.tenant_id, item.request.sequence_id);
      auto cached = sequences.find(key);
      if (cached == sequences.end()) {
        cached = sequences
                     .emplace(key, deps.repository->GetSequence(
                                       item.call.tenant_id,
                                       item.request.sequence_id))
                     .first;
      }
      if (!cached->second.ok()) {
        results[i].status = cached->second.status();
        continue;
      }
      CommandOutcome outcome;
      results[i].status = DecideInto(deps, item.call, item.request, command,
                                     *cached->second, now, &outcome, &batch);
      if (results[i].status.ok() && !outcome.events.empty()) {
        changed.push_back(i);
      }
    }
    if (changed.empty()) return results;
    const absl::Status committed = CommitAndNotify(deps, batch);
    if (committed.ok()) {
      for (size_t i : changed) results[i].changed = true;
      return results;
    }
    if (!absl::IsAborted(committed)) {
      for (size_t i : changed) results[i].status = committed;
      return results;
    }
  }
  // A store-level conflict (a writer outside the lock table got in first)
  // aborted the whole batch: run each changed item alone, on the state it
  // finds, so that one conflict does not fail the others.
  for (size_t i : changed) {
    bool produced = false;
    results[i].status = RunRecipientCommand(
        deps, items[i].call, items[i].request, command,
        [&produced](const CommandOutcome& outcome, google::protobuf::Message*) {
          produced = !outcome.events.empty();
        },
        nullptr);
    results[i].changed = results[i].status.ok() && produced;
  }
  return results;
}

}  // namespace sequencer::server
