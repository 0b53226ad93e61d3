// Machine-readable reasons attached to absl::Status errors.
//
// The domain answers refusals as absl::Status values (FAILED_PRECONDITION for
// an action not available, INVALID_ARGUMENT for bad input, ...). A reason code
// and key/value metadata ride along as a status payload; the server's single
// status conversion (server/status_conversion.h) turns them into a
// google.rpc.ErrorInfo detail. Thread-compatible free functions.

#ifndef SEQUENCER_DOMAIN_REFUSAL_H_
#define SEQUENCER_DOMAIN_REFUSAL_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace sequencer::domain {

// Why the service refuses: the google.rpc.ErrorInfo.reason of a refusal (and
// BulkOffender.reason). The wire spellings (RefusalReasonName) are part of the
// API: proto/sequencer/v1/types.proto lists them as sequencer.v1.RefusalReason,
// and a test keeps the two sets equal.
enum class RefusalReason {
  // The action is not available in the recipient's status (metadata "status",
  // "action"), or the sequence is already (not) paused.
  kActionNotAvailable,
  // Pause, Resume and Skip step wait while the sequence is paused.
  kSequencePaused,
  // The step is done, or its send has begun.
  kStepNotEditable,
  // The action needs a current step and none is left.
  kNoStepLeft,
  // Complete manual step when no manual step waits for a person, or for
  // another step than the pending one.
  kNotAPendingManualStep,
  // Skip step while the current step's send has begun.
  kSendInProgress,
  // The request's expected_version is not the stream's version.
  kVersionMismatch,
  // BeginSend: the lease token is unknown or its lease expired.
  kLeaseExpired,
  // BeginSend: the recipient changed since the lease; do not send.
  kLeaseRevoked,
  // ReportDelivery: the token is not the send in flight.
  kStaleLease,
  // Bad input (INVALID_ARGUMENT).
  kInvalidArgument,
  // A bulk action refused because some selected recipients do not allow it.
  kBulkActionRefused,
  // A bulk pause of a recipient that is not IN_PROGRESS or ERROR.
  kBulkPauseNeedsInProgressOrError,
  // A bulk action's confirmation token does not match the call.
  kConfirmationInvalid,
  // A bulk offender that does not exist or was deleted.
  kNotFound,
};

// Every RefusalReason, in declaration order.
inline constexpr RefusalReason kAllRefusalReasons[] = {
    RefusalReason::kActionNotAvailable,
    RefusalReason::kSequencePaused,
    RefusalReason::kStepNotEditable,
    RefusalReason::kNoStepLeft,
    RefusalReason::kNotAPendingManualStep,
    RefusalReason::kSendInProgress,
    RefusalReason::kVersionMismatch,
    RefusalReason::kLeaseExpired,
    RefusalReason::kLeaseRevoked,
    RefusalReason::kStaleLease,
    RefusalReason::kInvalidArgument,
    RefusalReason::kBulkActionRefused,
    RefusalReason::kBulkPauseNeedsInProgressOrError,
    RefusalReason::kConfirmationInvalid,
    RefusalReason::kNotFound,
};

// The wire spelling: "ACTION_NOT_AVAILABLE", "NOT_A_PENDING_MANUAL_STEP", ...
absl::string_view RefusalReasonName(RefusalReason reason);

// The reason spelled `name` (as RefusalReasonName gives it); nullopt for any
// other string.
std::optional<RefusalReason> RefusalReasonFromName(absl::string_view name);

struct Refusal {
  RefusalReason reason = RefusalReason::kActionNotAvailable;
  std::map<std::string, std::string> metadata;
};

// Returns `status` with `refusal` attached. `status` must not be OK.
absl::Status WithRefusal(absl::Status status, const Refusal& refusal);

// Makes a FAILED_PRECONDITION status with `message` and the refusal attached.
absl::Status RefuseAction(absl::string_view message, const Refusal& refusal);

// The refusal attached to `status`, if any.
std::optional<Refusal> GetRefusal(const absl::Status& status);

}  // namespace sequencer::domain

#endif  // SEQUENCER_DOMAIN_REFUSAL_H_
