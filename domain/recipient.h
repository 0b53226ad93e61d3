// Decisions and state for recipients: enrollment, every individual action,
// signals, and the action-by-status table of the product contract
// (../shared/spec/product.md).
//
// Pure and deterministic: `Decide` takes a command, the recipient's current
// state (folded from its stream with `Evolve`), the sequence's state and a
// DecisionContext (time, actor, request id), and returns the events to append
// or an error. It never changes its inputs. `Evolve` applies one event; folding
// a stream from an empty Recipient reproduces the state exactly.
//
// Errors:
// - NOT_FOUND: the recipient does not exist or was deleted.
// - FAILED_PRECONDITION: the action is not available now. Carries a Refusal
//   (domain/refusal.h): ACTION_NOT_AVAILABLE or SEQUENCE_PAUSED (metadata
//   "status", "action"), STEP_NOT_EDITABLE, NOT_A_PENDING_MANUAL_STEP,
//   SEND_IN_PROGRESS (skipping a step whose send has begun); for the runtime
//   commands LEASE_REVOKED (BeginSend) or STALE_LEASE (ReportDelivery), with
//   metadata "action" BEGIN_SEND / REPORT_DELIVERY.
// - INVALID_ARGUMENT: bad input (an edit field that does not fit the step
//   type, a bad step index, oversized content, a bad placeholder, a bad
//   variable name).
// - ALREADY_EXISTS: enrolling an id that is (or was) enrolled in the sequence.
//
// This header also gives the action table (domain/recipient_actions.h) and the
// read models (domain/recipient_views.h). Implemented by section:
// recipient_actions.cc, recipient_decide.cc (enrollment and the API commands),
// recipient_delivery.cc (the scheduler's and workers' commands),
// recipient_evolve.cc (Evolve, one function per event), recipient_views.cc;
// helpers they share are in recipient_internal.h.

#ifndef SEQUENCER_DOMAIN_RECIPIENT_H_
#define SEQUENCER_DOMAIN_RECIPIENT_H_

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "domain/events.h"
#include "domain/limits.h"
#include "domain/model.h"
#include "domain/recipient_actions.h"
#include "domain/recipient_views.h"
#include "domain/refusal.h"
#include "domain/sequence.h"

namespace sequencer::domain {

// ---- Commands.

struct EnrollRecipient {
  std::string recipient_id;
  Contact contact;
  std::map<std::string, std::string> variables;
};

struct PauseRecipient {};
struct ResumeRecipient {};
struct SkipStep {};
struct EditContent {
  int step_index = 0;
  ContentEdit edit;
};
struct StopRecipient {};
struct DeleteRecipient {};
// Allowed while the sequence is paused (the person did the task); the next
// step's delay then starts only at Resume sequence: the recipient is PAUSED by
// the sequence until then (a manual step due at once waits in PENDING_ACTION).
struct CompleteManualStep {
  // When set, must be the pending step.
  std::optional<int> step_index;
};
struct RecordSignal {
  SignalType signal = SignalType::kReply;
  std::string detail;
};
// The sequence was paused: a recipient whose steps were progressing
// (IN_PROGRESS, running RESPONDED/MEETING_BOOKED) becomes PAUSED by the
// sequence; others get no event.
struct PauseBySequence {};
// The sequence resumed: a recipient PAUSED by the sequence returns to what it
// was; others get no event.
struct ResumeBySequence {};

// ---- Runtime commands (the scheduler and delivery workers).

// The scheduler found the recipient's due time reached: it acts only when
// Schedule (domain/schedule.h) gives kDue at or before now. A begun send past
// its deadline gives SendTimedOut (ERROR, outcome unknown). For a running
// recipient waiting on a delay whose due time has come: a manual step
// gives StepDue{manual}; an automatic step whose content resolves gives
// StepDue{automatic}; an automatic step with a missing variable gives
// StepFailed naming the variable (the recipient goes to ERROR). In every other
// case (not due yet, not running, ERROR, already queued or waiting for a
// person, a send in flight, paused sequence) no event and OK: the scheduler
// may call it freely. A deleted or unknown recipient is NOT_FOUND.
struct MarkStepDue {};

// Phase two of delivery: a worker holding a lease asks to begin the send just
// before sending. Allowed only when nothing changed since the lease was
// granted (`leased_version` equals the recipient's version), the recipient is
// running, awaiting delivery with no send in flight, and the sequence is not
// paused. Gives StepDispatched with the resolved content, the token and the
// deadline (now + `send_deadline`) by which the result must be reported.
// Otherwise (also for a deleted recipient, or content that no longer
// resolves) FAILED_PRECONDITION with reason LEASE_REVOKED: the send must not
// go out. An empty token is INVALID_ARGUMENT.
struct BeginSend {
  std::string lease_token;
  uint64_t leased_version = 0;
  // How long the worker has to report the result; must be positive.
  absl::Duration send_deadline = absl::Minutes(15);
};

// The result of a send that had begun. `lease_token` must be the in-flight
// token: kSent gives StepCompleted (advancing, and Finished after the last
// step; while PAUSED the recipient stays paused and the next delay starts at
// Resume; after a final status it is recorded only), kFailed gives StepFailed
// (ERROR), kBounced gives Bounced. The token of the last recorded result gives
// no event and OK (a duplicate report). A late result (the token of a send
// that timed out, SendTimedOut) is still recorded: kSent gives StepCompleted
// when the recipient still waits on that step (ERROR, or PAUSED from ERROR),
// kBounced gives Bounced, anything else DeliveryReportedLate (history only).
// Any other token: FAILED_PRECONDITION with reason STALE_LEASE. A deleted
// recipient is NOT_FOUND. While a send is in flight, Skip is refused
// (SEND_IN_PROGRESS) and so is editing the current step (STEP_NOT_EDITABLE).
struct ReportDelivery {
  std::string lease_token;
  DeliveryOutcome outcome = DeliveryOutcome::kSent;
  std::string provider_message_id;
  // Required for kFailed: the recipient's ERROR shows it.
  std::string error_message;
};

// The input rule of ReportDelivery, which Decide applies first: OK, or
// INVALID_ARGUMENT "error_message: ..." for a kFailed report without an error
// message. A caller may check it before loading anything.
absl::Status ValidateReportDelivery(const ReportDelivery& report);

using RecipientCommand =
    std::variant<PauseRecipient, ResumeRecipient, SkipStep, EditContent,
                 StopRecipient, DeleteRecipient, CompleteManualStep,
                 RecordSignal, PauseBySequence, ResumeBySequence, MarkStepDue,
                 BeginSend, ReportDelivery>;

// Validates and enrolls one recipient. `current` is the state under the same id
// (exists when it is or was enrolled). The first step's delay counts from
// context.now; a manual first step with no delay is PENDING_ACTION at once; in
// a paused sequence the recipient starts PAUSED by the sequence with the first
// delay frozen. Variables: at most kMaxVariables names of the placeholder
// grammar (domain/template.h), each value at most kMaxVariableValueBytes, all
// together at most kMaxVariablesTotalBytes; INVALID_ARGUMENT naming the
// variable otherwise.
absl::StatusOr<std::vector<RecipientEvent>> DecideEnroll(
    const EnrollRecipient& command, const Sequence& sequence,
    const Recipient& current, const DecisionContext& context);

absl::StatusOr<std::vector<RecipientEvent>> Decide(
    const RecipientCommand& command, const Recipient& current,
    const Sequence& sequence, const DecisionContext& context);

// Applies one event. Increments version and sets updated_at from the event's
// time.
Recipient Evolve(Recipient state, const RecipientEvent& event);

}  // namespace sequencer::domain

#endif  // SEQUENCER_DOMAIN_RECIPIENT_H_
