#include "server/recipient_commands.h"

#include <functional>
#include <map>
#include <string>
#include <utility>

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
      {domain::kReasonVersionMismatch,
       {{"expected_version", absl::StrCat(expected)},
        {"actual_version", absl::StrCat(actual)}}});
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
  bool due = false;
  std::map<std::string, int, std::less<>> ready;
  for (const eventstore::IndexWrite& write : batch.index_writes) {
    if (!write.value.has_value()) continue;
    due |= absl::StartsWith(write.key, layout::kDuePrefix);
    const absl::string_view queue = layout::ReadyQueueOf(write.key);
    if (!queue.empty()) ++ready[std::string(queue)];
  }
  if (due && deps.work != nullptr) deps.work->Notify();
  if (deps.polls != nullptr) {
    for (const auto& [queue, count] : ready) deps.polls->Notify(queue, count);
  }
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
  SEQ_ASSIGN_OR_RETURN(outcome.before, deps.repository->GetRecipient(
                                           call.tenant_id, request.sequence_id,
                                           request.recipient_id));
  if (request.expected_version.has_value() &&
      *request.expected_version != outcome.before.version) {
    return VersionMismatch(*request.expected_version, outcome.before.version);
  }
  const domain::DecisionContext context{call.tenant_id, call.actor,
                                        request.request_id, deps.clock->Now()};
  SEQ_ASSIGN_OR_RETURN(
      outcome.events,
      domain::Decide(command, outcome.before, outcome.sequence, context));
  eventstore::CommitBatch batch;
  outcome.after = AddRecipientEvents(call.tenant_id, request.sequence_id,
                                     request.recipient_id, outcome.before,
                                     outcome.events, outcome.sequence, &batch);
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

}  // namespace sequencer::server
