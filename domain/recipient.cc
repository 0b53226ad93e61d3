#include "domain/recipient.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "domain/content_rules.h"
#include "domain/refusal.h"
#include "domain/schedule.h"
#include "domain/template.h"

namespace sequencer::domain {
namespace {

using internal::ContentField;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

// ---- Small state queries.

bool IsRespondedOrMeeting(RecipientStatus status) {
  return status == RecipientStatus::kResponded ||
         status == RecipientStatus::kMeetingBooked;
}

// The status of a recipient whose steps progress: a running
// RESPONDED/MEETING_BOOKED (meeting wins) keeps showing the signal; otherwise
// IN_PROGRESS.
RecipientStatus RunningStatus(const Recipient& r) {
  if (r.meeting_booked) return RecipientStatus::kMeetingBooked;
  if (r.responded) return RecipientStatus::kResponded;
  return RecipientStatus::kInProgress;
}

// The status a waiting-for-a-person recipient shows.
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

// ---- The action table: the one rule every caller uses.

absl::string_view ActionDisplayName(Action action) {
  switch (action) {
    case Action::kPause:
      return "Pause";
    case Action::kResume:
      return "Resume";
    case Action::kSkipStep:
      return "Skip step";
    case Action::kEditContent:
      return "Edit content";
    case Action::kViewContent:
      return "View content";
    case Action::kStop:
      return "Stop";
    case Action::kDelete:
      return "Delete";
    case Action::kCompleteManualStep:
      return "Complete manual step";
  }
  return "This action";
}

struct Rule {
  bool available = true;
  std::optional<RefusalReason> reason;
  std::string message;
  std::map<std::string, std::string> metadata;
};

std::string StatusDescription(const Recipient& r) {
  std::string out = std::string(StatusName(r.status));
  if (IsRespondedOrMeeting(r.status)) {
    absl::StrAppend(
        &out, r.stopped_by_rule ? " (stopped by rule)" : " (still running)");
  }
  return out;
}

Rule Refused(Action action, const Recipient& r, RefusalReason reason,
             std::string message) {
  Rule rule;
  rule.available = false;
  rule.reason = reason;
  rule.message = std::move(message);
  rule.metadata["status"] = std::string(StatusName(r.status));
  rule.metadata["action"] = std::string(ActionName(action));
  if (r.stopped_by_rule) rule.metadata["stopped_by_rule"] = "true";
  return rule;
}

Rule NotAvailableInStatus(Action action, const Recipient& r) {
  return Refused(action, r, RefusalReason::kActionNotAvailable,
                 absl::StrCat(ActionDisplayName(action),
                              " is not available for a recipient in status ",
                              StatusDescription(r)));
}

// The action-by-status table of the product contract, plus the sequence-paused
// rule.
Rule Evaluate(Action action, const Recipient& r, const Sequence& sequence) {
  if (Gone(r)) {
    Rule rule;
    rule.available = false;
    rule.reason = RefusalReason::kActionNotAvailable;
    rule.message = "the recipient does not exist or was deleted";
    rule.metadata["action"] = std::string(ActionName(action));
    return rule;
  }
  const bool running = r.IsRunning();
  const bool paused = r.status == RecipientStatus::kPaused;
  if (sequence.paused &&
      (action == Action::kPause || action == Action::kResume ||
       action == Action::kSkipStep)) {
    return Refused(
        action, r, RefusalReason::kSequencePaused,
        absl::StrCat(ActionDisplayName(action),
                     " is not available while the sequence is paused"));
  }
  bool available = false;
  switch (action) {
    case Action::kPause:
    case Action::kSkipStep:
    case Action::kEditContent:
      available = running;
      break;
    case Action::kResume:
      available = paused;
      break;
    case Action::kViewContent:
      available = paused || r.IsFinal() || IsRespondedOrMeeting(r.status);
      break;
    case Action::kStop:
      available = running || paused;
      break;
    case Action::kDelete:
      available = true;
      break;
    case Action::kCompleteManualStep:
      if (running && !r.awaiting_manual_action) {
        return Refused(
            action, r, RefusalReason::kNotAPendingManualStep,
            absl::StrCat(
                "Complete manual step is not available: no manual step is "
                "waiting for a person (status ",
                StatusDescription(r), ")"));
      }
      available = running && r.awaiting_manual_action;
      break;
  }
  if (!available) return NotAvailableInStatus(action, r);
  if (action == Action::kSkipStep && !r.in_flight_token.empty()) {
    Rule rule = Refused(
        action, r, RefusalReason::kSendInProgress,
        absl::StrCat(
            "Skip step is not available: the current step's send has begun "
            "and its result is not recorded yet",
            r.send_deadline.has_value()
                ? absl::StrCat("; if none is reported by ",
                               absl::FormatTime(*r.send_deadline),
                               " the step goes to ERROR and can be skipped")
                : std::string()));
    if (r.send_deadline.has_value()) {
      rule.metadata["send_deadline"] = absl::FormatTime(*r.send_deadline);
    }
    return rule;
  }
  return Rule{};
}

absl::Status ToStatus(const Rule& rule) {
  if (rule.available) return absl::OkStatus();
  return RefuseAction(rule.message, Refusal{*rule.reason, rule.metadata});
}

// NOT_FOUND for a missing recipient, the refusal when `action` is not
// available, else OK.
absl::Status Check(Action action, const Recipient& r,
                   const Sequence& sequence) {
  if (Gone(r)) return NotFound(r);
  return ToStatus(Evaluate(action, r, sequence));
}

// ---- Building events.

// Where a recipient goes when `next_step` becomes current at `now`.
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

// While the sequence is paused no delay clock starts: an advance that would
// start one holds the recipient PAUSED by the sequence with the delay frozen.
Advance HoldIfSequencePaused(Advance advance, const Sequence& sequence,
                             absl::Time now) {
  if (!sequence.paused || !advance.next_due_at.has_value()) return advance;
  advance.held_by_sequence = true;
  advance.held_delay =
      std::max(absl::ZeroDuration(), *advance.next_due_at - now);
  advance.next_due_at.reset();
  return advance;
}

// The current step is done (completed or skipped): events for `done` followed
// by Finished when no step is left.
template <typename Event>
std::vector<RecipientEvent> AdvanceEvents(Event done,
                                          const DecisionContext& context) {
  const bool finishes = done.advance.next_status == RecipientStatus::kFinished;
  std::vector<RecipientEvent> events;
  events.push_back(RecipientEvent{MetadataFrom(context), std::move(done)});
  if (finishes)
    events.push_back(RecipientEvent{MetadataFrom(context), Finished{}});
  return events;
}

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

// ---- Decisions per command.

using Events = absl::StatusOr<std::vector<RecipientEvent>>;

std::vector<RecipientEvent> One(const DecisionContext& context,
                                RecipientEventPayload payload) {
  std::vector<RecipientEvent> events;
  events.push_back(RecipientEvent{MetadataFrom(context), std::move(payload)});
  return events;
}

absl::Status CheckCurrentStep(Action action, const Recipient& r,
                              const Sequence& sequence) {
  if (r.current_step < 0 || r.current_step >= StepCount(sequence)) {
    Rule rule = Refused(action, r, RefusalReason::kNoStepLeft,
                        absl::StrCat(ActionDisplayName(action),
                                     " is not available: no step is left"));
    return ToStatus(rule);
  }
  return absl::OkStatus();
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
  const StepDefinition& step = sequence.steps[index];
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
  if (absl::Status status =
          ValidateStepContent(absl::StrCat("steps[", index, "]"), step.type,
                              EffectiveContent(step, merged));
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

// ---- Evolve helpers.

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

// The step whose send is in flight: the one holding dispatched content (the
// current step otherwise).
int InFlightStep(const Recipient& r) {
  for (size_t i = 0; i < r.steps.size(); ++i) {
    if (r.steps[i].dispatched_content.has_value()) return static_cast<int>(i);
  }
  return r.current_step;
}

// Resolves every non-empty field of `content` with `variables`; missing
// variables are appended to `missing` in order of first appearance, each once.
StepContent ResolveContent(const StepContent& content,
                           const std::map<std::string, std::string>& variables,
                           std::vector<std::string>& missing) {
  auto resolve = [&](const std::string& text) {
    if (text.empty()) return std::string();
    ResolvedText resolved = ResolveTemplate(text, variables);
    for (std::string& name : resolved.missing_variables) {
      if (std::find(missing.begin(), missing.end(), name) == missing.end()) {
        missing.push_back(std::move(name));
      }
    }
    return std::move(resolved.text);
  };
  StepContent out;
  out.subject = resolve(content.subject);
  out.body = resolve(content.body);
  out.message = resolve(content.message);
  out.details = resolve(content.details);
  return out;
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

// ---- Runtime decisions (the scheduler and delivery workers).

// A refusal of a runtime command: FAILED_PRECONDITION with `reason` and the
// recipient's status.
absl::Status RefuseRuntime(const Recipient& r, RefusalReason reason,
                           absl::string_view action,
                           absl::string_view message) {
  std::map<std::string, std::string> metadata;
  metadata["action"] = std::string(action);
  if (r.exists) metadata["status"] = std::string(StatusName(r.status));
  if (r.deleted) metadata["deleted"] = "true";
  return RefuseAction(message, Refusal{reason, std::move(metadata)});
}

std::string MissingVariablesMessage(const std::vector<std::string>& missing) {
  std::string out =
      missing.size() == 1 ? "missing variable " : "missing variables ";
  for (size_t i = 0; i < missing.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ", ", "{{", missing[i], "}}");
  }
  return out;
}

Events DecideMarkStepDue(const Recipient& r, const Sequence& sequence,
                         const DecisionContext& context) {
  if (Gone(r)) return NotFound(r);
  const RecipientSchedule schedule = Schedule(r, sequence);
  if (schedule.kind != ScheduleKind::kDue || schedule.at > context.now) {
    return std::vector<RecipientEvent>{};
  }
  if (!r.in_flight_token.empty()) {
    return One(context,
               SendTimedOut{
                   InFlightStep(r), r.in_flight_token,
                   absl::StrCat("delivery outcome unknown: the send began but "
                                "no result was reported by ",
                                absl::FormatTime(*r.send_deadline),
                                " (the message may have been sent); skip the "
                                "step, or edit or pause and resume to retry")});
  }
  if (sequence.paused) return std::vector<RecipientEvent>{};
  const StepDefinition& step = sequence.steps[r.current_step];
  if (step.IsManual()) {
    return One(context, StepDue{r.current_step, /*manual=*/true});
  }
  const ResolvedStep resolved = ResolveCurrentStep(r, sequence);
  if (!resolved.missing_variables.empty()) {
    return One(context,
               StepFailed{r.current_step,
                          MissingVariablesMessage(resolved.missing_variables),
                          /*lease_token=*/""});
  }
  return One(context, StepDue{r.current_step, /*manual=*/false});
}

constexpr char kBeginSendAction[] = "BEGIN_SEND";
constexpr char kReportDeliveryAction[] = "REPORT_DELIVERY";

Events DecideBeginSend(const BeginSend& command, const Recipient& r,
                       const Sequence& sequence,
                       const DecisionContext& context) {
  if (command.lease_token.empty()) {
    return InvalidArgument("lease_token: must be set");
  }
  auto revoked = [&](absl::string_view why) {
    return RefuseRuntime(r, RefusalReason::kLeaseRevoked, kBeginSendAction,
                         absl::StrCat("the lease was revoked: ", why,
                                      "; the send must not go out"));
  };
  if (Gone(r)) return revoked("the recipient does not exist or was deleted");
  if (r.version != command.leased_version) {
    return revoked(
        absl::StrCat("the recipient changed since the lease (version ",
                     command.leased_version, ", now ", r.version, ")"));
  }
  if (!r.IsRunning() || r.status == RecipientStatus::kError) {
    return revoked(absl::StrCat("the recipient is ", StatusDescription(r)));
  }
  if (sequence.paused) return revoked("the sequence is paused");
  if (!r.in_flight_token.empty()) {
    return revoked("a send of the current step has already begun");
  }
  if (Schedule(r, sequence).kind != ScheduleKind::kReadyForDelivery) {
    return revoked("no step is queued for delivery");
  }
  ResolvedStep resolved = ResolveCurrentStep(r, sequence);
  if (!resolved.missing_variables.empty()) {
    return revoked(
        absl::StrCat("the content no longer resolves (",
                     MissingVariablesMessage(resolved.missing_variables), ")"));
  }
  if (command.send_deadline <= absl::ZeroDuration()) {
    return InvalidArgument("send_deadline: must be positive");
  }
  return One(
      context,
      StepDispatched{r.current_step, std::move(resolved.content),
                     command.lease_token, context.now + command.send_deadline});
}

std::string BounceDetail(const ReportDelivery& command) {
  std::string detail = command.error_message;
  if (!command.provider_message_id.empty()) {
    detail = detail.empty() ? command.provider_message_id
                            : absl::StrCat(detail, " (message ",
                                           command.provider_message_id, ")");
  }
  if (detail.size() > kMaxSignalDetailLength) {
    detail.resize(kMaxSignalDetailLength);
  }
  return detail;
}

// A result for a send that timed out (r.unreported_send holds its token).
Events DecideLateReport(const ReportDelivery& command, const Recipient& r,
                        const Sequence& sequence,
                        const DecisionContext& context) {
  const Recipient::UnreportedSend& send = r.unreported_send;
  const bool still_waiting = r.current_step == send.step_index &&
                             r.in_flight_token.empty() &&
                             (r.status == RecipientStatus::kError ||
                              (r.status == RecipientStatus::kPaused &&
                               r.paused_from == RecipientStatus::kError));
  if (command.outcome == DeliveryOutcome::kSent && still_waiting) {
    StepCompleted completed;
    completed.step_index = send.step_index;
    completed.content = send.content;
    completed.provider_message_id = command.provider_message_id;
    completed.advance = HoldIfSequencePaused(
        MakeAdvance(r, sequence, send.step_index + 1, context.now), sequence,
        context.now);
    completed.lease_token = command.lease_token;
    return AdvanceEvents(std::move(completed), context);
  }
  if (command.outcome == DeliveryOutcome::kBounced) {
    return One(context, Bounced{BounceDetail(command), r.IsFinal(),
                                command.lease_token});
  }
  DeliveryReportedLate late;
  late.step_index = send.step_index;
  late.outcome = command.outcome;
  late.provider_message_id = command.provider_message_id;
  late.error_message = command.error_message;
  late.lease_token = command.lease_token;
  return One(context, std::move(late));
}

Events DecideReportDelivery(const ReportDelivery& command, const Recipient& r,
                            const Sequence& sequence,
                            const DecisionContext& context) {
  if (absl::Status status = ValidateReportDelivery(command); !status.ok()) {
    return status;
  }
  if (Gone(r)) return NotFound(r);
  const std::string& token = command.lease_token;
  if (!token.empty() && token != r.in_flight_token &&
      token == r.unreported_send.lease_token) {
    return DecideLateReport(command, r, sequence, context);
  }
  if (token.empty() || token != r.in_flight_token) {
    if (!token.empty() && token == r.last_reported_token) {
      return std::vector<RecipientEvent>{};  // A duplicate report.
    }
    return RefuseRuntime(
        r, RefusalReason::kStaleLease, kReportDeliveryAction,
        r.in_flight_token.empty()
            ? std::string("the lease is stale: no send is in flight")
            : std::string("the lease is stale: another send is in flight"));
  }
  const int index = InFlightStep(r);
  const bool final = r.IsFinal();
  switch (command.outcome) {
    case DeliveryOutcome::kSent: {
      StepCompleted completed;
      completed.step_index = index;
      if (index >= 0 && index < static_cast<int>(r.steps.size()) &&
          r.steps[index].dispatched_content.has_value()) {
        completed.content = *r.steps[index].dispatched_content;
      }
      completed.provider_message_id = command.provider_message_id;
      completed.advance =
          HoldIfSequencePaused(MakeAdvance(r, sequence, index + 1, context.now),
                               sequence, context.now);
      completed.lease_token = token;
      // After a final status the result is recorded only: no Finished.
      if (final) return One(context, std::move(completed));
      return AdvanceEvents(std::move(completed), context);
    }
    case DeliveryOutcome::kFailed:
      return One(context, StepFailed{index, command.error_message, token});
    case DeliveryOutcome::kBounced:
      return One(context, Bounced{BounceDetail(command), final, token});
  }
  return InvalidArgument("outcome: unknown delivery outcome");
}

}  // namespace

// ---- Public API.

absl::Status ValidateReportDelivery(const ReportDelivery& report) {
  if (report.outcome == DeliveryOutcome::kFailed &&
      report.error_message.empty()) {
    return absl::InvalidArgumentError(
        "error_message: required when the outcome is FAILED");
  }
  return absl::OkStatus();
}

StepContent EffectiveContent(const StepDefinition& definition,
                             const ContentEdit& override_content) {
  StepContent content = definition.content;
  if (override_content.subject) content.subject = *override_content.subject;
  if (override_content.body) content.body = *override_content.body;
  if (override_content.message) content.message = *override_content.message;
  if (override_content.details) content.details = *override_content.details;
  return content;
}

std::optional<StepType> DeliveryChannel(const StepDefinition& step) {
  if (step.IsManual()) return std::nullopt;
  return step.type;
}

ResolvedStep ResolveCurrentStep(const Recipient& recipient,
                                const Sequence& sequence) {
  ResolvedStep resolved;
  resolved.step_index = recipient.current_step;
  const int index = recipient.current_step;
  if (index < 0 || index >= StepCount(sequence)) return resolved;
  const ContentEdit override_content =
      index < static_cast<int>(recipient.steps.size())
          ? recipient.steps[index].override_content
          : ContentEdit{};
  resolved.content =
      ResolveContent(EffectiveContent(sequence.steps[index], override_content),
                     TemplateVariables(recipient), resolved.missing_variables);
  return resolved;
}

std::map<std::string, std::string> TemplateVariables(
    const Recipient& recipient) {
  std::map<std::string, std::string> variables = recipient.variables;
  if (!recipient.contact.email.empty())
    variables.emplace("email", recipient.contact.email);
  if (!recipient.contact.phone.empty())
    variables.emplace("phone", recipient.contact.phone);
  return variables;
}

std::vector<ActionAvailability> AvailableActions(const Recipient& recipient,
                                                 const Sequence& sequence) {
  std::vector<ActionAvailability> out;
  for (Action action : kAllActions) {
    Rule rule = Evaluate(action, recipient, sequence);
    out.push_back(ActionAvailability{action, rule.available,
                                     std::move(rule.reason),
                                     std::move(rule.message)});
  }
  return out;
}

absl::Status CheckActionAvailable(Action action, const Recipient& recipient,
                                  const Sequence& sequence) {
  return Check(action, recipient, sequence);
}

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
      Overloaded{
          [&](const PauseRecipient&) -> Events {
            if (absl::Status s = Check(Action::kPause, r, sequence); !s.ok())
              return s;
            return One(context, MakePaused(r, now, /*by_sequence=*/false));
          },
          [&](const ResumeRecipient&) -> Events {
            if (absl::Status s = Check(Action::kResume, r, sequence); !s.ok())
              return s;
            return One(context, MakeResumed(r, sequence, now));
          },
          [&](const SkipStep&) -> Events {
            if (absl::Status s = Check(Action::kSkipStep, r, sequence); !s.ok())
              return s;
            if (absl::Status s =
                    CheckCurrentStep(Action::kSkipStep, r, sequence);
                !s.ok()) {
              return s;
            }
            StepSkipped skipped;
            skipped.step_index = r.current_step;
            skipped.advance = MakeAdvance(r, sequence, r.current_step + 1, now);
            return AdvanceEvents(std::move(skipped), context);
          },
          [&](const EditContent& edit) -> Events {
            return DecideEdit(edit, r, sequence, context);
          },
          [&](const StopRecipient&) -> Events {
            if (absl::Status s = Check(Action::kStop, r, sequence); !s.ok())
              return s;
            return One(context, Stopped{});
          },
          [&](const DeleteRecipient&) -> Events {
            if (absl::Status s = Check(Action::kDelete, r, sequence); !s.ok())
              return s;
            return One(context, Deleted{});
          },
          [&](const CompleteManualStep& complete) -> Events {
            if (absl::Status s =
                    Check(Action::kCompleteManualStep, r, sequence);
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
                               " is not the pending manual step (step ",
                               r.current_step, " is)"),
                  Refusal{
                      RefusalReason::kNotAPendingManualStep,
                      {{"status", std::string(StatusName(r.status))},
                       {"action",
                        std::string(ActionName(Action::kCompleteManualStep))},
                       {"step_index", absl::StrCat(*complete.step_index)}}});
            }
            ManualStepCompleted completed;
            completed.step_index = r.current_step;
            completed.advance = HoldIfSequencePaused(
                MakeAdvance(r, sequence, r.current_step + 1, now), sequence,
                now);
            return AdvanceEvents(std::move(completed), context);
          },
          [&](const RecordSignal& signal) -> Events {
            return DecideSignal(signal, r, sequence, context);
          },
          [&](const PauseBySequence&) -> Events {
            if (Gone(r)) return NotFound(r);
            const bool progressing =
                r.status == RecipientStatus::kInProgress ||
                (IsRespondedOrMeeting(r.status) && r.IsRunning());
            if (!progressing) return std::vector<RecipientEvent>{};
            return One(context, MakePaused(r, now, /*by_sequence=*/true));
          },
          [&](const ResumeBySequence&) -> Events {
            if (Gone(r)) return NotFound(r);
            if (r.status != RecipientStatus::kPaused || !r.paused_by_sequence) {
              return std::vector<RecipientEvent>{};
            }
            return One(context, MakeResumed(r, sequence, now));
          },
          [&](const MarkStepDue&) -> Events {
            return DecideMarkStepDue(r, sequence, context);
          },
          [&](const BeginSend& begin) -> Events {
            return DecideBeginSend(begin, r, sequence, context);
          },
          [&](const ReportDelivery& report) -> Events {
            return DecideReportDelivery(report, r, sequence, context);
          },
      },
      command);
}

Recipient Evolve(Recipient state, const RecipientEvent& event) {
  Recipient& r = state;
  const absl::Time at = event.metadata.occurred_at;
  std::visit(Overloaded{
                 [&](const RecipientEnrolled& e) {
                   r.exists = true;
                   r.tenant_id = event.metadata.tenant_id;
                   r.sequence_id = e.sequence_id;
                   r.recipient_id = e.recipient_id;
                   r.contact = e.contact;
                   r.variables = e.variables;
                   r.steps.assign(std::max(0, e.step_count), RecipientStep{});
                   r.enrolled_at = at;
                   r.current_step = 0;
                   ApplyAdvance(r, e.start);
                   if (e.paused_by_sequence) {
                     r.paused_from = e.start.next_status;
                     r.status = RecipientStatus::kPaused;
                     r.paused_by_sequence = true;
                     r.remaining_delay = e.remaining_delay;
                     r.due_at.reset();
                   }
                 },
                 [&](const StepDue& e) {
                   if (e.manual) {
                     r.awaiting_manual_action = true;
                     r.status = AwaitingStatus(r);
                     r.due_at.reset();
                   } else {
                     // due_at is kept: it orders the delivery queue.
                     r.awaiting_delivery = true;
                   }
                 },
                 [&](const StepDispatched& e) {
                   r.awaiting_delivery = false;
                   r.in_flight_token = e.lease_token;
                   r.send_deadline = e.deadline;
                   if (RecipientStep* step = StepAt(r, e.step_index)) {
                     step->dispatched_content = e.content;
                   }
                 },
                 [&](const StepCompleted& e) {
                   RecordDeliveryResult(r, e.step_index, e.lease_token);
                   // A result that arrives after the recipient ended (a send
                   // that had begun) is recorded; the status does not change.
                   if (RecipientStep* step = StepAt(r, e.step_index)) {
                     step->state = StepState::kCompleted;
                     if (!r.deleted) step->sent_content = e.content;
                     step->completed_at = at;
                   }
                   if (r.IsFinal() || r.deleted) return;
                   if (r.status == RecipientStatus::kPaused) {
                     ApplyAdvanceWhilePaused(r, e.advance, at);
                   } else {
                     ApplyAdvance(r, e.advance);
                   }
                 },
                 [&](const StepFailed& e) {
                   RecordDeliveryResult(r, e.step_index, e.lease_token);
                   FailCurrentStep(r, e.error_message);
                 },
                 [&](const SendTimedOut& e) {
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
                 },
                 [&](const DeliveryReportedLate& e) {
                   RecordDeliveryResult(r, e.step_index, e.lease_token);
                 },
                 [&](const Paused& e) {
                   // A queued delivery is revoked; a send in flight is not.
                   r.awaiting_delivery = false;
                   r.status = RecipientStatus::kPaused;
                   r.paused_from = e.paused_from;
                   r.remaining_delay = e.remaining_delay;
                   r.paused_by_sequence = e.by_sequence;
                   r.due_at.reset();
                 },
                 [&](const Resumed& e) {
                   r.status = e.status;
                   r.due_at = e.next_due_at;
                   r.awaiting_manual_action = e.awaiting_manual_action;
                   r.remaining_delay = absl::ZeroDuration();
                   r.paused_by_sequence = false;
                   r.paused_from = RecipientStatus::kInProgress;
                   if (e.status != RecipientStatus::kError)
                     r.error_message.clear();
                 },
                 [&](const StepSkipped& e) {
                   if (RecipientStep* step = StepAt(r, e.step_index))
                     step->state = StepState::kSkipped;
                   ApplyAdvance(r, e.advance);
                 },
                 [&](const ContentEdited& e) {
                   if (RecipientStep* step = StepAt(r, e.step_index)) {
                     step->override_content =
                         MergeEdit(step->override_content, e.edit);
                   }
                   // The queued content changed: the step is queued again.
                   if (e.step_index == r.current_step)
                     r.awaiting_delivery = false;
                   if (e.requeued) {
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
                 },
                 [&](const ManualStepCompleted& e) {
                   if (RecipientStep* step = StepAt(r, e.step_index)) {
                     step->state = StepState::kCompleted;
                     step->completed_at = at;
                   }
                   ApplyAdvance(r, e.advance);
                 },
                 [&](const ReplyReceived& e) {
                   ApplyResponse(r, /*meeting=*/false, e.stops_sequence,
                                 e.recorded_only);
                 },
                 [&](const MeetingBooked& e) {
                   ApplyResponse(r, /*meeting=*/true, e.stops_sequence,
                                 e.recorded_only);
                 },
                 [&](const Bounced& e) {
                   RecordDeliveryResult(r, InFlightStep(r), e.lease_token);
                   if (!e.recorded_only) EndWith(r, RecipientStatus::kBounced);
                 },
                 [&](const Unsubscribed& e) {
                   if (!e.recorded_only)
                     EndWith(r, RecipientStatus::kUnsubscribed);
                 },
                 [&](const Finished&) {
                   r.status = RecipientStatus::kFinished;
                   r.current_step = static_cast<int>(r.steps.size());
                   r.due_at.reset();
                   r.remaining_delay = absl::ZeroDuration();
                   r.awaiting_manual_action = false;
                   r.awaiting_delivery = false;
                   r.paused_by_sequence = false;
                   r.error_message.clear();
                 },
                 [&](const Stopped&) { EndWith(r, RecipientStatus::kStopped); },
                 [&](const Deleted&) {
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
                 },
             },
             event.payload);
  ++r.version;
  r.updated_at = at;
  return state;
}

// ---- Read models.

std::vector<StepView> DescribeSteps(const Recipient& recipient,
                                    const Sequence& sequence, absl::Time now) {
  const Recipient& r = recipient;
  const std::map<std::string, std::string> variables = TemplateVariables(r);
  const bool active = r.IsRunning() || r.status == RecipientStatus::kPaused;
  std::vector<StepView> views;
  std::optional<absl::Time> previous_due;
  for (int i = 0; i < StepCount(sequence); ++i) {
    const StepDefinition& definition = sequence.steps[i];
    const RecipientStep step =
        i < static_cast<int>(r.steps.size()) ? r.steps[i] : RecipientStep{};
    StepView view;
    view.step_index = i;
    view.type = definition.type;
    view.mode = definition.mode;
    view.overridden = !IsEmptyEdit(step.override_content);
    if (IsDone(step.state)) {
      view.state = step.state;
    } else if (i == r.current_step && active) {
      view.state = StepState::kCurrent;
    } else if (i > r.current_step) {
      view.state = StepState::kUpcoming;
    } else {
      view.state =
          step.state == StepState::kCurrent ? StepState::kUpcoming : step.state;
    }
    if (step.sent_content.has_value()) {
      view.content = *step.sent_content;
    } else if (step.dispatched_content.has_value()) {
      view.content = *step.dispatched_content;  // Its send is in flight.
    } else {
      view.content =
          ResolveContent(EffectiveContent(definition, step.override_content),
                         variables, view.missing_variables);
    }
    view.completed_at = step.completed_at;
    if (view.state == StepState::kCurrent) {
      if (r.status == RecipientStatus::kPaused) {
        view.due_at = now + std::max(absl::ZeroDuration(), r.remaining_delay);
      } else if (r.due_at.has_value() && !r.awaiting_manual_action &&
                 r.status != RecipientStatus::kError) {
        view.due_at = r.due_at;
      } else {
        view.due_at = now;
      }
      previous_due = view.due_at;
    } else if (view.state == StepState::kUpcoming && active &&
               previous_due.has_value()) {
      view.due_at = *previous_due + definition.delay;
      previous_due = view.due_at;
    }
    views.push_back(std::move(view));
  }
  return views;
}

absl::StatusOr<std::vector<StepView>> ViewContent(const Recipient& recipient,
                                                  const Sequence& sequence,
                                                  absl::Time now) {
  if (absl::Status status = Check(Action::kViewContent, recipient, sequence);
      !status.ok()) {
    return status;
  }
  return DescribeSteps(recipient, sequence, now);
}

absl::StatusOr<SkipPreview> PreviewSkip(const Recipient& recipient,
                                        const Sequence& sequence,
                                        absl::Time now) {
  if (absl::Status status = Check(Action::kSkipStep, recipient, sequence);
      !status.ok()) {
    return status;
  }
  if (absl::Status status =
          CheckCurrentStep(Action::kSkipStep, recipient, sequence);
      !status.ok()) {
    return status;
  }
  SkipPreview preview;
  preview.skipped_step_index = recipient.current_step;
  const Advance advance =
      MakeAdvance(recipient, sequence, recipient.current_step + 1, now);
  if (advance.next_status == RecipientStatus::kFinished) {
    preview.finishes = true;
    return preview;
  }
  // Describe the recipient as it would be after the skip, then take its new
  // current step.
  Recipient after = recipient;
  if (after.current_step < static_cast<int>(after.steps.size())) {
    after.steps[after.current_step].state = StepState::kSkipped;
  }
  ApplyAdvance(after, advance);
  std::vector<StepView> views = DescribeSteps(after, sequence, now);
  preview.next_step = views[advance.next_step];
  return preview;
}

}  // namespace sequencer::domain
