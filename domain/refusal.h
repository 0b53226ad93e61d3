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

// Reason codes (google.rpc.ErrorInfo.reason).
inline constexpr char kReasonActionNotAvailable[] = "ACTION_NOT_AVAILABLE";
inline constexpr char kReasonSequencePaused[] = "SEQUENCE_PAUSED";
inline constexpr char kReasonStepNotEditable[] = "STEP_NOT_EDITABLE";
inline constexpr char kReasonNoStepLeft[] = "NO_STEP_LEFT";
inline constexpr char kReasonNotManualStep[] = "NOT_A_PENDING_MANUAL_STEP";
inline constexpr char kReasonVersionMismatch[] = "VERSION_MISMATCH";
inline constexpr char kReasonLeaseRevoked[] = "LEASE_REVOKED";
inline constexpr char kReasonStaleLease[] = "STALE_LEASE";
inline constexpr char kReasonSendInProgress[] = "SEND_IN_PROGRESS";
inline constexpr char kReasonInvalidArgument[] = "INVALID_ARGUMENT";

struct Refusal {
  std::string reason;
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
