// Bulk actions: one action on many recipients of one sequence, all or nothing.
//
// DecideBulk applies the single-recipient rules of domain/recipient.h to every
// selected recipient, plus the bulk-only rule for Pause (every selected
// recipient must be IN_PROGRESS or ERROR: PENDING_ACTION and running
// RESPONDED/MEETING_BOOKED are refused here although the single action allows
// them). When any recipient refuses, the result names every offender with its
// status and reason and holds no events; otherwise it holds each recipient's
// events. Pure and deterministic, like Decide.

#ifndef SEQUENCER_DOMAIN_BULK_H_
#define SEQUENCER_DOMAIN_BULK_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "domain/events.h"
#include "domain/limits.h"
#include "domain/model.h"
#include "domain/recipient.h"
#include "domain/refusal.h"
#include "domain/sequence.h"

namespace sequencer::domain {

enum class BulkAction {
  kPause,
  kResume,
  kSkipStep,
  kStop,
  kDelete,
  kEditContent
};

// "BULK_ACTION_TYPE_PAUSE", ...: the API's enum value names.
std::string_view BulkActionName(BulkAction action);

// Stop and Delete are irreversible: they need a confirmation token.
bool NeedsConfirmation(BulkAction action);

struct BulkCommand {
  BulkAction action = BulkAction::kPause;
  // For kEditContent: the same edit of one step for every recipient.
  EditContent edit;
};

struct BulkOffender {
  std::string recipient_id;
  // Absent (not found / deleted) recipients have exists == false.
  bool exists = true;
  RecipientStatus status = RecipientStatus::kInProgress;
  bool stopped_by_rule = false;
  // Why it refuses (kNotFound for a recipient that does not exist or was
  // deleted) and a sentence a person can read.
  RefusalReason reason = RefusalReason::kActionNotAvailable;
  std::string message;
};

struct BulkDecision {
  // Empty when the action may proceed.
  std::vector<BulkOffender> offenders;
  // One entry per selected recipient, in selection order, when no offender.
  std::vector<std::vector<RecipientEvent>> events;
  // Selected recipients by status name (before the action): what will happen.
  std::map<std::string, int> count_by_status;
};

// `recipients` are the selected recipients' current states, in selection
// order (a recipient that does not exist or was deleted is an offender with
// reason "NOT_FOUND"). INVALID_ARGUMENT for an invalid edit (checked like
// EditContent, per recipient, reported as offenders only when the refusal is
// FAILED_PRECONDITION; an INVALID_ARGUMENT edit refuses the whole call).
absl::StatusOr<BulkDecision> DecideBulk(
    const BulkCommand& command, const std::vector<Recipient>& recipients,
    const Sequence& sequence, const DecisionContext& context);

}  // namespace sequencer::domain

#endif  // SEQUENCER_DOMAIN_BULK_H_
