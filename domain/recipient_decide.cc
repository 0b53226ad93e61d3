#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "domain/content_rules.h"
#include "domain/recipient.h"
#include "domain/recipient_internal.h"
#include "domain/refusal.h"
#include "domain/template.h"

namespace sequencer::domain {
namespace {

using internal::AdvanceEvents;
using internal::AwaitingStatus;
using internal::Check;
using internal::CheckCurrentStep;
using internal::ContentField;
using internal::Events;
using internal::Gone;
using internal::HoldIfSequencePaused;
using internal::InvalidArgument;
using internal::IsDone;
using internal::IsEmptyEdit;
using internal::IsRespondedOrMeeting;
using internal::MakeAdvance;
using internal::MergeEdit;
using internal::MetadataFrom;
using internal::NotFound;
using internal::One;
using internal::RunningStatus;
using internal::StepCount;

// The Paused event for a recipient that is progressing now.
Paused MakePaused(const Recipient& r, absl::Time now, bool by_sequence) {
  Paused paused;
  paused.paused_from = r.status;
  paused.by_sequence = by_sequence;
  if (r.status == RecipientStatus::kInProgress ||
      IsRespondedOrMeeting(r.status)) {
    if (!r.awaiting_manual_action && r.due_at.has_value()) {
      paused.remaining_delay = std::max(absl::ZeroDuration(), *r.due_at - now);
    }
  }
  return paused;
}

// The Resumed event for a PAUSED recipient: the delay clock continues; a
// recipient paused from ERROR retries the errored step now; a manual step
// already due waits for a person.
Resumed MakeResumed(const Recipient& r, const Sequence& sequence,
                    absl::Time now) {
  Resumed resumed;
  if (r.paused_from == RecipientStatus::kError) {
    resumed.status = RunningStatus(r);
    resumed.next_due_at = now;
    return resumed;
  }
  const bool current_is_manual = r.current_step < StepCount(sequence) &&
                                 sequence.steps[r.current_step].IsManual();
  const bool awaiting =
      r.awaiting_manual_action ||
      r.paused_from == RecipientStatus::kPendingAction ||
      (current_is_manual && r.remaining_delay <= absl::ZeroDuration());
  if (awaiting) {
    resumed.status = AwaitingStatus(r);
    resumed.awaiting_manual_action = true;
    return resumed;
  }
  resumed.status = RunningStatus(r);
  resumed.next_due_at = now + std::max(absl::ZeroDuration(), r.remaining_delay);
  return resumed;
}

const std::optional<std::string>& EditField(const ContentEdit& edit,
                                            ContentField field) {
  switch (field) {
    case ContentField::kSubject:
      return edit.subject;
    case ContentField::kBody:
      return edit.body;
    case ContentField::kMessage:
      return edit.message;
    case ContentField::kDetails:
      break;
  }
  return edit.details;
}

absl::string_view StepStateName(StepState state) {
  switch (state) {
    case StepState::kUpcoming:
      return "STEP_STATE_UPCOMING";
    case StepState::kCurrent:
      return "STEP_STATE_CURRENT";
    case StepState::kCompleted:
      return "STEP_STATE_COMPLETED";
    case StepState::kSkipped:
      return "STEP_STATE_SKIPPED";
    case StepState::kCancelled:
      return "STEP_STATE_CANCELLED";
  }
  return "UNKNOWN";
}

StepState RecordedState(const Recipient& r, int index) {
  if (index < 0 || index >= static_cast<int>(r.steps.size()))
    return StepState::kUpcoming;
  return r.steps[index].state;
}

Events DecideSignal(const RecordSignal& command, const Recipient& r,
                    const Sequence& sequence, const DecisionContext& context) {
  if (Gone(r)) return NotFound(r);
  if (command.detail.size() > kMaxSignalDetailLength) {
    return InvalidArgument(absl::StrCat("detail: must be at most ",
                                        kMaxSignalDetailLength, " bytes, got ",
                                        command.detail.size()));
  }
  const bool final = r.IsFinal();
  const bool stops = !final && sequence.stop_on_response;
  switch (command.signal) {
    case SignalType::kReply:
      return One(context, ReplyReceived{command.detail, stops, final});
    case SignalType::kMeetingBooked:
      return One(context, MeetingBooked{command.detail, stops, final});
    case SignalType::kBounce:
      return One(context, Bounced{command.detail, final, /*lease_token=*/""});
    case SignalType::kUnsubscribe:
      return One(context, Unsubscribed{command.detail, final});
  }
  return InvalidArgument("signal: unknown signal type");
}

// STEP_NOT_EDITABLE when step `index` is done, or is current and its send has
// begun (its content can no longer change).
absl::Status CheckStepEditable(const Recipient& r, int index) {
  const StepState recorded = RecordedState(r, index);
  if (index < r.current_step || IsDone(recorded)) {
    const StepState shown = IsDone(recorded) ? recorded : StepState::kCompleted;
    return RefuseAction(
        absl::StrCat("Edit content is not available for step ", index,
                     ": the step is ", StepStateName(shown),
                     " (only steps not yet completed can be edited)"),
        Refusal{RefusalReason::kStepNotEditable,
                {{"status", std::string(StatusName(r.status))},
                 {"action", std::string(ActionName(Action::kEditContent))},
                 {"step_index", absl::StrCat(index)},
                 {"step_state", std::string(StepStateName(shown))}}});
  }
  if (index == r.current_step && !r.in_flight_token.empty()) {
    return RefuseAction(
        absl::StrCat("Edit content is not available for step ", index,
                     ": a send of this step has begun (its content can no "
                     "longer change)"),
        Refusal{
            RefusalReason::kStepNotEditable,
            {{"status", std::string(StatusName(r.status))},
             {"action", std::string(ActionName(Action::kEditContent))},
             {"step_index", absl::StrCat(index)},
             {"step_state", std::string(StepStateName(StepState::kCurrent))},
             {"send_in_progress", "true"}}});
  }
  return absl::OkStatus();
}

// INVALID_ARGUMENT for an edit field the step's type does not use, or when
// the content with the edit merged in does not fit the step.
absl::Status CheckEditFits(const EditContent& command, const Recipient& r,
                           const StepDefinition& step) {
  const int index = command.step_index;
  for (ContentField field : internal::kAllContentFields) {
    if (EditField(command.edit, field).has_value() &&
        !internal::TypeUsesField(step.type, field)) {
      return InvalidArgument(absl::StrCat(
          "edit.", internal::ContentFieldName(field), ": step ", index,
          " is a ", std::string(StepTypeName(step.type)),
          " step, which has no ", internal::ContentFieldName(field),
          " (it uses ", internal::FieldsOfType(step.type), ")"));
    }
  }
  const ContentEdit merged = MergeEdit(index < static_cast<int>(r.steps.size())
                                           ? r.steps[index].override_content
                                           : ContentEdit{},
                                       command.edit);
  return ValidateStepContent(absl::StrCat("steps[", index, "]"), step.type,
                             EffectiveContent(step, merged));
}

Events DecideEdit(const EditContent& command, const Recipient& r,
                  const Sequence& sequence, const DecisionContext& context) {
  if (absl::Status status = Check(Action::kEditContent, r, sequence);
      !status.ok())
    return status;
  const int index = command.step_index;
  if (index < 0 || index >= StepCount(sequence)) {
    return InvalidArgument(absl::StrCat("step_index: must be between 0 and ",
                                        StepCount(sequence) - 1, ", got ",
                                        index));
  }
  if (IsEmptyEdit(command.edit)) {
    return InvalidArgument(
        "edit: at least one of subject, body, message or details must be set");
  }
  if (absl::Status status = CheckStepEditable(r, index); !status.ok()) {
    return status;
  }
  if (absl::Status status = CheckEditFits(command, r, sequence.steps[index]);
      !status.ok()) {
    return status;
  }
  ContentEdited edited;
  edited.step_index = index;
  edited.edit = command.edit;
  if (r.status == RecipientStatus::kError && index == r.current_step) {
    edited.requeued = true;
    if (sequence.paused) {
      edited.held_by_sequence = true;
    } else {
      edited.next_due_at = context.now;
    }
  }
  return One(context, std::move(edited));
}

Events DecideSkip(const Recipient& r, const Sequence& sequence,
                  const DecisionContext& context) {
  if (absl::Status s = Check(Action::kSkipStep, r, sequence); !s.ok()) return s;
  if (absl::Status s = CheckCurrentStep(Action::kSkipStep, r, sequence);
      !s.ok()) {
    return s;
  }
  StepSkipped skipped;
  skipped.step_index = r.current_step;
  skipped.advance = MakeAdvance(r, sequence, r.current_step + 1, context.now);
  return AdvanceEvents(std::move(skipped), context);
}

Events DecideCompleteManualStep(const CompleteManualStep& complete,
                                const Recipient& r, const Sequence& sequence,
                                const DecisionContext& context) {
  if (absl::Status s = Check(Action::kCompleteManualStep, r, sequence);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          CheckCurrentStep(Action::kCompleteManualStep, r, sequence);
      !s.ok()) {
    return s;
  }
  if (complete.step_index.has_value() &&
      *complete.step_index != r.current_step) {
    return RefuseAction(
        absl::StrCat("step ", *complete.step_index,
                     " is not the pending manual step (step ", r.current_step,
                     " is)"),
        Refusal{
            RefusalReason::kNotAPendingManualStep,
            {{"status", std::string(StatusName(r.status))},
             {"action", std::string(ActionName(Action::kCompleteManualStep))},
             {"step_index", absl::StrCat(*complete.step_index)}}});
  }
  ManualStepCompleted completed;
  completed.step_index = r.current_step;
  completed.advance = HoldIfSequencePaused(
      MakeAdvance(r, sequence, r.current_step + 1, context.now), sequence,
      context.now);
  return AdvanceEvents(std::move(completed), context);
}

Events DecidePauseBySequence(const Recipient& r,
                             const DecisionContext& context) {
  if (Gone(r)) return NotFound(r);
  const bool progressing = r.status == RecipientStatus::kInProgress ||
                           (IsRespondedOrMeeting(r.status) && r.IsRunning());
  if (!progressing) return std::vector<RecipientEvent>{};
  return One(context, MakePaused(r, context.now, /*by_sequence=*/true));
}

Events DecideResumeBySequence(const Recipient& r, const Sequence& sequence,
                              const DecisionContext& context) {
  if (Gone(r)) return NotFound(r);
  if (r.status != RecipientStatus::kPaused || !r.paused_by_sequence) {
    return std::vector<RecipientEvent>{};
  }
  return One(context, MakeResumed(r, sequence, context.now));
}

// An action whose only event is `payload` once the action table allows it.
Events DecideByTable(Action action, const Recipient& r,
                     const Sequence& sequence, const DecisionContext& context,
                     RecipientEventPayload payload) {
  if (absl::Status s = Check(action, r, sequence); !s.ok()) return s;
  return One(context, std::move(payload));
}

// INVALID_ARGUMENT naming the first contact field or variable over its limit
// or of a bad name.
absl::Status ValidatePersonalData(const EnrollRecipient& command) {
  const std::pair<const char*, const std::string*> contact_fields[] = {
      {"contact.email", &command.contact.email},
      {"contact.phone", &command.contact.phone},
      {"contact.social_profile", &command.contact.social_profile},
  };
  for (const auto& [name, value] : contact_fields) {
    if (value->size() > kMaxContactFieldLength) {
      return InvalidArgument(absl::StrCat(name, ": must be at most ",
                                          kMaxContactFieldLength,
                                          " bytes, got ", value->size()));
    }
  }
  if (command.variables.size() > kMaxVariables) {
    return InvalidArgument(absl::StrCat("variables: at most ", kMaxVariables,
                                        " per recipient, got ",
                                        command.variables.size()));
  }
  size_t total_bytes = 0;
  for (const auto& [name, value] : command.variables) {
    if (!IsValidVariableName(name)) {
      return InvalidArgument(
          absl::StrCat("variables[\"", name, "\"]: ", kVariableNameRule));
    }
    if (value.size() > kMaxVariableValueBytes) {
      return InvalidArgument(
          absl::StrCat("variables[\"", name, "\"]: must be at most ",
                       kMaxVariableValueBytes, " bytes, got ", value.size()));
    }
    total_bytes += name.size() + value.size();
  }
  if (total_bytes > kMaxVariablesTotalBytes) {
    return InvalidArgument(absl::StrCat(
        "variables: names and values together must be at most ",
        kMaxVariablesTotalBytes, " bytes per recipient, got ", total_bytes));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<RecipientEvent>> DecideEnroll(
    const EnrollRecipient& command, const Sequence& sequence,
    const Recipient& current, const DecisionContext& context) {
  if (!sequence.exists) {
    return absl::NotFoundError(
        absl::StrCat("sequence ", sequence.sequence_id, " not found"));
  }
  if (absl::Status status = ValidateId("recipient_id", command.recipient_id);
      !status.ok()) {
    return status;
  }
  if (absl::Status status = ValidatePersonalData(command); !status.ok()) {
    return status;
  }
  if (current.exists) {
    return absl::AlreadyExistsError(absl::StrCat(
        "recipient ", command.recipient_id,
        " is or was already enrolled in sequence ", sequence.sequence_id));
  }
  RecipientEnrolled enrolled;
  enrolled.sequence_id = sequence.sequence_id;
  enrolled.recipient_id = command.recipient_id;
  enrolled.contact = command.contact;
  enrolled.variables = command.variables;
  enrolled.step_count = StepCount(sequence);
  enrolled.start = MakeAdvance(Recipient{}, sequence, 0, context.now);
  if (sequence.paused && enrolled.step_count > 0) {
    enrolled.paused_by_sequence = true;
    enrolled.remaining_delay = sequence.steps[0].delay;
    enrolled.start.next_due_at.reset();
  }
  std::vector<RecipientEvent> events = One(context, std::move(enrolled));
  if (StepCount(sequence) == 0)
    events.push_back(RecipientEvent{MetadataFrom(context), Finished{}});
  return events;
}

absl::StatusOr<std::vector<RecipientEvent>> Decide(
    const RecipientCommand& command, const Recipient& current,
    const Sequence& sequence, const DecisionContext& context) {
  const Recipient& r = current;
  const absl::Time now = context.now;
  return std::visit(
      internal::Overloaded{
          [&](const PauseRecipient&) -> Events {
            return DecideByTable(Action::kPause, r, sequence, context,
                                 MakePaused(r, now, /*by_sequence=*/false));
          },
          [&](const ResumeRecipient&) -> Events {
            return DecideByTable(Action::kResume, r, sequence, context,
                                 MakeResumed(r, sequence, now));
          },
          [&](const SkipStep&) { return DecideSkip(r, sequence, context); },
          [&](const EditContent& edit) {
            return DecideEdit(edit, r, sequence, context);
          },
          [&](const StopRecipient&) -> Events {
            return DecideByTable(Action::kStop, r, sequence, context,
                                 Stopped{});
          },
          [&](const DeleteRecipient&) -> Events {
            return DecideByTable(Action::kDelete, r, sequence, context,
                                 Deleted{});
          },
          [&](const CompleteManualStep& complete) {
            return DecideCompleteManualStep(complete, r, sequence, context);
          },
          [&](const RecordSignal& signal) {
            return DecideSignal(signal, r, sequence, context);
          },
          [&](const PauseBySequence&) {
            return DecidePauseBySequence(r, context);
          },
          [&](const ResumeBySequence&) {
            return DecideResumeBySequence(r, sequence, context);
          },
          [&](const MarkStepDue&) {
            return internal::DecideMarkStepDue(r, sequence, context);
          },
          [&](const BeginSend& begin) {
            return internal::DecideBeginSend(begin, r, sequence, context);
          },
          [&](const ReportDelivery& report) {
            return internal::DecideReportDelivery(report, r, sequence, context);
          },
      },
      command);
}

}  // namespace sequencer::domain
