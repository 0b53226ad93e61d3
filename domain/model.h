// The domain model of sequencer: sequences, recipients and their statuses.
//
// Plain value types with no behaviour beyond small queries. They are the states
// that domain/recipient.h and domain/sequence.h fold events into. This folder
// includes nothing from gRPC, RocksDB or generated protobuf code; time is
// absl::Time, injected by callers.

#ifndef SEQUENCER_DOMAIN_MODEL_H_
#define SEQUENCER_DOMAIN_MODEL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"

namespace sequencer::domain {

enum class StepType { kEmail, kSocialMessage, kSms, kTask };
enum class StepMode { kAutomatic, kManual };

enum class RecipientStatus {
  kInProgress,
  kPendingAction,
  kPaused,
  kError,
  kFinished,
  kResponded,
  kMeetingBooked,
  kBounced,
  kStopped,
  kUnsubscribed,
};

enum class Action {
  kPause,
  kResume,
  kSkipStep,
  kEditContent,
  kViewContent,
  kStop,
  kDelete,
  kCompleteManualStep,
};

inline constexpr Action kAllActions[] = {
    Action::kPause,       Action::kResume,
    Action::kSkipStep,    Action::kEditContent,
    Action::kViewContent, Action::kStop,
    Action::kDelete,      Action::kCompleteManualStep,
};

enum class StepState { kUpcoming, kCurrent, kCompleted, kSkipped, kCancelled };

enum class SignalType { kReply, kMeetingBooked, kBounce, kUnsubscribe };

// "RECIPIENT_STATUS_IN_PROGRESS", ...: the API's enum value names, the one
// spelling of statuses in every string the API returns (ErrorInfo metadata,
// count_by_status keys, messages).
std::string_view StatusName(RecipientStatus status);
// "ACTION_PAUSE", "ACTION_SKIP_STEP", ...: the API's enum value names.
std::string_view ActionName(Action action);
std::string_view StepTypeName(StepType type);

// Content of one step. Which fields a type uses: EMAIL subject+body,
// SOCIAL_MESSAGE message, SMS body, TASK details.
struct StepContent {
  std::string subject;
  std::string body;
  std::string message;
  std::string details;

  friend bool operator==(const StepContent& a, const StepContent& b) {
    return a.subject == b.subject && a.body == b.body &&
           a.message == b.message && a.details == b.details;
  }
};

// A per-recipient override: fields that are set replace the definition's.
struct ContentEdit {
  std::optional<std::string> subject;
  std::optional<std::string> body;
  std::optional<std::string> message;
  std::optional<std::string> details;

  friend bool operator==(const ContentEdit& a, const ContentEdit& b) {
    return a.subject == b.subject && a.body == b.body &&
           a.message == b.message && a.details == b.details;
  }
};

enum class DeliveryOutcome { kSent, kFailed, kBounced };

struct StepDefinition {
  StepType type = StepType::kEmail;
  // TASK is always manual.
  StepMode mode = StepMode::kAutomatic;
  absl::Duration delay = absl::ZeroDuration();
  StepContent content;

  bool IsManual() const {
    return type == StepType::kTask || mode == StepMode::kManual;
  }
};

struct Sequence {
  bool exists = false;
  std::string tenant_id;
  std::string sequence_id;
  std::string name;
  std::vector<StepDefinition> steps;
  bool stop_on_response = true;
  bool paused = false;
  absl::Time created_at = absl::InfinitePast();
  std::string created_by;
  // Number of events in the sequence's stream.
  uint64_t version = 0;
};

struct Contact {
  std::string email;
  std::string phone;
  std::string social_profile;

  friend bool operator==(const Contact& a, const Contact& b) {
    return a.email == b.email && a.phone == b.phone &&
           a.social_profile == b.social_profile;
  }
};

// Per-step progress of one recipient.
struct RecipientStep {
  StepState state = StepState::kUpcoming;
  // The recipient's own edits of this step, merged over time.
  ContentEdit override_content;
  // Set once the step was executed: the resolved content actually sent (or
  // done, for manual steps) and when.
  std::optional<StepContent> sent_content;
  std::optional<absl::Time> completed_at;
  // While a send of this step is in flight (StepDispatched, result not yet
  // recorded): the resolved content that went out.
  std::optional<StepContent> dispatched_content;
};

// The counters of one step in the sequence report: the rules are in
// domain/report.h.
struct StepTally {
  int64_t waiting = 0;
  int64_t due = 0;
  int64_t sent = 0;
  int64_t skipped = 0;
  int64_t failed = 0;
  int64_t bounced = 0;
  int64_t replies = 0;
  int64_t meetings = 0;

  bool empty() const { return *this == StepTally{}; }
  StepTally& operator+=(const StepTally& other);
  friend bool operator==(const StepTally& a, const StepTally& b) {
    return a.waiting == b.waiting && a.due == b.due && a.sent == b.sent &&
           a.skipped == b.skipped && a.failed == b.failed &&
           a.bounced == b.bounced && a.replies == b.replies &&
           a.meetings == b.meetings;
  }
  friend bool operator!=(const StepTally& a, const StepTally& b) {
    return !(a == b);
  }
};

// A recipient's reporting history as the sequence report counts it
// (domain/report.h: CountEvent folds it; waiting and due stay 0 here).
struct ReportHistory {
  std::vector<StepTally> steps;
  StepTally before_first_send;
  // The step last sent (see domain/report.h); -1 before the first.
  int last_sent_step = -1;
};

struct Recipient {
  bool exists = false;
  // Deleted recipients keep only this tombstone (exists stays true, deleted is
  // set).
  bool deleted = false;
  std::string tenant_id;
  std::string sequence_id;
  std::string recipient_id;
  Contact contact;
  std::map<std::string, std::string> variables;

  RecipientStatus status = RecipientStatus::kInProgress;
  // Index of the current step; equals steps.size() once no step is left.
  int current_step = 0;
  // When the current step becomes due; set while waiting for a delay
  // (IN_PROGRESS, running RESPONDED/MEETING_BOOKED). Unset while PAUSED,
  // PENDING_ACTION, ERROR or final.
  std::optional<absl::Time> due_at;
  // While PAUSED: the frozen delay left until the current step is due.
  absl::Duration remaining_delay = absl::ZeroDuration();
  // While PAUSED: the status Resume returns to (IN_PROGRESS, PENDING_ACTION,
  // RESPONDED, MEETING_BOOKED; ERROR resumes as IN_PROGRESS to retry the
  // errored step).
  RecipientStatus paused_from = RecipientStatus::kInProgress;
  bool paused_by_sequence = false;
  // A manual step is due and waits for a person. True in PENDING_ACTION, and in
  // running RESPONDED/MEETING_BOOKED when their current manual step is due.
  bool awaiting_manual_action = false;
  // The current automatic step is due and queued for a delivery worker; no
  // send has begun. Cleared when a send begins, when the step is skipped,
  // edited or fails, and when the recipient pauses or stops running.
  bool awaiting_delivery = false;
  // The lease token of a send that has begun (StepDispatched) and whose
  // result has not been recorded; empty when none is in flight. A send in
  // flight is not recalled by pause, stop or a sequence pause.
  std::string in_flight_token;
  // While a send is in flight: when its outcome becomes unknown (the
  // scheduler then records SendTimedOut). Unset for sends begun before sends
  // had deadlines.
  std::optional<absl::Time> send_deadline;
  // The lease token of the last delivery whose result was recorded, so that
  // a worker reporting twice changes nothing the second time.
  std::string last_reported_token;
  // The last send that timed out without a result (SendTimedOut): a result
  // reported later under its token is still recorded. Empty token when none.
  struct UnreportedSend {
    std::string lease_token;
    int step_index = 0;
    StepContent content;
  };
  UnreportedSend unreported_send;
  bool responded = false;
  bool meeting_booked = false;
  // RESPONDED/MEETING_BOOKED that ended the sequence (stop_on_response on):
  // final.
  bool stopped_by_rule = false;
  std::string error_message;
  std::vector<RecipientStep> steps;
  // What the sequence report counts (domain/report.h); erased by Deleted.
  ReportHistory report;
  absl::Time enrolled_at = absl::InfinitePast();
  absl::Time updated_at = absl::InfinitePast();
  // Number of events in the recipient's stream.
  uint64_t version = 0;

  // FINISHED, STOPPED, BOUNCED, UNSUBSCRIBED, stopped-by-rule
  // RESPONDED/MEETING_BOOKED.
  bool IsFinal() const;
  // Steps may still progress: IN_PROGRESS, PENDING_ACTION, ERROR, running
  // RESPONDED/MEETING_BOOKED. (PAUSED and final statuses are not running.)
  bool IsRunning() const;
};

}  // namespace sequencer::domain

#endif  // SEQUENCER_DOMAIN_MODEL_H_
