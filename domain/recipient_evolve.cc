#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "absl/time/time.h"
#include "domain/recipient.h"
#include "domain/recipient_internal.h"
#include "domain/report.h"

namespace sequencer::domain {
namespace {

using internal::ApplyAdvance;
using internal::AwaitingStatus;
using internal::InFlightStep;
using internal::IsRespondedOrMeeting;
using internal::MergeEdit;
using internal::RunningStatus;

void CancelRemaining(Recipient& r) {
  for (size_t i = std::max(0, r.current_step); i < r.steps.size(); ++i) {
    if (r.steps[i].state != StepState::kCompleted &&
        r.steps[i].state != StepState::kSkipped) {
      r.steps[i].state = StepState::kCancelled;
    }
  }
}

// The recipient stops progressing for good in `status`.
void EndWith(Recipient& r, RecipientStatus status) {
  r.status = status;
  r.due_at.reset();
  r.remaining_delay = absl::ZeroDuration();
  r.awaiting_manual_action = false;
  r.awaiting_delivery = false;
  r.paused_by_sequence = false;
  CancelRemaining(r);
}

void MarkCurrent(Recipient& r) {
  if (r.current_step >= 0 &&
      r.current_step < static_cast<int>(r.steps.size()) &&
      r.steps[r.current_step].state == StepState::kUpcoming) {
    r.steps[r.current_step].state = StepState::kCurrent;
  }
}

// A delivery result (a send that had begun) arriving while the recipient is
// PAUSED: it stays paused; the next step's whole delay starts only at Resume.
void ApplyAdvanceWhilePaused(Recipient& r, const Advance& advance,
                             absl::Time at) {
  const RecipientStatus paused_from = advance.next_status;
  const std::optional<absl::Time> due = advance.next_due_at;
  const bool by_sequence = r.paused_by_sequence;
  ApplyAdvance(r, advance);
  if (r.current_step >= static_cast<int>(r.steps.size())) return;
  r.status = RecipientStatus::kPaused;
  r.paused_from = paused_from;
  r.paused_by_sequence = by_sequence;
  r.remaining_delay = advance.held_by_sequence ? advance.held_delay
                      : due.has_value()
                          ? std::max(absl::ZeroDuration(), *due - at)
                          : absl::ZeroDuration();
  r.due_at.reset();
}

RecipientStep* StepAt(Recipient& r, int index) {
  if (index < 0) return nullptr;
  if (index >= static_cast<int>(r.steps.size())) r.steps.resize(index + 1);
  return &r.steps[index];
}

// A worker's delivery result under `lease_token` (empty for results not
// reported by a worker): the send is no longer in flight and a second report
// of the same lease changes nothing.
void RecordDeliveryResult(Recipient& r, int step_index,
                          const std::string& lease_token) {
  if (lease_token.empty()) return;
  if (lease_token == r.in_flight_token) {
    r.in_flight_token.clear();
    r.send_deadline.reset();
    if (step_index >= 0 && step_index < static_cast<int>(r.steps.size())) {
      r.steps[step_index].dispatched_content.reset();
    }
  }
  if (lease_token == r.unreported_send.lease_token) {
    r.unreported_send = Recipient::UnreportedSend{};
  }
  r.last_reported_token = lease_token;
}

// The current step failed with `message`: ERROR, or, while PAUSED, a Resume
// that retries it. Recorded only after a final status.
void FailCurrentStep(Recipient& r, const std::string& message) {
  if (r.IsFinal() || r.deleted) return;
  r.error_message = message;
  r.due_at.reset();
  r.awaiting_manual_action = false;
  r.awaiting_delivery = false;
  if (r.status == RecipientStatus::kPaused) {
    r.paused_from = RecipientStatus::kError;
    r.remaining_delay = absl::ZeroDuration();
  } else {
    r.status = RecipientStatus::kError;
  }
}

// A reply or a meeting (`meeting` true) that does not end the sequence.
void ApplyRunningSignal(Recipient& r) {
  if (r.status == RecipientStatus::kInProgress ||
      r.status == RecipientStatus::kPendingAction ||
      IsRespondedOrMeeting(r.status)) {
    r.status = RunningStatus(r);
  } else if (r.status == RecipientStatus::kPaused &&
             (r.paused_from == RecipientStatus::kInProgress ||
              r.paused_from == RecipientStatus::kPendingAction ||
              IsRespondedOrMeeting(r.paused_from))) {
    r.paused_from = RunningStatus(r);
  }
}

void ApplyResponse(Recipient& r, bool meeting, bool stops_sequence,
                   bool recorded_only) {
  if (recorded_only) return;
  if (meeting) {
    r.meeting_booked = true;
  } else {
    r.responded = true;
  }
  if (stops_sequence) {
    r.stopped_by_rule = true;
    r.error_message.clear();
    EndWith(r, RunningStatus(r));
    return;
  }
  ApplyRunningSignal(r);
}

// Applies one event's payload to `r`; `metadata` is the event's.
struct Evolver {
  Recipient& r;
  const EventMetadata& metadata;

  void operator()(const RecipientEnrolled& e) const;
  void operator()(const StepDue& e) const;
  void operator()(const StepDispatched& e) const;
  void operator()(const StepCompleted& e) const;
  void operator()(const StepFailed& e) const;
  void operator()(const SendTimedOut& e) const;
  void operator()(const DeliveryReportedLate& e) const;
  void operator()(const Paused& e) const;
  void operator()(const Resumed& e) const;
  void operator()(const StepSkipped& e) const;
  void operator()(const ContentEdited& e) const;
  void operator()(const ManualStepCompleted& e) const;
  void operator()(const ReplyReceived& e) const;
  void operator()(const MeetingBooked& e) const;
  void operator()(const Bounced& e) const;
  void operator()(const Unsubscribed& e) const;
  void operator()(const Finished&) const;
  void operator()(const Stopped&) const;
  void operator()(const Deleted&) const;
};

void Evolver::operator()(const RecipientEnrolled& e) const {
  r.exists = true;
  r.tenant_id = metadata.tenant_id;
  r.sequence_id = e.sequence_id;
  r.recipient_id = e.recipient_id;
  r.contact = e.contact;
  r.variables = e.variables;
  r.steps.assign(std::max(0, e.step_count), RecipientStep{});
  r.enrolled_at = metadata.occurred_at;
  r.current_step = 0;
  ApplyAdvance(r, e.start);
  if (e.paused_by_sequence) {
    r.paused_from = e.start.next_status;
    r.status = RecipientStatus::kPaused;
    r.paused_by_sequence = true;
    r.remaining_delay = e.remaining_delay;
    r.due_at.reset();
  }
}

void Evolver::operator()(const StepDue& e) const {
  if (e.manual) {
    r.awaiting_manual_action = true;
    r.status = AwaitingStatus(r);
    r.due_at.reset();
  } else {
    // due_at is kept: it orders the delivery queue.
    r.awaiting_delivery = true;
  }
}

void Evolver::operator()(const StepDispatched& e) const {
  r.awaiting_delivery = false;
  r.in_flight_token = e.lease_token;
  r.send_deadline = e.deadline;
  if (RecipientStep* step = StepAt(r, e.step_index)) {
    step->dispatched_content = e.content;
  }
}

void Evolver::operator()(const StepCompleted& e) const {
  RecordDeliveryResult(r, e.step_index, e.lease_token);
  // A result that arrives after the recipient ended (a send that had begun)
  // is recorded; the status does not change.
  if (RecipientStep* step = StepAt(r, e.step_index)) {
    step->state = StepState::kCompleted;
    if (!r.deleted) step->sent_content = e.content;
    step->completed_at = metadata.occurred_at;
  }
  if (r.IsFinal() || r.deleted) return;
  if (r.status == RecipientStatus::kPaused) {
    ApplyAdvanceWhilePaused(r, e.advance, metadata.occurred_at);
  } else {
    ApplyAdvance(r, e.advance);
  }
}

void Evolver::operator()(const StepFailed& e) const {
  RecordDeliveryResult(r, e.step_index, e.lease_token);
  FailCurrentStep(r, e.error_message);
}

void Evolver::operator()(const SendTimedOut& e) const {
  Recipient::UnreportedSend unreported;
  unreported.lease_token = e.lease_token;
  unreported.step_index = e.step_index;
  if (RecipientStep* step = StepAt(r, e.step_index)) {
    if (step->dispatched_content.has_value()) {
      unreported.content = *step->dispatched_content;
    }
    step->dispatched_content.reset();
  }
  r.in_flight_token.clear();
  r.send_deadline.reset();
  r.unreported_send = std::move(unreported);
  FailCurrentStep(r, e.error_message);
}

void Evolver::operator()(const DeliveryReportedLate& e) const {
  RecordDeliveryResult(r, e.step_index, e.lease_token);
}

void Evolver::operator()(const Paused& e) const {
  // A queued delivery is revoked; a send in flight is not.
  r.awaiting_delivery = false;
  r.status = RecipientStatus::kPaused;
  r.paused_from = e.paused_from;
  r.remaining_delay = e.remaining_delay;
  r.paused_by_sequence = e.by_sequence;
  r.due_at.reset();
}

void Evolver::operator()(const Resumed& e) const {
  r.status = e.status;
  r.due_at = e.next_due_at;
  r.awaiting_manual_action = e.awaiting_manual_action;
  r.remaining_delay = absl::ZeroDuration();
  r.paused_by_sequence = false;
  r.paused_from = RecipientStatus::kInProgress;
  if (e.status != RecipientStatus::kError) r.error_message.clear();
}

void Evolver::operator()(const StepSkipped& e) const {
  if (RecipientStep* step = StepAt(r, e.step_index)) {
    step->state = StepState::kSkipped;
  }
  ApplyAdvance(r, e.advance);
}

void Evolver::operator()(const ContentEdited& e) const {
  if (RecipientStep* step = StepAt(r, e.step_index)) {
    step->override_content = MergeEdit(step->override_content, e.edit);
  }
  // The queued content changed: the step is queued again.
  if (e.step_index == r.current_step) r.awaiting_delivery = false;
  if (!e.requeued) return;
  r.status = RunningStatus(r);
  r.due_at = e.next_due_at;
  r.awaiting_manual_action = false;
  r.error_message.clear();
  if (e.held_by_sequence) {
    r.paused_from = r.status;
    r.status = RecipientStatus::kPaused;
    r.paused_by_sequence = true;
    r.remaining_delay = absl::ZeroDuration();
    r.due_at.reset();
  }
}

void Evolver::operator()(const ManualStepCompleted& e) const {
  if (RecipientStep* step = StepAt(r, e.step_index)) {
    step->state = StepState::kCompleted;
    step->completed_at = metadata.occurred_at;
  }
  ApplyAdvance(r, e.advance);
}

void Evolver::operator()(const ReplyReceived& e) const {
  ApplyResponse(r, /*meeting=*/false, e.stops_sequence, e.recorded_only);
}

void Evolver::operator()(const MeetingBooked& e) const {
  ApplyResponse(r, /*meeting=*/true, e.stops_sequence, e.recorded_only);
}

void Evolver::operator()(const Bounced& e) const {
  RecordDeliveryResult(r, InFlightStep(r), e.lease_token);
  if (!e.recorded_only) EndWith(r, RecipientStatus::kBounced);
}

void Evolver::operator()(const Unsubscribed& e) const {
  if (!e.recorded_only) EndWith(r, RecipientStatus::kUnsubscribed);
}

void Evolver::operator()(const Finished&) const {
  r.status = RecipientStatus::kFinished;
  r.current_step = static_cast<int>(r.steps.size());
  r.due_at.reset();
  r.remaining_delay = absl::ZeroDuration();
  r.awaiting_manual_action = false;
  r.awaiting_delivery = false;
  r.paused_by_sequence = false;
  r.error_message.clear();
}

void Evolver::operator()(const Stopped&) const {
  EndWith(r, RecipientStatus::kStopped);
}

void Evolver::operator()(const Deleted&) const {
  r.deleted = true;
  r.contact = Contact{};
  r.variables.clear();
  r.error_message.clear();
  r.due_at.reset();
  r.awaiting_manual_action = false;
  r.awaiting_delivery = false;
  r.in_flight_token.clear();
  r.send_deadline.reset();
  r.last_reported_token.clear();
  r.unreported_send = Recipient::UnreportedSend{};
  for (RecipientStep& step : r.steps) {
    step.override_content = ContentEdit{};
    step.sent_content.reset();
    step.dispatched_content.reset();
  }
}

}  // namespace

namespace internal {

void ApplyAdvance(Recipient& r, const Advance& advance) {
  r.current_step = advance.next_step;
  r.awaiting_delivery = false;
  r.error_message.clear();
  r.remaining_delay = absl::ZeroDuration();
  if (advance.next_step >= static_cast<int>(r.steps.size())) {
    r.current_step = static_cast<int>(r.steps.size());
    r.due_at.reset();
    r.awaiting_manual_action = false;
    return;
  }
  r.status = advance.next_status;
  r.due_at = advance.next_due_at;
  r.awaiting_manual_action = advance.awaiting_manual_action;
  MarkCurrent(r);
  if (advance.held_by_sequence) {
    r.paused_from = advance.next_status;
    r.status = RecipientStatus::kPaused;
    r.paused_by_sequence = true;
    r.remaining_delay = advance.held_delay;
    r.due_at.reset();
  }
}

}  // namespace internal

Recipient Evolve(Recipient state, const RecipientEvent& event) {
  CountEvent(event.payload, state);
  std::visit(Evolver{state, event.metadata}, event.payload);
  ++state.version;
  state.updated_at = event.metadata.occurred_at;
  return state;
}

}  // namespace sequencer::domain
