#include "domain/model.h"

namespace sequencer::domain {

std::string_view StatusName(RecipientStatus status) {
  switch (status) {
    case RecipientStatus::kInProgress:
      return "RECIPIENT_STATUS_IN_PROGRESS";
    case RecipientStatus::kPendingAction:
      return "RECIPIENT_STATUS_PENDING_ACTION";
    case RecipientStatus::kPaused:
      return "RECIPIENT_STATUS_PAUSED";
    case RecipientStatus::kError:
      return "RECIPIENT_STATUS_ERROR";
    case RecipientStatus::kFinished:
      return "RECIPIENT_STATUS_FINISHED";
    case RecipientStatus::kResponded:
      return "RECIPIENT_STATUS_RESPONDED";
    case RecipientStatus::kMeetingBooked:
      return "RECIPIENT_STATUS_MEETING_BOOKED";
    case RecipientStatus::kBounced:
      return "RECIPIENT_STATUS_BOUNCED";
    case RecipientStatus::kStopped:
      return "RECIPIENT_STATUS_STOPPED";
    case RecipientStatus::kUnsubscribed:
      return "RECIPIENT_STATUS_UNSUBSCRIBED";
  }
  return "UNKNOWN";
}

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kPause:
      return "ACTION_PAUSE";
    case Action::kResume:
      return "ACTION_RESUME";
    case Action::kSkipStep:
      return "ACTION_SKIP_STEP";
    case Action::kEditContent:
      return "ACTION_EDIT_CONTENT";
    case Action::kViewContent:
      return "ACTION_VIEW_CONTENT";
    case Action::kStop:
      return "ACTION_STOP";
    case Action::kDelete:
      return "ACTION_DELETE";
    case Action::kCompleteManualStep:
      return "ACTION_COMPLETE_MANUAL_STEP";
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
