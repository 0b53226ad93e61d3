#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "domain/recipient.h"
#include "domain/recipient_internal.h"
#include "domain/refusal.h"
#include "domain/schedule.h"

namespace sequencer::domain {
namespace {

using internal::AdvanceEvents;
using internal::Events;
using internal::HoldIfSequencePaused;
using internal::MakeAdvance;
using internal::One;

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

constexpr char kBeginSendAction[] = "BEGIN_SEND";
constexpr char kReportDeliveryAction[] = "REPORT_DELIVERY";

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

}  // namespace

namespace internal {

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

}  // namespace internal

absl::Status ValidateReportDelivery(const ReportDelivery& report) {
  if (report.outcome == DeliveryOutcome::kFailed &&
      report.error_message.empty()) {
    return absl::InvalidArgumentError(
        "error_message: required when the outcome is FAILED");
  }
  return absl::OkStatus();
}

}  // namespace sequencer::domain
