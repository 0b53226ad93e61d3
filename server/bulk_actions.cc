#include "server/bulk_actions.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "domain/bulk.h"
#include "domain/refusal.h"
#include "domain/sequence.h"
#include "server/codec.h"
#include "server/idempotency.h"
#include "server/recipient_commands.h"
#include "server/status_conversion.h"
#include "server/status_macros.h"
#include "server/store_layout.h"

namespace sequencer::server {
namespace {

constexpr size_t kScanChunk = 1000;
constexpr size_t kOffendersInMessage = 5;
// The refusal detail rides in the grpc-status-details-bin trailer, and
// clients refuse metadata over 8 KiB by default (base64 adds a third).
constexpr size_t kRefusalDetailBudgetBytes = 4500;

absl::StatusOr<domain::BulkAction> BulkActionFromProto(
    v1::BulkActionType type) {
  switch (type) {
    case v1::BULK_ACTION_TYPE_PAUSE:
      return domain::BulkAction::kPause;
    case v1::BULK_ACTION_TYPE_RESUME:
      return domain::BulkAction::kResume;
    case v1::BULK_ACTION_TYPE_SKIP_STEP:
      return domain::BulkAction::kSkipStep;
    case v1::BULK_ACTION_TYPE_STOP:
      return domain::BulkAction::kStop;
    case v1::BULK_ACTION_TYPE_DELETE:
      return domain::BulkAction::kDelete;
    case v1::BULK_ACTION_TYPE_EDIT_CONTENT:
      return domain::BulkAction::kEditContent;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("action: unknown or unspecified value ", type));
  }
}

uint64_t SelectionFingerprint(std::vector<std::string> ids) {
  std::sort(ids.begin(), ids.end());
  return BytesFingerprint(absl::StrJoin(ids, "\n"));
}

absl::Status ConfirmationInvalid(absl::string_view why) {
  return domain::RefuseAction(
      absl::StrCat("confirmation_token ", why,
                   "; nothing was changed. Call again without a token to get "
                   "a new one."),
      {domain::RefusalReason::kConfirmationInvalid, {}});
}

v1::BulkOffender OffenderToProto(const domain::BulkOffender& offender) {
  v1::BulkOffender out;
  out.set_recipient_id(offender.recipient_id);
  if (offender.exists) out.set_status(ToProto(offender.status));
  out.set_reason(std::string(domain::RefusalReasonName(offender.reason)));
  out.set_message(offender.message);
  return out;
}

absl::Status Refused(domain::BulkAction action,
                     const std::vector<domain::BulkOffender>& offenders,
                     size_t selected) {
  std::vector<std::string> named;
  v1::BulkRefusal refusal;
  refusal.set_total_offenders(static_cast<int>(offenders.size()));
  for (const auto& offender : offenders) {
    if (refusal.ByteSizeLong() >= kRefusalDetailBudgetBytes) {
      refusal.set_truncated(true);
      break;
    }
    *refusal.add_offenders() = OffenderToProto(offender);
  }
  for (const auto& offender : offenders) {
    if (named.size() == kOffendersInMessage) break;
    named.push_back(absl::StrCat(
        offender.recipient_id, " (",
        offender.exists ? std::string(domain::StatusName(offender.status))
                        : std::string("NOT_FOUND"),
        ": ", domain::RefusalReasonName(offender.reason), ")"));
  }
  absl::Status status = domain::RefuseAction(
      absl::StrCat(std::string(domain::BulkActionName(action)),
                   " refused: ", offenders.size(), " of ", selected,
                   " selected recipients do not allow it, nothing was "
                   "changed: ",
                   absl::StrJoin(named, ", "),
                   offenders.size() > named.size() ? ", ..." : ""),
      {domain::RefusalReason::kBulkActionRefused,
       {{"action", std::string(domain::BulkActionName(action))},
        {"offenders", absl::StrCat(offenders.size())}}});
  status.SetPayload(absl::StrCat(kProtoTypeUrlPrefix,
                                 v1::BulkRefusal::descriptor()->full_name()),
                    absl::Cord(refusal.SerializeAsString()));
  return status;
}

}  // namespace

absl::Status RunBulkAction(const ServiceDeps& deps, const CallContext& call,
                           const v1::BulkActionRequest& request,
                           v1::BulkActionResponse* response) {
  const std::string method = "/sequencer.v1.RecipientService/BulkAction";
  SEQ_RETURN_IF_ERROR(domain::ValidateId("request_id", request.request_id()));
  SEQ_RETURN_IF_ERROR(domain::ValidateId("sequence_id", request.sequence_id()));
  SEQ_ASSIGN_OR_RETURN(domain::BulkAction action,
                       BulkActionFromProto(request.action()));
  const int count = request.recipient_ids_size();
  if (count == 0) {
    return absl::InvalidArgumentError(
        "recipient_ids: select at least one recipient");
  }
  if (count > domain::kMaxBulkSelection) {
    return absl::ResourceExhaustedError(absl::StrCat("recipient_ids: at most ",
                                                     domain::kMaxBulkSelection,
                                                     " per call, got ", count));
  }
  std::set<absl::string_view> seen;
  for (int i = 0; i < count; ++i) {
    const std::string& id = request.recipient_ids(i);
    SEQ_RETURN_IF_ERROR(
        domain::ValidateId(absl::StrCat("recipient_ids[", i, "]"), id));
    if (!seen.insert(id).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "recipient_ids[", i, "]: \"", id, "\" is selected more than once"));
    }
  }
  if (!domain::NeedsConfirmation(action) &&
      !request.confirmation_token().empty()) {
    return absl::InvalidArgumentError(
        "confirmation_token: only STOP and DELETE take a confirmation");
  }
  domain::BulkCommand command;
  command.action = action;
  if (action == domain::BulkAction::kEditContent) {
    command.edit = {request.step_index(), FromProto(request.edit())};
  } else if (request.has_edit() || request.step_index() != 0) {
    return absl::InvalidArgumentError(
        "step_index and edit: only for EDIT_CONTENT");
  }

  std::vector<std::string> lock_keys;
  lock_keys.reserve(count + 2);
  lock_keys.push_back(
      layout::IdempotencyKey(call.tenant_id, request.request_id()));
  lock_keys.push_back(
      layout::SequenceStream(call.tenant_id, request.sequence_id()));
  for (const auto& id : request.recipient_ids()) {
    lock_keys.push_back(
        layout::RecipientStream(call.tenant_id, request.sequence_id(), id));
  }
  LockTable::Guard guard = deps.locks->Lock(lock_keys);

  eventstore::EventStore& store = deps.repository->store();
  const uint64_t fingerprint = RequestFingerprint(request);
  SEQ_ASSIGN_OR_RETURN(
      bool replayed,
      LoadPreviousOutcome(store, call.tenant_id, request.request_id(), method,
                          fingerprint, response));
  if (replayed) return absl::OkStatus();

  SEQ_ASSIGN_OR_RETURN(
      domain::Sequence sequence,
      deps.repository->GetSequence(call.tenant_id, request.sequence_id()));
  std::vector<domain::Recipient> recipients;
  recipients.reserve(count);
  for (const auto& id : request.recipient_ids()) {
    SEQ_ASSIGN_OR_RETURN(domain::Recipient recipient,
                         deps.repository->LoadRecipient(
                             call.tenant_id, request.sequence_id(), id));
    recipient.recipient_id = id;
    recipients.push_back(std::move(recipient));
  }
  const absl::Time now = deps.clock->Now();
  const domain::DecisionContext context{call.tenant_id, call.actor,
                                        request.request_id(), now};
  const uint64_t selection = SelectionFingerprint(
      {request.recipient_ids().begin(), request.recipient_ids().end()});
  const std::string action_name(domain::BulkActionName(action));
  // A confirmation is checked before the recipients: a spent or foreign
  // token is refused as such, whatever happened to them since.
  if (domain::NeedsConfirmation(action) &&
      !request.confirmation_token().empty()) {
    const std::string key =
        layout::ConfirmationKey(call.tenant_id, request.confirmation_token());
    if (request.confirmation_token().size() > domain::kMaxIdLength) {
      return ConfirmationInvalid("is not a token this service issued");
    }
    SEQ_ASSIGN_OR_RETURN(std::optional<std::string> stored,
                         store.GetIndex(key));
    v1::BulkConfirmationRecord record;
    if (!stored.has_value() || !record.ParseFromString(*stored)) {
      return ConfirmationInvalid(
          "is unknown, already used, or of another tenant");
    }
    if (now >= FromProtoTime(record.expires_at())) {
      return ConfirmationInvalid("has expired");
    }
    if (record.sequence_id() != request.sequence_id() ||
        record.action() != action_name ||
        record.selection_fingerprint() != selection) {
      return ConfirmationInvalid(
          "was issued for another sequence, action or selection");
    }
  }
  SEQ_ASSIGN_OR_RETURN(
      domain::BulkDecision decision,
      domain::DecideBulk(command, recipients, sequence, context));
  if (request.validate_only()) {
    response->set_applied(false);
    for (const auto& offender : decision.offenders) {
      *response->add_offenders() = OffenderToProto(offender);
    }
    return absl::OkStatus();
  }
  if (!decision.offenders.empty()) {
    return Refused(action, decision.offenders, recipients.size());
  }

  eventstore::CommitBatch batch;
  if (domain::NeedsConfirmation(action)) {
    if (request.confirmation_token().empty()) {
      // First call: say what will happen and hand out a single-use token.
      const std::string token = deps.ids->NewId("confirm");
      v1::BulkConfirmationRecord record;
      record.set_sequence_id(request.sequence_id());
      record.set_action(action_name);
      record.set_selection_fingerprint(selection);
      record.set_count(count);
      *record.mutable_expires_at() = ToProtoTime(now + kConfirmationLifetime);
      batch.index_writes.push_back(
          {layout::ConfirmationKey(call.tenant_id, token),
           record.SerializeAsString()});
      response->set_applied(false);
      v1::BulkConfirmation* confirmation = response->mutable_confirmation();
      confirmation->set_token(token);
      confirmation->set_action(request.action());
      confirmation->set_count(count);
      for (const auto& [status, n] : decision.count_by_status) {
        (*confirmation->mutable_count_by_status())[status] = n;
      }
      *confirmation->mutable_expires_at() = record.expires_at();
      batch.index_writes.push_back(OutcomeRecord(call.tenant_id,
                                                 request.request_id(), method,
                                                 fingerprint, *response));
      return CommitAndNotify(deps, batch);
    }
    batch.index_writes.push_back(
        {layout::ConfirmationKey(call.tenant_id, request.confirmation_token()),
         std::nullopt});  // Single use.
  }

  int affected = 0;
  for (size_t i = 0; i < recipients.size(); ++i) {
    if (!decision.events[i].empty()) ++affected;
    AddRecipientEvents(call.tenant_id, request.sequence_id(),
                       recipients[i].recipient_id, recipients[i],
                       decision.events[i], sequence, &batch);
  }
  response->set_applied(true);
  response->set_affected_count(affected);
  batch.index_writes.push_back(OutcomeRecord(
      call.tenant_id, request.request_id(), method, fingerprint, *response));
  return CommitAndNotify(deps, batch);
}

absl::Status RunSequencePause(const ServiceDeps& deps, const CallContext& call,
                              const v1::SequenceActionRequest& request,
                              bool pause,
                              v1::SequenceActionResponse* response) {
  const std::string method =
      absl::StrCat("/sequencer.v1.SequenceService/",
                   pause ? "PauseSequence" : "ResumeSequence");
  SEQ_RETURN_IF_ERROR(domain::ValidateId("request_id", request.request_id()));
  SEQ_RETURN_IF_ERROR(domain::ValidateId("sequence_id", request.sequence_id()));
  // Every recipient of the sequence changes: exclude every other change.
  LockTable::Guard guard = deps.locks->LockAll();

  eventstore::EventStore& store = deps.repository->store();
  const uint64_t fingerprint = RequestFingerprint(request);
  SEQ_ASSIGN_OR_RETURN(
      bool replayed,
      LoadPreviousOutcome(store, call.tenant_id, request.request_id(), method,
                          fingerprint, response));
  if (replayed) return absl::OkStatus();

  SEQ_ASSIGN_OR_RETURN(
      domain::Sequence before,
      deps.repository->GetSequence(call.tenant_id, request.sequence_id()));
  if (request.has_expected_version() &&
      request.expected_version() != before.version) {
    return domain::WithRefusal(
        absl::AbortedError(
            absl::StrCat("expected version ", request.expected_version(),
                         " but the sequence is at ", before.version,
                         "; nothing was changed")),
        {domain::RefusalReason::kVersionMismatch,
         {{"expected_version", absl::StrCat(request.expected_version())},
          {"actual_version", absl::StrCat(before.version)}}});
  }
  const domain::DecisionContext context{
      call.tenant_id, call.actor, request.request_id(), deps.clock->Now()};
  SEQ_ASSIGN_OR_RETURN(std::vector<domain::SequenceEvent> sequence_events,
                       pause ? domain::DecidePauseSequence(before, context)
                             : domain::DecideResumeSequence(before, context));
  domain::Sequence after = before;
  eventstore::StreamAppend append{
      layout::SequenceStream(call.tenant_id, request.sequence_id()),
      static_cast<int64_t>(before.version),
      {}};
  for (const auto& event : sequence_events) {
    after = domain::Evolve(std::move(after), event);
    append.events.push_back(Repository::Encode(event));
  }
  eventstore::CommitBatch batch;
  batch.appends.push_back(std::move(append));

  const domain::RecipientCommand command =
      pause ? domain::RecipientCommand(domain::PauseBySequence{})
            : domain::RecipientCommand(domain::ResumeBySequence{});
  const std::string prefix =
      layout::RecipientListPrefix(call.tenant_id, request.sequence_id());
  int affected = 0;
  std::string cursor;
  while (true) {
    SEQ_ASSIGN_OR_RETURN(auto entries,
                         store.ScanIndex(prefix, cursor, kScanChunk));
    for (const auto& [key, value] : entries) {
      cursor = key;
      const std::string recipient_id = key.substr(prefix.size());
      SEQ_ASSIGN_OR_RETURN(
          domain::Recipient recipient,
          deps.repository->GetRecipient(call.tenant_id, request.sequence_id(),
                                        recipient_id));
      SEQ_ASSIGN_OR_RETURN(std::vector<domain::RecipientEvent> events,
                           domain::Decide(command, recipient, after, context));
      if (!events.empty()) ++affected;
      AddRecipientEvents(call.tenant_id, request.sequence_id(), recipient_id,
                         recipient, events, after, &batch);
    }
    if (entries.size() < kScanChunk) break;
  }
  *response->mutable_sequence() = ToProto(after);
  response->set_affected_recipients(affected);
  batch.index_writes.push_back(OutcomeRecord(
      call.tenant_id, request.request_id(), method, fingerprint, *response));
  return CommitAndNotify(deps, batch);
}

}  // namespace sequencer::server
