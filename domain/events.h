// Domain events: the facts sequencer records. Each carries everything Evolve
// needs, so that folding a stream's events reproduces the state without
// re-running any decision.
//
// Sequence events go to the sequence's stream; recipient events to the
// recipient's stream. app/storage/event_codec.h maps them to and from the
// stored protobuf form (proto/sequencer/v1/events.proto).

#ifndef SEQUENCER_DOMAIN_EVENTS_H_
#define SEQUENCER_DOMAIN_EVENTS_H_

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/time/time.h"
#include "domain/model.h"

namespace sequencer::domain {

// Who caused an event, when, and through which request.
struct EventMetadata {
  std::string tenant_id;
  std::string actor;
  std::string request_id;
  absl::Time occurred_at = absl::InfinitePast();
};

// ---- Sequence events.

struct SequenceCreated {
  std::string sequence_id;
  std::string name;
  std::vector<StepDefinition> steps;
  bool stop_on_response = true;
};
struct SequencePaused {
  std::string sequence_id;
};
struct SequenceResumed {
  std::string sequence_id;
};

using SequenceEventPayload =
    std::variant<SequenceCreated, SequencePaused, SequenceResumed>;

struct SequenceEvent {
  EventMetadata metadata;
  SequenceEventPayload payload;
};

// ---- Recipient events.

// Where a recipient goes next. next_step == step count means no step is left (a
// Finished event follows in the same decision).
struct Advance {
  int next_step = 0;
  RecipientStatus next_status = RecipientStatus::kInProgress;
  // Due time of next_step when next_status is IN_PROGRESS (or running
  // RESPONDED/MEETING_BOOKED).
  std::optional<absl::Time> next_due_at;
  // next_step is manual and already due: waits for a person.
  bool awaiting_manual_action = false;
  // The sequence is paused, so next_step's delay does not start: the recipient
  // lands PAUSED by the sequence with `held_delay` frozen (next_due_at is
  // unset), and Resume sequence starts it. Never set when next_status is
  // FINISHED or a manual step is due at once (those start no delay clock).
  bool held_by_sequence = false;
  absl::Duration held_delay = absl::ZeroDuration();
};

struct RecipientEnrolled {
  std::string sequence_id;
  std::string recipient_id;
  Contact contact;
  std::map<std::string, std::string> variables;
  int step_count = 0;
  Advance start;
  // Enrolled while the sequence was paused: PAUSED by the sequence, with the
  // first delay frozen.
  bool paused_by_sequence = false;
  absl::Duration remaining_delay = absl::ZeroDuration();
};
// The current step's delay ran out (decided by the scheduler). An automatic
// step is queued for delivery (awaiting_delivery); a manual one waits for a
// person (awaiting_manual_action: PENDING_ACTION, or the running
// RESPONDED/MEETING_BOOKED status).
struct StepDue {
  int step_index = 0;
  bool manual = false;
};
// A delivery worker began the send (two-phase delivery, phase two): the
// resolved content going out, under the lease token that fences it.
struct StepDispatched {
  int step_index = 0;
  StepContent content;
  std::string lease_token;
  // Past this time without a result the outcome is unknown (SendTimedOut).
  // Unset in events recorded before sends had deadlines: those never expire.
  std::optional<absl::Time> deadline;
};
// A send that had begun reached its deadline with no result reported (the
// worker may have died before or after sending): the step goes to ERROR with
// `error_message` saying the outcome is unknown, like StepFailed. A result
// reported later under the same token is still recorded (StepCompleted when
// the recipient still waits on that step, DeliveryReportedLate otherwise).
struct SendTimedOut {
  int step_index = 0;
  std::string lease_token;
  std::string error_message;
};
// A delivery result that arrived after its send timed out and that changes
// nothing any more (the recipient moved on, or the result is a failure of a
// step already in ERROR): recorded for the reporting history only.
struct DeliveryReportedLate {
  int step_index = 0;
  DeliveryOutcome outcome = DeliveryOutcome::kSent;
  std::string provider_message_id;
  std::string error_message;
  std::string lease_token;
};
struct StepCompleted {
  int step_index = 0;
  StepContent content;  // Resolved content actually sent.
  std::string provider_message_id;
  Advance advance;
  // The lease of the send; empty for steps completed otherwise.
  std::string lease_token;
};
// The step failed: a delivery error reported by a worker (lease_token set),
// or content that cannot be resolved (a missing variable; no token).
struct StepFailed {
  int step_index = 0;
  std::string error_message;
  std::string lease_token;
};
struct Paused {
  RecipientStatus paused_from = RecipientStatus::kInProgress;
  absl::Duration remaining_delay = absl::ZeroDuration();
  bool by_sequence = false;
};
struct Resumed {
  RecipientStatus status = RecipientStatus::kInProgress;
  std::optional<absl::Time> next_due_at;
  bool awaiting_manual_action = false;
};
struct StepSkipped {
  int step_index = 0;
  Advance advance;
};
struct ContentEdited {
  int step_index = 0;
  ContentEdit edit;
  // Editing the errored step re-queues it: IN_PROGRESS, due at next_due_at (the
  // edit's time).
  bool requeued = false;
  std::optional<absl::Time> next_due_at;
  // Re-queued while the sequence is paused: PAUSED by the sequence instead,
  // due as soon as the sequence resumes.
  bool held_by_sequence = false;
};
struct ManualStepCompleted {
  int step_index = 0;
  Advance advance;
};
struct ReplyReceived {
  std::string detail;
  bool stops_sequence = false;
  bool recorded_only = false;
};
struct MeetingBooked {
  std::string detail;
  bool stops_sequence = false;
  bool recorded_only = false;
};
struct Bounced {
  std::string detail;
  bool recorded_only = false;
  // Set when a delivery worker reported the bounce for its send.
  std::string lease_token;
};
struct Unsubscribed {
  std::string detail;
  bool recorded_only = false;
};
struct Finished {};
struct Stopped {};
struct Deleted {};

using RecipientEventPayload =
    std::variant<RecipientEnrolled, StepDispatched, StepCompleted, StepFailed,
                 Paused, Resumed, StepSkipped, ContentEdited,
                 ManualStepCompleted, ReplyReceived, MeetingBooked, Bounced,
                 Unsubscribed, Finished, Stopped, Deleted, StepDue,
                 SendTimedOut, DeliveryReportedLate>;

struct RecipientEvent {
  EventMetadata metadata;
  RecipientEventPayload payload;
};

// The event's name as in the API and the store ("RecipientEnrolled", "Paused",
// ...).
std::string_view EventName(const RecipientEventPayload& payload);
std::string_view EventName(const SequenceEventPayload& payload);

}  // namespace sequencer::domain

#endif  // SEQUENCER_DOMAIN_EVENTS_H_
