#include "app/storage/event_codec.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "app/storage/proto_enums.h"
#include "domain/limits.h"

namespace sequencer::app {
namespace {

absl::Status BadEnum(absl::string_view field, int value) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": unknown or unspecified value ", value));
}

// `value` through `table`; INVALID_ARGUMENT naming `field` when absent.
template <typename Domain, typename Proto, size_t N>
absl::StatusOr<Domain> FromTable(const enums::Table<Domain, Proto> (&table)[N],
                                 absl::string_view field, Proto value) {
  std::optional<Domain> found = enums::FromProtoEnum(table, value);
  if (!found.has_value()) return BadEnum(field, value);
  return *found;
}

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

// Sets a Timestamp field only when `time` has a value: calling the field's
// mutable_*() alone would already mark it present.
template <typename MutableField>
void SetOptionalTime(const std::optional<absl::Time>& time,
                     MutableField mutable_field) {
  if (time.has_value()) *mutable_field() = ToProtoTime(*time);
}

std::optional<absl::Time> OptionalTime(
    bool present, const google::protobuf::Timestamp& time) {
  if (!present) return std::nullopt;
  return FromProtoTime(time);
}

v1::Advance AdvanceToProto(const domain::Advance& advance) {
  v1::Advance out;
  out.set_next_step(advance.next_step);
  out.set_next_status(ToProto(advance.next_status));
  SetOptionalTime(advance.next_due_at,
                  [&] { return out.mutable_next_due_at(); });
  out.set_awaiting_manual_action(advance.awaiting_manual_action);
  if (advance.held_by_sequence) {
    out.set_held_by_sequence(true);
    *out.mutable_held_delay() = ToProtoDuration(advance.held_delay);
  }
  return out;
}

absl::StatusOr<domain::Advance> AdvanceFromProto(const v1::Advance& advance) {
  domain::Advance out;
  out.next_step = advance.next_step();
  auto status = FromProto("advance.next_status", advance.next_status());
  if (!status.ok()) return status.status();
  out.next_status = *status;
  out.next_due_at =
      OptionalTime(advance.has_next_due_at(), advance.next_due_at());
  out.awaiting_manual_action = advance.awaiting_manual_action();
  out.held_by_sequence = advance.held_by_sequence();
  auto held = FromProtoDuration("advance.held_delay", advance.held_delay());
  if (!held.ok()) return held.status();
  out.held_delay = *held;
  return out;
}

v1::DeliveryOutcome OutcomeToProto(domain::DeliveryOutcome outcome) {
  return enums::ToProtoEnum(enums::kDeliveryOutcomes, outcome,
                            v1::DELIVERY_OUTCOME_UNSPECIFIED);
}

v1::EventMetadata MetadataToProto(const domain::EventMetadata& metadata) {
  v1::EventMetadata out;
  out.set_tenant_id(metadata.tenant_id);
  out.set_actor(metadata.actor);
  out.set_request_id(metadata.request_id);
  *out.mutable_occurred_at() = ToProtoTime(metadata.occurred_at);
  return out;
}

domain::EventMetadata MetadataFromProto(const v1::EventMetadata& metadata) {
  domain::EventMetadata out;
  out.tenant_id = metadata.tenant_id();
  out.actor = metadata.actor();
  out.request_id = metadata.request_id();
  out.occurred_at = FromProtoTime(metadata.occurred_at());
  return out;
}

absl::Status DataLoss(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("stored event: ", what));
}

}  // namespace

google::protobuf::Timestamp ToProtoTime(absl::Time time) {
  google::protobuf::Timestamp out;
  if (time == absl::InfinitePast() || time == absl::InfiniteFuture()) {
    const int64_t nanos = absl::ToUnixNanos(time);  // Saturates.
    out.set_seconds(nanos / 1000000000);
    return out;
  }
  const int64_t seconds = absl::ToUnixSeconds(time);  // Rounds down.
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds))));
  return out;
}

absl::Time FromProtoTime(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) +
         absl::Nanoseconds(timestamp.nanos());
}

google::protobuf::Duration ToProtoDuration(absl::Duration duration) {
  google::protobuf::Duration out;
  if (duration == absl::InfiniteDuration() ||
      duration == -absl::InfiniteDuration()) {
    out.set_seconds(absl::ToInt64Nanoseconds(duration) / 1000000000);
    return out;
  }
  absl::Duration rest;
  // Truncates towards zero, so seconds and nanos share a sign.
  out.set_seconds(absl::IDivDuration(duration, absl::Seconds(1), &rest));
  out.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(rest)));
  return out;
}

absl::StatusOr<absl::Duration> FromProtoDuration(
    absl::string_view field, const google::protobuf::Duration& duration) {
  const int64_t seconds = duration.seconds();
  const int32_t nanos = duration.nanos();
  if (nanos <= -1000000000 || nanos >= 1000000000 ||
      (seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0) ||
      seconds < -domain::kMaxDurationSeconds ||
      seconds > domain::kMaxDurationSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": malformed duration (seconds ", seconds,
                     ", nanos ", nanos, ")"));
  }
  return absl::Seconds(seconds) + absl::Nanoseconds(nanos);
}

v1::StepType ToProto(domain::StepType type) {
  return enums::ToProtoEnum(enums::kStepTypes, type, v1::STEP_TYPE_UNSPECIFIED);
}

v1::StepMode ToProto(domain::StepMode mode) {
  return enums::ToProtoEnum(enums::kStepModes, mode, v1::STEP_MODE_AUTOMATIC);
}

v1::RecipientStatus ToProto(domain::RecipientStatus status) {
  return enums::ToProtoEnum(enums::kRecipientStatuses, status,
                            v1::RECIPIENT_STATUS_UNSPECIFIED);
}

v1::Action ToProto(domain::Action action) {
  return enums::ToProtoEnum(enums::kActions, action, v1::ACTION_UNSPECIFIED);
}

v1::StepState ToProto(domain::StepState state) {
  return enums::ToProtoEnum(enums::kStepStates, state,
                            v1::STEP_STATE_UNSPECIFIED);
}

v1::SignalType ToProto(domain::SignalType signal) {
  return enums::ToProtoEnum(enums::kSignalTypes, signal,
                            v1::SIGNAL_TYPE_UNSPECIFIED);
}

absl::StatusOr<domain::StepType> FromProto(absl::string_view field,
                                           v1::StepType type) {
  return FromTable(enums::kStepTypes, field, type);
}

absl::StatusOr<domain::StepMode> FromProto(absl::string_view field,
                                           v1::StepMode mode) {
  if (mode == v1::STEP_MODE_UNSPECIFIED) return domain::StepMode::kAutomatic;
  return FromTable(enums::kStepModes, field, mode);
}

absl::StatusOr<domain::RecipientStatus> FromProto(absl::string_view field,
                                                  v1::RecipientStatus status) {
  return FromTable(enums::kRecipientStatuses, field, status);
}

absl::StatusOr<domain::SignalType> FromProto(absl::string_view field,
                                             v1::SignalType signal) {
  return FromTable(enums::kSignalTypes, field, signal);
}

v1::StepContent ToProto(const domain::StepContent& content) {
  v1::StepContent out;
  out.set_subject(content.subject);
  out.set_body(content.body);
  out.set_message(content.message);
  out.set_details(content.details);
  return out;
}

domain::StepContent FromProto(const v1::StepContent& content) {
  domain::StepContent out;
  out.subject = content.subject();
  out.body = content.body();
  out.message = content.message();
  out.details = content.details();
  return out;
}

v1::ContentEdit ToProto(const domain::ContentEdit& edit) {
  v1::ContentEdit out;
  if (edit.subject) out.set_subject(*edit.subject);
  if (edit.body) out.set_body(*edit.body);
  if (edit.message) out.set_message(*edit.message);
  if (edit.details) out.set_details(*edit.details);
  return out;
}

domain::ContentEdit FromProto(const v1::ContentEdit& edit) {
  domain::ContentEdit out;
  if (edit.has_subject()) out.subject = edit.subject();
  if (edit.has_body()) out.body = edit.body();
  if (edit.has_message()) out.message = edit.message();
  if (edit.has_details()) out.details = edit.details();
  return out;
}

v1::StepDefinition ToProto(const domain::StepDefinition& step) {
  v1::StepDefinition out;
  out.set_type(ToProto(step.type));
  out.set_mode(ToProto(step.mode));
  *out.mutable_delay() = ToProtoDuration(step.delay);
  *out.mutable_content() = ToProto(step.content);
  return out;
}

absl::StatusOr<domain::StepDefinition> FromProto(
    absl::string_view field, const v1::StepDefinition& step) {
  domain::StepDefinition out;
  auto type = FromProto(absl::StrCat(field, ".type"), step.type());
  if (!type.ok()) return type.status();
  auto mode = FromProto(absl::StrCat(field, ".mode"), step.mode());
  if (!mode.ok()) return mode.status();
  auto delay = FromProtoDuration(absl::StrCat(field, ".delay"), step.delay());
  if (!delay.ok()) return delay.status();
  out.type = *type;
  out.mode = *mode;
  out.delay = *delay;
  out.content = FromProto(step.content());
  return out;
}

v1::Event ToProto(const domain::SequenceEvent& event) {
  v1::Event out;
  *out.mutable_metadata() = MetadataToProto(event.metadata);
  std::visit(
      Overloaded{
          [&](const domain::SequenceCreated& e) {
            auto* p = out.mutable_sequence_created();
            p->set_sequence_id(e.sequence_id);
            p->set_name(e.name);
            for (const auto& step : e.steps) *p->add_steps() = ToProto(step);
            p->set_stop_on_response(e.stop_on_response);
          },
          [&](const domain::SequencePaused& e) {
            out.mutable_sequence_paused()->set_sequence_id(e.sequence_id);
          },
          [&](const domain::SequenceResumed& e) {
            out.mutable_sequence_resumed()->set_sequence_id(e.sequence_id);
          },
      },
      event.payload);
  return out;
}

v1::Event ToProto(const domain::RecipientEvent& event) {
  v1::Event out;
  *out.mutable_metadata() = MetadataToProto(event.metadata);
  std::visit(
      Overloaded{
          [&](const domain::RecipientEnrolled& e) {
            auto* p = out.mutable_recipient_enrolled();
            p->set_sequence_id(e.sequence_id);
            p->set_recipient_id(e.recipient_id);
            p->set_email(e.contact.email);
            p->set_phone(e.contact.phone);
            p->set_social_profile(e.contact.social_profile);
            for (const auto& [k, v] : e.variables)
              (*p->mutable_variables())[k] = v;
            p->set_step_count(e.step_count);
            *p->mutable_start() = AdvanceToProto(e.start);
            p->set_paused_by_sequence(e.paused_by_sequence);
            *p->mutable_remaining_delay() = ToProtoDuration(e.remaining_delay);
          },
          [&](const domain::StepDispatched& e) {
            auto* p = out.mutable_step_dispatched();
            p->set_step_index(e.step_index);
            *p->mutable_content() = ToProto(e.content);
            p->set_lease_token(e.lease_token);
            SetOptionalTime(e.deadline, [&] { return p->mutable_deadline(); });
          },
          [&](const domain::SendTimedOut& e) {
            auto* p = out.mutable_send_timed_out();
            p->set_step_index(e.step_index);
            p->set_lease_token(e.lease_token);
            p->set_error_message(e.error_message);
          },
          [&](const domain::DeliveryReportedLate& e) {
            auto* p = out.mutable_delivery_reported_late();
            p->set_step_index(e.step_index);
            p->set_outcome(OutcomeToProto(e.outcome));
            p->set_provider_message_id(e.provider_message_id);
            p->set_error_message(e.error_message);
            p->set_lease_token(e.lease_token);
          },
          [&](const domain::StepDue& e) {
            auto* p = out.mutable_step_due();
            p->set_step_index(e.step_index);
            p->set_manual(e.manual);
          },
          [&](const domain::StepCompleted& e) {
            auto* p = out.mutable_step_completed();
            p->set_step_index(e.step_index);
            *p->mutable_content() = ToProto(e.content);
            p->set_provider_message_id(e.provider_message_id);
            *p->mutable_advance() = AdvanceToProto(e.advance);
            p->set_lease_token(e.lease_token);
          },
          [&](const domain::StepFailed& e) {
            auto* p = out.mutable_step_failed();
            p->set_step_index(e.step_index);
            p->set_error_message(e.error_message);
            p->set_lease_token(e.lease_token);
          },
          [&](const domain::Paused& e) {
            auto* p = out.mutable_paused();
            p->set_paused_from(ToProto(e.paused_from));
            *p->mutable_remaining_delay() = ToProtoDuration(e.remaining_delay);
            p->set_by_sequence(e.by_sequence);
          },
          [&](const domain::Resumed& e) {
            auto* p = out.mutable_resumed();
            p->set_status(ToProto(e.status));
            SetOptionalTime(e.next_due_at,
                            [&] { return p->mutable_next_due_at(); });
            p->set_awaiting_manual_action(e.awaiting_manual_action);
          },
          [&](const domain::StepSkipped& e) {
            auto* p = out.mutable_step_skipped();
            p->set_step_index(e.step_index);
            *p->mutable_advance() = AdvanceToProto(e.advance);
          },
          [&](const domain::ContentEdited& e) {
            auto* p = out.mutable_content_edited();
            p->set_step_index(e.step_index);
            *p->mutable_edit() = ToProto(e.edit);
            p->set_requeued(e.requeued);
            SetOptionalTime(e.next_due_at,
                            [&] { return p->mutable_next_due_at(); });
            p->set_held_by_sequence(e.held_by_sequence);
          },
          [&](const domain::ManualStepCompleted& e) {
            auto* p = out.mutable_manual_step_completed();
            p->set_step_index(e.step_index);
            *p->mutable_advance() = AdvanceToProto(e.advance);
          },
          [&](const domain::ReplyReceived& e) {
            auto* p = out.mutable_reply_received();
            p->set_detail(e.detail);
            p->set_stops_sequence(e.stops_sequence);
            p->set_recorded_only(e.recorded_only);
          },
          [&](const domain::MeetingBooked& e) {
            auto* p = out.mutable_meeting_booked();
            p->set_detail(e.detail);
            p->set_stops_sequence(e.stops_sequence);
            p->set_recorded_only(e.recorded_only);
          },
          [&](const domain::Bounced& e) {
            auto* p = out.mutable_bounced();
            p->set_detail(e.detail);
            p->set_recorded_only(e.recorded_only);
            p->set_lease_token(e.lease_token);
          },
          [&](const domain::Unsubscribed& e) {
            auto* p = out.mutable_unsubscribed();
            p->set_detail(e.detail);
            p->set_recorded_only(e.recorded_only);
          },
          [&](const domain::Finished&) { out.mutable_finished(); },
          [&](const domain::Stopped&) { out.mutable_stopped(); },
          [&](const domain::Deleted&) { out.mutable_deleted(); },
      },
      event.payload);
  return out;
}

absl::StatusOr<domain::SequenceEvent> SequenceEventFromProto(
    const v1::Event& event) {
  domain::SequenceEvent out;
  out.metadata = MetadataFromProto(event.metadata());
  switch (event.payload_case()) {
    case v1::Event::kSequenceCreated: {
      const auto& p = event.sequence_created();
      domain::SequenceCreated e;
      e.sequence_id = p.sequence_id();
      e.name = p.name();
      for (int i = 0; i < p.steps_size(); ++i) {
        auto step = FromProto(absl::StrCat("steps[", i, "]"), p.steps(i));
        if (!step.ok()) return DataLoss(step.status().message());
        e.steps.push_back(*std::move(step));
      }
      e.stop_on_response = p.stop_on_response();
      out.payload = std::move(e);
      return out;
    }
    case v1::Event::kSequencePaused:
      out.payload =
          domain::SequencePaused{event.sequence_paused().sequence_id()};
      return out;
    case v1::Event::kSequenceResumed:
      out.payload =
          domain::SequenceResumed{event.sequence_resumed().sequence_id()};
      return out;
    default:
      return DataLoss(
          absl::StrCat("not a sequence event: ", EventTypeName(event)));
  }
}

absl::StatusOr<domain::RecipientEvent> RecipientEventFromProto(
    const v1::Event& event) {
  domain::RecipientEvent out;
  out.metadata = MetadataFromProto(event.metadata());
  absl::StatusOr<domain::Advance> advance = domain::Advance{};
  auto status_of =
      [](v1::RecipientStatus s) -> absl::StatusOr<domain::RecipientStatus> {
    auto r = FromProto("status", s);
    if (!r.ok()) return DataLoss(r.status().message());
    return r;
  };
  switch (event.payload_case()) {
    case v1::Event::kRecipientEnrolled: {
      const auto& p = event.recipient_enrolled();
      domain::RecipientEnrolled e;
      e.sequence_id = p.sequence_id();
      e.recipient_id = p.recipient_id();
      e.contact.email = p.email();
      e.contact.phone = p.phone();
      e.contact.social_profile = p.social_profile();
      e.variables.insert(p.variables().begin(), p.variables().end());
      e.step_count = p.step_count();
      advance = AdvanceFromProto(p.start());
      if (!advance.ok()) return DataLoss(advance.status().message());
      e.start = *advance;
      e.paused_by_sequence = p.paused_by_sequence();
      auto remaining =
          FromProtoDuration("remaining_delay", p.remaining_delay());
      if (!remaining.ok()) return DataLoss(remaining.status().message());
      e.remaining_delay = *remaining;
      out.payload = std::move(e);
      return out;
    }
    case v1::Event::kStepDispatched: {
      const auto& p = event.step_dispatched();
      out.payload = domain::StepDispatched{
          p.step_index(), FromProto(p.content()), p.lease_token(),
          OptionalTime(p.has_deadline(), p.deadline())};
      return out;
    }
    case v1::Event::kSendTimedOut: {
      const auto& p = event.send_timed_out();
      out.payload = domain::SendTimedOut{p.step_index(), p.lease_token(),
                                         p.error_message()};
      return out;
    }
    case v1::Event::kDeliveryReportedLate: {
      const auto& p = event.delivery_reported_late();
      domain::DeliveryReportedLate e;
      e.step_index = p.step_index();
      std::optional<domain::DeliveryOutcome> outcome =
          enums::FromProtoEnum(enums::kDeliveryOutcomes, p.outcome());
      if (!outcome.has_value()) {
        return DataLoss("delivery_reported_late: unknown outcome");
      }
      e.outcome = *outcome;
      e.provider_message_id = p.provider_message_id();
      e.error_message = p.error_message();
      e.lease_token = p.lease_token();
      out.payload = std::move(e);
      return out;
    }
    case v1::Event::kStepDue:
      out.payload = domain::StepDue{event.step_due().step_index(),
                                    event.step_due().manual()};
      return out;
    case v1::Event::kStepCompleted: {
      const auto& p = event.step_completed();
      advance = AdvanceFromProto(p.advance());
      if (!advance.ok()) return DataLoss(advance.status().message());
      out.payload = domain::StepCompleted{
          p.step_index(), FromProto(p.content()), p.provider_message_id(),
          *advance, p.lease_token()};
      return out;
    }
    case v1::Event::kStepFailed:
      out.payload = domain::StepFailed{event.step_failed().step_index(),
                                       event.step_failed().error_message(),
                                       event.step_failed().lease_token()};
      return out;
    case v1::Event::kPaused: {
      const auto& p = event.paused();
      auto from = status_of(p.paused_from());
      if (!from.ok()) return from.status();
      auto remaining =
          FromProtoDuration("remaining_delay", p.remaining_delay());
      if (!remaining.ok()) return DataLoss(remaining.status().message());
      out.payload = domain::Paused{*from, *remaining, p.by_sequence()};
      return out;
    }
    case v1::Event::kResumed: {
      const auto& p = event.resumed();
      auto status = status_of(p.status());
      if (!status.ok()) return status.status();
      out.payload = domain::Resumed{
          *status, OptionalTime(p.has_next_due_at(), p.next_due_at()),
          p.awaiting_manual_action()};
      return out;
    }
    case v1::Event::kStepSkipped: {
      const auto& p = event.step_skipped();
      advance = AdvanceFromProto(p.advance());
      if (!advance.ok()) return DataLoss(advance.status().message());
      out.payload = domain::StepSkipped{p.step_index(), *advance};
      return out;
    }
    case v1::Event::kContentEdited: {
      const auto& p = event.content_edited();
      out.payload = domain::ContentEdited{
          p.step_index(), FromProto(p.edit()), p.requeued(),
          OptionalTime(p.has_next_due_at(), p.next_due_at()),
          p.held_by_sequence()};
      return out;
    }
    case v1::Event::kManualStepCompleted: {
      const auto& p = event.manual_step_completed();
      advance = AdvanceFromProto(p.advance());
      if (!advance.ok()) return DataLoss(advance.status().message());
      out.payload = domain::ManualStepCompleted{p.step_index(), *advance};
      return out;
    }
    case v1::Event::kReplyReceived: {
      const auto& p = event.reply_received();
      out.payload = domain::ReplyReceived{p.detail(), p.stops_sequence(),
                                          p.recorded_only()};
      return out;
    }
    case v1::Event::kMeetingBooked: {
      const auto& p = event.meeting_booked();
      out.payload = domain::MeetingBooked{p.detail(), p.stops_sequence(),
                                          p.recorded_only()};
      return out;
    }
    case v1::Event::kBounced:
      out.payload = domain::Bounced{event.bounced().detail(),
                                    event.bounced().recorded_only(),
                                    event.bounced().lease_token()};
      return out;
    case v1::Event::kUnsubscribed:
      out.payload = domain::Unsubscribed{event.unsubscribed().detail(),
                                         event.unsubscribed().recorded_only()};
      return out;
    case v1::Event::kFinished:
      out.payload = domain::Finished{};
      return out;
    case v1::Event::kStopped:
      out.payload = domain::Stopped{};
      return out;
    case v1::Event::kDeleted:
      out.payload = domain::Deleted{};
      return out;
    default:
      return DataLoss(
          absl::StrCat("not a recipient event: ", EventTypeName(event)));
  }
}

std::string EventTypeName(const v1::Event& event) {
  const auto* field =
      v1::Event::descriptor()->FindFieldByNumber(event.payload_case());
  if (field == nullptr) return "Unknown";
  return field->message_type()->name();
}

namespace {

void ToProto(const domain::StepTally& tally, v1::ReportTally* out) {
  out->set_waiting(tally.waiting);
  out->set_due(tally.due);
  out->set_sent(tally.sent);
  out->set_skipped(tally.skipped);
  out->set_failed(tally.failed);
  out->set_bounced(tally.bounced);
  out->set_replies(tally.replies);
  out->set_meetings(tally.meetings);
}

domain::StepTally FromProto(const v1::ReportTally& tally) {
  domain::StepTally out;
  out.waiting = tally.waiting();
  out.due = tally.due();
  out.sent = tally.sent();
  out.skipped = tally.skipped();
  out.failed = tally.failed();
  out.bounced = tally.bounced();
  out.replies = tally.replies();
  out.meetings = tally.meetings();
  return out;
}

}  // namespace

std::string EncodeReportContribution(
    const domain::ReportContribution& contribution) {
  v1::ReportContribution proto;
  proto.set_status(ToProto(contribution.status));
  for (size_t i = 0; i < contribution.steps.size(); ++i) {
    if (contribution.steps[i].empty()) continue;
    v1::ReportTally* step = proto.add_steps();
    step->set_step_index(static_cast<int32_t>(i));
    ToProto(contribution.steps[i], step);
  }
  if (!contribution.before_first_send.empty()) {
    ToProto(contribution.before_first_send, proto.mutable_before_first_send());
  }
  return proto.SerializeAsString();
}

absl::StatusOr<domain::ReportContribution> DecodeReportContribution(
    absl::string_view bytes) {
  v1::ReportContribution proto;
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("a report contribution does not parse");
  }
  auto status = FromProto("status", proto.status());
  if (!status.ok()) {
    return absl::DataLossError(absl::StrCat(
        "a report contribution names no status: ", status.status().message()));
  }
  domain::ReportContribution out;
  out.status = *status;
  for (const v1::ReportTally& step : proto.steps()) {
    if (step.step_index() < 0 || step.step_index() >= domain::kMaxSteps) {
      return absl::DataLossError(absl::StrCat(
          "a report contribution counts step ", step.step_index()));
    }
    if (static_cast<size_t>(step.step_index()) >= out.steps.size()) {
      out.steps.resize(step.step_index() + 1);
    }
    out.steps[step.step_index()] += FromProto(step);
  }
  out.before_first_send = FromProto(proto.before_first_send());
  return out;
}

}  // namespace sequencer::app
