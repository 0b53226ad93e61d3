#include "domain/recipient_actions.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "domain/recipient_internal.h"
#include "domain/refusal.h"

namespace sequencer::domain {
namespace {

using internal::Gone;
using internal::IsRespondedOrMeeting;
using internal::NotFound;
using internal::StatusDescription;
using internal::StepCount;

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

// Skip step while the current step's send has begun: refused until its result
// (or its deadline) is recorded.
Rule SkipWhileSending(const Recipient& r) {
  Rule rule = Refused(
      Action::kSkipStep, r, RefusalReason::kSendInProgress,
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
    return SkipWhileSending(r);
  }
  return Rule{};
}

absl::Status ToStatus(const Rule& rule) {
  if (rule.available) return absl::OkStatus();
  return RefuseAction(rule.message, Refusal{*rule.reason, rule.metadata});
}

}  // namespace

namespace internal {

absl::Status Check(Action action, const Recipient& r,
                   const Sequence& sequence) {
  if (Gone(r)) return NotFound(r);
  return ToStatus(Evaluate(action, r, sequence));
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

}  // namespace internal

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
  return internal::Check(action, recipient, sequence);
}

}  // namespace sequencer::domain
