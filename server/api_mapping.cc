#include "server/api_mapping.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "app/status_macros.h"
#include "app/storage/event_codec.h"
#include "domain/recipient.h"
#include "domain/refusal.h"

namespace sequencer::server {
namespace {

template <typename Mutable>
void SetOptionalTime(const std::optional<absl::Time>& time, Mutable field) {
  if (time.has_value()) *field() = app::ToProtoTime(*time);
}

using app::ToProto;
using app::ToProtoDuration;
using app::ToProtoTime;

}  // namespace

v1::Sequence ToApi(const domain::Sequence& sequence) {
  v1::Sequence out;
  out.set_sequence_id(sequence.sequence_id);
  out.set_name(sequence.name);
  for (const auto& step : sequence.steps) *out.add_steps() = ToProto(step);
  out.set_stop_on_response(sequence.stop_on_response);
  out.set_status(sequence.paused ? v1::SEQUENCE_STATUS_PAUSED
                                 : v1::SEQUENCE_STATUS_ACTIVE);
  *out.mutable_created_at() = ToProtoTime(sequence.created_at);
  out.set_created_by(sequence.created_by);
  out.set_version(sequence.version);
  return out;
}

v1::Recipient ToApi(const domain::Recipient& recipient,
                    const domain::Sequence& sequence) {
  v1::Recipient out;
  out.set_sequence_id(recipient.sequence_id);
  out.set_recipient_id(recipient.recipient_id);
  out.set_status(ToProto(recipient.status));
  out.set_current_step(recipient.current_step);
  out.set_step_count(static_cast<int>(recipient.steps.size()));
  SetOptionalTime(recipient.due_at, [&] { return out.mutable_next_due_at(); });
  if (recipient.status == domain::RecipientStatus::kPaused) {
    *out.mutable_remaining_delay() = ToProtoDuration(recipient.remaining_delay);
    out.set_paused_from(ToProto(recipient.paused_from));
  }
  out.set_paused_by_sequence(recipient.paused_by_sequence);
  SetOptionalTime(recipient.send_deadline,
                  [&] { return out.mutable_send_deadline(); });
  out.set_stopped_by_rule(recipient.stopped_by_rule);
  out.set_responded(recipient.responded);
  out.set_meeting_booked(recipient.meeting_booked);
  out.set_error_message(recipient.error_message);
  out.set_version(recipient.version);
  *out.mutable_enrolled_at() = ToProtoTime(recipient.enrolled_at);
  *out.mutable_updated_at() = ToProtoTime(recipient.updated_at);
  out.mutable_contact()->set_email(recipient.contact.email);
  out.mutable_contact()->set_phone(recipient.contact.phone);
  out.mutable_contact()->set_social_profile(recipient.contact.social_profile);
  for (const auto& [k, v] : recipient.variables)
    (*out.mutable_variables())[k] = v;
  for (const auto& availability :
       domain::AvailableActions(recipient, sequence)) {
    auto* a = out.add_actions();
    a->set_action(ToProto(availability.action));
    a->set_available(availability.available);
    if (availability.reason.has_value()) {
      a->set_reason(
          std::string(domain::RefusalReasonName(*availability.reason)));
    }
    a->set_message(availability.message);
  }
  return out;
}

v1::StepView ToApi(const domain::StepView& view) {
  v1::StepView out;
  out.set_step_index(view.step_index);
  out.set_type(ToProto(view.type));
  out.set_mode(ToProto(view.mode));
  out.set_state(ToProto(view.state));
  *out.mutable_content() = ToProto(view.content);
  out.set_overridden(view.overridden);
  for (const auto& name : view.missing_variables)
    out.add_missing_variables(name);
  SetOptionalTime(view.due_at, [&] { return out.mutable_due_at(); });
  SetOptionalTime(view.completed_at,
                  [&] { return out.mutable_completed_at(); });
  return out;
}

namespace {

void ToApi(const domain::StepTally& tally, v1::StepCounters* out) {
  out->set_waiting(tally.waiting);
  out->set_due(tally.due);
  out->set_sent(tally.sent);
  out->set_skipped(tally.skipped);
  out->set_failed(tally.failed);
  out->set_bounced(tally.bounced);
  out->set_replies(tally.replies);
  out->set_meetings(tally.meetings);
}

}  // namespace

v1::SequenceReport ToApi(const domain::Sequence& sequence,
                         const domain::SequenceReport& report) {
  v1::SequenceReport out;
  out.set_sequence_id(sequence.sequence_id);
  out.set_recipients(report.recipients);
  // by_status holds every status (domain::EmptyReport), in enum order.
  for (const auto& [status, count] : report.by_status) {
    v1::StatusCount* entry = out.add_by_status();
    entry->set_status(ToProto(status));
    entry->set_count(count);
  }
  for (size_t i = 0; i < report.steps.size(); ++i) {
    v1::StepReport* step = out.add_steps();
    step->set_index(static_cast<int32_t>(i));
    if (i < sequence.steps.size()) {
      step->set_channel(ToProto(sequence.steps[i].type));
    }
    ToApi(report.steps[i], step->mutable_counters());
  }
  ToApi(report.before_first_send, out.mutable_before_first_send());
  ToApi(report.totals, out.mutable_totals());
  return out;
}

absl::StatusOr<domain::BulkAction> BulkActionFromProto(
    v1::BulkActionType type) {
  switch (type) {
    case v1::BULK_ACTION_TYPE_PAUSE:
      return domain::BulkAction::kPause;
    case v1::BULK_ACTION_TYPE_RESUME:
      return domain::BulkAction::kResume;
    case v1::BULK_ACTION_TYPE_SKIP_STEP:
      return domain::BulkAction::kSkipStep;
    case v1::BULK_ACTION_TYPE_STOP:
      return domain::BulkAction::kStop;
    case v1::BULK_ACTION_TYPE_DELETE:
      return domain::BulkAction::kDelete;
    case v1::BULK_ACTION_TYPE_EDIT_CONTENT:
      return domain::BulkAction::kEditContent;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("action: unknown or unspecified value ", type));
  }
}

absl::StatusOr<app::ReportDeliveryRequest> ReportFromProto(
    const v1::ReportDeliveryRequest& request) {
  SEQ_RETURN_IF_ERROR(app::ValidateLeaseToken(request.lease_token()));
  app::ReportDeliveryRequest report;
  report.sequence_id = request.sequence_id();
  report.recipient_id = request.recipient_id();
  report.report.lease_token = request.lease_token();
  report.report.provider_message_id = request.provider_message_id();
  report.report.error_message = request.error_message();
  switch (request.outcome()) {
    case v1::DELIVERY_OUTCOME_SENT:
      report.report.outcome = domain::DeliveryOutcome::kSent;
      break;
    case v1::DELIVERY_OUTCOME_FAILED:
      report.report.outcome = domain::DeliveryOutcome::kFailed;
      break;
    case v1::DELIVERY_OUTCOME_BOUNCED:
      report.report.outcome = domain::DeliveryOutcome::kBounced;
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "outcome: unknown or unspecified value ", request.outcome()));
  }
  SEQ_RETURN_IF_ERROR(domain::ValidateReportDelivery(report.report));
  return report;
}

}  // namespace sequencer::server
