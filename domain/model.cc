#include "domain/model.h"

namespace sequencer::domain {

std::string_view StatusName(RecipientStatus status) {
  switch (status) {
    case RecipientStatus::kInProgress:
      return "IN_PROGRESS";
    case RecipientStatus::kPendingAction:
      return "PENDING_ACTION";
    case RecipientStatus::kPaused:
      return "PAUSED";
    case RecipientStatus::kError:
      return "ERROR";
    case RecipientStatus::kFinished:
      return "FINISHED";
    case RecipientStatus::kResponded:
      return "RESPONDED";
    case RecipientStatus::kMeetingBooked:
      return "MEETING_BOOKED";
    case RecipientStatus::kBounced:
      return "BOUNCED";
    case RecipientStatus::kStopped:
      return "STOPPED";
    case RecipientStatus::kUnsubscribed:
      return "UNSUBSCRIBED";
  }
  return "UNKNOWN";
}

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kPause:
      return "PAUSE";
    case Action::kResume:
      return "RESUME";
    case Action::kSkipStep:
      return "SKIP_STEP";
    case Action::kEditContent:
      return "EDIT_CONTENT";
    case Action::kViewContent:
      return "VIEW_CONTENT";
    case Action::kStop:
      return "STOP";
    case Action::kDelete:
      return "DELETE";
    case Action::kCompleteManualStep:
      return "COMPLETE_MANUAL_STEP";
  }
  return "UNKNOWN";
}

std::string_view StepTypeName(StepType type) {
  switch (type) {
    case StepType::kEmail:
      return "EMAIL";
    case StepType::kSocialMessage:
      return "SOCIAL_MESSAGE";
    case StepType::kSms:
      return "SMS";
    case StepType::kTask:
      return "TASK";
  }
  return "UNKNOWN";
}

bool Recipient::IsFinal() const {
  switch (status) {
    case RecipientStatus::kFinished:
    case RecipientStatus::kStopped:
    case RecipientStatus::kBounced:
    case RecipientStatus::kUnsubscribed:
      return true;
    case RecipientStatus::kResponded:
    case RecipientStatus::kMeetingBooked:
      return stopped_by_rule;
    default:
      return false;
  }
}

bool Recipient::IsRunning() const {
  switch (status) {
    case RecipientStatus::kInProgress:
    case RecipientStatus::kPendingAction:
    case RecipientStatus::kError:
      return true;
    case RecipientStatus::kResponded:
    case RecipientStatus::kMeetingBooked:
      return !stopped_by_rule;
    default:
      return false;
  }
}

}  // namespace sequencer::domain
