#include "domain/bulk.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "domain/refusal.h"

namespace sequencer::domain {
namespace {

RecipientCommand SingleCommand(const BulkCommand& command) {
  switch (command.action) {
    case BulkAction::kPause:
      return PauseRecipient{};
    case BulkAction::kResume:
      return ResumeRecipient{};
    case BulkAction::kSkipStep:
      return SkipStep{};
    case BulkAction::kStop:
      return StopRecipient{};
    case BulkAction::kDelete:
      return DeleteRecipient{};
    case BulkAction::kEditContent:
      return command.edit;
  }
  return PauseRecipient{};
}

BulkOffender OffenderOf(const Recipient& recipient) {
  BulkOffender offender;
  offender.recipient_id = recipient.recipient_id;
  offender.status = recipient.status;
  offender.stopped_by_rule = recipient.stopped_by_rule;
  return offender;
}

}  // namespace

std::string_view BulkActionName(BulkAction action) {
  switch (action) {
    case BulkAction::kPause:
      return "BULK_ACTION_TYPE_PAUSE";
    case BulkAction::kResume:
      return "BULK_ACTION_TYPE_RESUME";
    case BulkAction::kSkipStep:
      return "BULK_ACTION_TYPE_SKIP_STEP";
    case BulkAction::kStop:
      return "BULK_ACTION_TYPE_STOP";
    case BulkAction::kDelete:
      return "BULK_ACTION_TYPE_DELETE";
    case BulkAction::kEditContent:
      return "BULK_ACTION_TYPE_EDIT_CONTENT";
  }
  return "UNKNOWN";
}

bool NeedsConfirmation(BulkAction action) {
  return action == BulkAction::kStop || action == BulkAction::kDelete;
}

absl::StatusOr<BulkDecision> DecideBulk(
    const BulkCommand& command, const std::vector<Recipient>& recipients,
    const Sequence& sequence, const DecisionContext& context) {
  BulkDecision decision;
  const RecipientCommand single = SingleCommand(command);
  std::vector<std::vector<RecipientEvent>> events;
  events.reserve(recipients.size());
  for (const Recipient& recipient : recipients) {
    if (!recipient.exists || recipient.deleted) {
      BulkOffender offender;
      offender.recipient_id = recipient.recipient_id;
      offender.exists = false;
      offender.reason = RefusalReason::kNotFound;
      offender.message = "the recipient does not exist or was deleted";
      decision.offenders.push_back(std::move(offender));
      continue;
    }
    ++decision.count_by_status[std::string(StatusName(recipient.status))];
    if (command.action == BulkAction::kPause && !sequence.paused &&
        recipient.status != RecipientStatus::kInProgress &&
        recipient.status != RecipientStatus::kError) {
      BulkOffender offender = OffenderOf(recipient);
      offender.reason = RefusalReason::kBulkPauseNeedsInProgressOrError;
      offender.message = absl::StrCat(
          "Pause selected needs every recipient RECIPIENT_STATUS_IN_PROGRESS "
          "or RECIPIENT_STATUS_ERROR; this one is ",
          std::string(StatusName(recipient.status)));
      decision.offenders.push_back(std::move(offender));
      continue;
    }
    absl::StatusOr<std::vector<RecipientEvent>> decided =
        Decide(single, recipient, sequence, context);
    if (decided.ok()) {
      events.push_back(*std::move(decided));
      continue;
    }
    if (!absl::IsFailedPrecondition(decided.status())) {
      return absl::Status(decided.status().code(),
                          absl::StrCat("recipient ", recipient.recipient_id,
                                       ": ", decided.status().message()));
    }
    BulkOffender offender = OffenderOf(recipient);
    std::optional<Refusal> refusal = GetRefusal(decided.status());
    offender.reason = refusal.has_value() ? refusal->reason
                                          : RefusalReason::kActionNotAvailable;
    offender.message = std::string(decided.status().message());
    decision.offenders.push_back(std::move(offender));
  }
  if (decision.offenders.empty()) decision.events = std::move(events);
  return decision;
}

}  // namespace sequencer::domain
