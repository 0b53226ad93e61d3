#include "app/use_cases/bulk_actions.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "app/pipeline/command_runner.h"
#include "app/pipeline/idempotency.h"
#include "app/status_macros.h"
#include "app/storage/event_codec.h"
#include "app/storage/store_layout.h"
#include "domain/bulk.h"
#include "domain/refusal.h"
#include "domain/sequence.h"

namespace sequencer::app {
namespace {

constexpr size_t kScanChunk = 1000;
constexpr size_t kOffendersInMessage = 5;
// The refusal detail rides in the grpc-status-details-bin trailer, and
// clients refuse metadata over 8 KiB by default (base64 adds a third).
constexpr size_t kRefusalDetailBudgetBytes = 4500;

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
  status.SetPayload(absl::StrCat("type.googleapis.com/",
                                 v1::BulkRefusal::descriptor()->full_name()),
                    absl::Cord(refusal.SerializeAsString()));
  return status;
}

absl::Status ValidateSelection(const BulkActionRequest& request) {
  SEQ_RETURN_IF_ERROR(domain::ValidateId("sequence_id", request.sequence_id));
  const size_t count = request.recipient_ids.size();
  if (count == 0) {
    return absl::InvalidArgumentError(
        "recipient_ids: select at least one recipient");
  }
  if (count > static_cast<size_t>(domain::kMaxBulkSelection)) {
    return absl::ResourceExhaustedError(absl::StrCat("recipient_ids: at most ",
                                                     domain::kMaxBulkSelection,
                                                     " per call, got ", count));
  }
  std::set<absl::string_view> seen;
  for (size_t i = 0; i < count; ++i) {
    const std::string& id = request.recipient_ids[i];
    SEQ_RETURN_IF_ERROR(
        domain::ValidateId(absl::StrCat("recipient_ids[", i, "]"), id));
    if (!seen.insert(id).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "recipient_ids[", i, "]: \"", id, "\" is selected more than once"));
    }
  }
  if (!domain::NeedsConfirmation(request.action) &&
      !request.confirmation_token.empty()) {
    return absl::InvalidArgumentError(
        "confirmation_token: only STOP and DELETE take a confirmation");
  }
  if ((request.action == domain::BulkAction::kEditContent) !=
      request.edit.has_value()) {
    return absl::InvalidArgumentError(
        "step_index and edit: only for EDIT_CONTENT");
  }
  return absl::OkStatus();
}

// A confirmation is checked before the recipients: a spent or foreign token
// is refused as such, whatever happened to them since.
absl::Status CheckConfirmation(const eventstore::EventStore& store,
                               const CallContext& call,
                               const BulkActionRequest& request,
                               uint64_t selection, absl::Time now) {
  if (request.confirmation_token.size() > domain::kMaxIdLength) {
    return ConfirmationInvalid("is not a token this service issued");
  }
  SEQ_ASSIGN_OR_RETURN(std::optional<std::string> stored,
                       store.GetIndex(layout::ConfirmationKey(
                           call.tenant_id, request.confirmation_token)));
  v1::BulkConfirmationRecord record;
  if (!stored.has_value() || !record.ParseFromString(*stored)) {
    return ConfirmationInvalid(
        "is unknown, already used, or of another tenant");
  }
  if (now >= FromProtoTime(record.expires_at())) {
    return ConfirmationInvalid("has expired");
  }
  if (record.sequence_id() != request.sequence_id ||
      record.action() != domain::BulkActionName(request.action) ||
      record.selection_fingerprint() != selection) {
    return ConfirmationInvalid(
        "was issued for another sequence, action or selection");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Answered<BulkActionResult>> RunBulkAction(
    const AppDeps& deps, const CallContext& call,
    const BulkActionRequest& request,
    const ResponseEncoder<BulkActionResult>& encode) {
  SEQ_RETURN_IF_ERROR(
      domain::ValidateId("request_id", request.identity.request_id));
  SEQ_RETURN_IF_ERROR(ValidateSelection(request));
  std::vector<std::string> lock_keys;
  lock_keys.reserve(request.recipient_ids.size());
  for (const auto& id : request.recipient_ids) {
    lock_keys.push_back(
        layout::RecipientStream(call.tenant_id, request.sequence_id, id));
  }
  // A dry run records no outcome: it changes nothing, and a later real run
  // may reuse the request id.
  RequestIdentity identity = request.identity;
  identity.idempotent = !request.validate_only;
  CommandRunner runner(deps);
  return runner.Run<BulkActionResult>(
      call, identity, std::move(lock_keys),
      [&](eventstore::CommitBatch* batch) -> absl::StatusOr<BulkActionResult> {
        SEQ_ASSIGN_OR_RETURN(
            domain::Sequence sequence,
            deps.repository->GetSequence(call.tenant_id, request.sequence_id));
        std::vector<domain::Recipient> recipients;
        recipients.reserve(request.recipient_ids.size());
        for (const auto& id : request.recipient_ids) {
          SEQ_ASSIGN_OR_RETURN(domain::Recipient recipient,
                               deps.repository->LoadRecipient(
                                   call.tenant_id, request.sequence_id, id));
          recipient.recipient_id = id;
          recipients.push_back(std::move(recipient));
        }
        const absl::Time now = deps.clock->Now();
        const uint64_t selection = SelectionFingerprint(request.recipient_ids);
        const bool confirmed = domain::NeedsConfirmation(request.action);
        if (confirmed && !request.confirmation_token.empty()) {
          SEQ_RETURN_IF_ERROR(CheckConfirmation(deps.repository->store(), call,
                                                request, selection, now));
        }
        domain::BulkCommand command;
        command.action = request.action;
        if (request.edit.has_value()) command.edit = *request.edit;
        SEQ_ASSIGN_OR_RETURN(
            domain::BulkDecision decision,
            domain::DecideBulk(command, recipients, sequence,
                               {call.tenant_id, call.actor,
                                request.identity.request_id, now}));
        BulkActionResult result;
        if (request.validate_only) {
          result.offenders = std::move(decision.offenders);
          return result;
        }
        if (!decision.offenders.empty()) {
          return Refused(request.action, decision.offenders, recipients.size());
        }
        if (confirmed && request.confirmation_token.empty()) {
          // First call: say what will happen and hand out a single-use token.
          BulkConfirmation confirmation;
          confirmation.token = deps.ids->NewId("confirm");
          confirmation.count = static_cast<int>(recipients.size());
          confirmation.count_by_status.insert(decision.count_by_status.begin(),
                                              decision.count_by_status.end());
          confirmation.expires_at = now + kConfirmationLifetime;
          v1::BulkConfirmationRecord record;
          record.set_sequence_id(request.sequence_id);
          record.set_action(
              std::string(domain::BulkActionName(request.action)));
          record.set_selection_fingerprint(selection);
          record.set_count(confirmation.count);
          *record.mutable_expires_at() = ToProtoTime(confirmation.expires_at);
          batch->index_writes.push_back(
              {layout::ConfirmationKey(call.tenant_id, confirmation.token),
               record.SerializeAsString()});
          result.confirmation = std::move(confirmation);
          return result;
        }
        if (confirmed) {
          batch->index_writes.push_back(  // Single use.
              {layout::ConfirmationKey(call.tenant_id,
                                       request.confirmation_token),
               std::nullopt});
        }
        for (size_t i = 0; i < recipients.size(); ++i) {
          if (!decision.events[i].empty()) ++result.affected_count;
          SEQ_RETURN_IF_ERROR(CommandRunner::AddRecipientChange(
                                  *deps.repository, call.tenant_id,
                                  request.sequence_id,
                                  recipients[i].recipient_id, recipients[i],
                                  decision.events[i], sequence, batch)
                                  .status());
        }
        result.applied = true;
        return result;
      },
      encode);
}

}  // namespace sequencer::app
