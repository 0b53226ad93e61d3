#include "domain/refusal.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sequencer::domain {
namespace {

// The payload's type URL; the encoding is private to this file: a sequence of
// length-prefixed strings ("<decimal length>:<bytes>"): the reason, then key,
// value pairs.
constexpr char kRefusalTypeUrl[] =
    "type.sequencer.dev/sequencer.domain.Refusal";

void AppendField(std::string& out, absl::string_view field) {
  absl::StrAppend(&out, field.size(), ":", field);
}

// Reads one field at `pos`; false when malformed.
bool ReadField(absl::string_view in, size_t& pos, std::string& field) {
  const size_t colon = in.find(':', pos);
  if (colon == absl::string_view::npos) return false;
  size_t length = 0;
  if (!absl::SimpleAtoi(in.substr(pos, colon - pos), &length)) return false;
  if (length > in.size() - colon - 1) return false;
  field = std::string(in.substr(colon + 1, length));
  pos = colon + 1 + length;
  return true;
}

}  // namespace

absl::string_view RefusalReasonName(RefusalReason reason) {
  switch (reason) {
    case RefusalReason::kActionNotAvailable:
      return "ACTION_NOT_AVAILABLE";
    case RefusalReason::kSequencePaused:
      return "SEQUENCE_PAUSED";
    case RefusalReason::kStepNotEditable:
      return "STEP_NOT_EDITABLE";
    case RefusalReason::kNoStepLeft:
      return "NO_STEP_LEFT";
    case RefusalReason::kNotAPendingManualStep:
      return "NOT_A_PENDING_MANUAL_STEP";
    case RefusalReason::kSendInProgress:
      return "SEND_IN_PROGRESS";
    case RefusalReason::kVersionMismatch:
      return "VERSION_MISMATCH";
    case RefusalReason::kLeaseExpired:
      return "LEASE_EXPIRED";
    case RefusalReason::kLeaseRevoked:
      return "LEASE_REVOKED";
    case RefusalReason::kStaleLease:
      return "STALE_LEASE";
    case RefusalReason::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case RefusalReason::kBulkActionRefused:
      return "BULK_ACTION_REFUSED";
    case RefusalReason::kBulkPauseNeedsInProgressOrError:
      return "BULK_PAUSE_NEEDS_IN_PROGRESS_OR_ERROR";
    case RefusalReason::kConfirmationInvalid:
      return "CONFIRMATION_INVALID";
    case RefusalReason::kNotFound:
      return "NOT_FOUND";
  }
  return "UNKNOWN";
}

std::optional<RefusalReason> RefusalReasonFromName(absl::string_view name) {
  for (RefusalReason reason : kAllRefusalReasons) {
    if (RefusalReasonName(reason) == name) return reason;
  }
  return std::nullopt;
}

absl::Status WithRefusal(absl::Status status, const Refusal& refusal) {
  if (status.ok()) return status;
  std::string encoded;
  AppendField(encoded, RefusalReasonName(refusal.reason));
  for (const auto& [key, value] : refusal.metadata) {
    AppendField(encoded, key);
    AppendField(encoded, value);
  }
  status.SetPayload(kRefusalTypeUrl, absl::Cord(encoded));
  return status;
}

absl::Status RefuseAction(absl::string_view message, const Refusal& refusal) {
  return WithRefusal(absl::FailedPreconditionError(message), refusal);
}

std::optional<Refusal> GetRefusal(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kRefusalTypeUrl);
  if (!payload.has_value()) return std::nullopt;
  const std::string encoded(*payload);
  Refusal refusal;
  size_t pos = 0;
  std::string name;
  if (!ReadField(encoded, pos, name)) return std::nullopt;
  std::optional<RefusalReason> reason = RefusalReasonFromName(name);
  if (!reason.has_value()) return std::nullopt;
  refusal.reason = *reason;
  while (pos < encoded.size()) {
    std::string key, value;
    if (!ReadField(encoded, pos, key) || !ReadField(encoded, pos, value)) {
      return std::nullopt;
    }
    refusal.metadata[key] = value;
  }
  return refusal;
}

}  // namespace sequencer::domain
