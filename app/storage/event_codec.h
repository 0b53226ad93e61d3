// The stored form of events (v1.Event, proto/sequencer/v1/events.proto) and
// of the values inside them, which share their messages and enums with the
// API (types.proto): each enum is converted through one table
// (app/storage/proto_enums.h). The API's own views (Sequence, Recipient,
// StepView) are built in server/api_mapping.h.
//
// Decoding from a request validates: an unknown or unspecified enum value, a
// malformed duration or timestamp is INVALID_ARGUMENT naming the field.
// Decoding a stored event that does not parse or holds no payload is DATA_LOSS.
// Encoding never fails. Thread-compatible free functions.

#ifndef SEQUENCER_APP_STORAGE_EVENT_CODEC_H_
#define SEQUENCER_APP_STORAGE_EVENT_CODEC_H_

#include <cstdint>
#include <string>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "domain/events.h"
#include "domain/limits.h"
#include "domain/model.h"
#include "domain/recipient.h"
#include "domain/report.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "sequencer/v1/events.pb.h"
#include "sequencer/v1/sequencer.pb.h"
#include "sequencer/v1/types.pb.h"

namespace sequencer::app {

// Exact for every finite time and duration (an infinite one saturates).
google::protobuf::Timestamp ToProtoTime(absl::Time time);
absl::Time FromProtoTime(const google::protobuf::Timestamp& timestamp);
google::protobuf::Duration ToProtoDuration(absl::Duration duration);
// INVALID_ARGUMENT when seconds and nanos disagree in sign, nanos is out of
// range, or seconds is beyond +-domain::kMaxDurationSeconds.
absl::StatusOr<absl::Duration> FromProtoDuration(
    absl::string_view field, const google::protobuf::Duration& duration);

v1::StepType ToProto(domain::StepType type);
v1::StepMode ToProto(domain::StepMode mode);
v1::RecipientStatus ToProto(domain::RecipientStatus status);
v1::Action ToProto(domain::Action action);
v1::StepState ToProto(domain::StepState state);
v1::SignalType ToProto(domain::SignalType signal);

absl::StatusOr<domain::StepType> FromProto(absl::string_view field,
                                           v1::StepType type);
// Unspecified means automatic.
absl::StatusOr<domain::StepMode> FromProto(absl::string_view field,
                                           v1::StepMode mode);
absl::StatusOr<domain::RecipientStatus> FromProto(absl::string_view field,
                                                  v1::RecipientStatus status);
absl::StatusOr<domain::SignalType> FromProto(absl::string_view field,
                                             v1::SignalType signal);

v1::StepContent ToProto(const domain::StepContent& content);
domain::StepContent FromProto(const v1::StepContent& content);
v1::ContentEdit ToProto(const domain::ContentEdit& edit);
domain::ContentEdit FromProto(const v1::ContentEdit& edit);
v1::StepDefinition ToProto(const domain::StepDefinition& step);
absl::StatusOr<domain::StepDefinition> FromProto(
    absl::string_view field, const v1::StepDefinition& step);

// The stored form of events.
v1::Event ToProto(const domain::SequenceEvent& event);
v1::Event ToProto(const domain::RecipientEvent& event);
absl::StatusOr<domain::SequenceEvent> SequenceEventFromProto(
    const v1::Event& event);
absl::StatusOr<domain::RecipientEvent> RecipientEventFromProto(
    const v1::Event& event);
// The payload's name ("Paused", "SequenceCreated", ...), used as the store's
// event type.
std::string EventTypeName(const v1::Event& event);

// The stored form of a recipient's report contribution (the rp/ entries):
// equal contributions encode to equal bytes. Decoding bytes that do not parse
// or name no status is DATA_LOSS.
std::string EncodeReportContribution(
    const domain::ReportContribution& contribution);
absl::StatusOr<domain::ReportContribution> DecodeReportContribution(
    absl::string_view bytes);

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_STORAGE_EVENT_CODEC_H_
