#include "domain/recipient_internal.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "domain/refusal.h"

namespace sequencer::domain::internal {

bool IsRespondedOrMeeting(RecipientStatus status) {
  return status == RecipientStatus::kResponded ||
         status == RecipientStatus::kMeetingBooked;
}

RecipientStatus RunningStatus(const Recipient& r) {
  if (r.meeting_booked) return RecipientStatus::kMeetingBooked;
  if (r.responded) return RecipientStatus::kResponded;
  return RecipientStatus::kInProgress;
}

RecipientStatus AwaitingStatus(const Recipient& r) {
  return (r.meeting_booked || r.responded) ? RunningStatus(r)
                                           : RecipientStatus::kPendingAction;
}

bool Gone(const Recipient& r) { return !r.exists || r.deleted; }

absl::Status NotFound(const Recipient& r) {
  return absl::NotFoundError(
      r.recipient_id.empty()
          ? std::string("recipient not found")
          : absl::StrCat("recipient ", r.recipient_id, " not found"));
}

absl::Status InvalidArgument(absl::string_view message) {
  return WithRefusal(absl::InvalidArgumentError(message),
                     Refusal{RefusalReason::kInvalidArgument, {}});
}

EventMetadata MetadataFrom(const DecisionContext& context) {
  return EventMetadata{context.tenant_id, context.actor, context.request_id,
                       context.now};
}

int StepCount(const Sequence& sequence) {
  return static_cast<int>(sequence.steps.size());
}

std::string StatusDescription(const Recipient& r) {
  std::string out = std::string(StatusName(r.status));
  if (IsRespondedOrMeeting(r.status)) {
    absl::StrAppend(
        &out, r.stopped_by_rule ? " (stopped by rule)" : " (still running)");
  }
  return out;
}

std::vector<RecipientEvent> One(const DecisionContext& context,
                                RecipientEventPayload payload) {
  std::vector<RecipientEvent> events;
  events.push_back(RecipientEvent{MetadataFrom(context), std::move(payload)});
  return events;
}

Advance MakeAdvance(const Recipient& r, const Sequence& sequence, int next_step,
                    absl::Time now) {
  Advance advance;
  advance.next_step = next_step;
  if (next_step >= StepCount(sequence)) {
    advance.next_step = StepCount(sequence);
    advance.next_status = RecipientStatus::kFinished;
    return advance;
  }
  const StepDefinition& step = sequence.steps[next_step];
  if (step.IsManual() && step.delay <= absl::ZeroDuration()) {
    advance.next_status = AwaitingStatus(r);
    advance.awaiting_manual_action = true;
    return advance;
  }
  advance.next_status = RunningStatus(r);
  advance.next_due_at = now + step.delay;
  return advance;
}

Advance HoldIfSequencePaused(Advance advance, const Sequence& sequence,
                             absl::Time now) {
  if (!sequence.paused || !advance.next_due_at.has_value()) return advance;
  advance.held_by_sequence = true;
  advance.held_delay =
      std::max(absl::ZeroDuration(), *advance.next_due_at - now);
  advance.next_due_at.reset();
  return advance;
}

ContentEdit MergeEdit(ContentEdit base, const ContentEdit& edit) {
  if (edit.subject.has_value()) base.subject = edit.subject;
  if (edit.body.has_value()) base.body = edit.body;
  if (edit.message.has_value()) base.message = edit.message;
  if (edit.details.has_value()) base.details = edit.details;
  return base;
}

bool IsEmptyEdit(const ContentEdit& edit) {
  return !edit.subject && !edit.body && !edit.message && !edit.details;
}

bool IsDone(StepState state) {
  return state == StepState::kCompleted || state == StepState::kSkipped ||
         state == StepState::kCancelled;
}

int InFlightStep(const Recipient& r) {
  for (size_t i = 0; i < r.steps.size(); ++i) {
    if (r.steps[i].dispatched_content.has_value()) return static_cast<int>(i);
  }
  return r.current_step;
}

}  // namespace sequencer::domain::internal
