// One table per enum between the domain's enums and the protobuf enums the
// log and the API share (types.proto): ToProto and FromProto in
// app/storage/event_codec.h and the server's mapping both read them, so a
// value added on one side and not the other fails one place
// (tests/app/event_codec_test.cc walks every table in both directions).

#ifndef SEQUENCER_APP_STORAGE_PROTO_ENUMS_H_
#define SEQUENCER_APP_STORAGE_PROTO_ENUMS_H_

#include <optional>
#include <utility>

#include "domain/model.h"
#include "domain/recipient.h"
#include "sequencer/v1/events.pb.h"
#include "sequencer/v1/types.pb.h"

namespace sequencer::app::enums {

template <typename Domain, typename Proto>
using Table = std::pair<Domain, Proto>;

inline constexpr Table<domain::StepType, v1::StepType> kStepTypes[] = {
    {domain::StepType::kEmail, v1::STEP_TYPE_EMAIL},
    {domain::StepType::kSocialMessage, v1::STEP_TYPE_SOCIAL_MESSAGE},
    {domain::StepType::kSms, v1::STEP_TYPE_SMS},
    {domain::StepType::kTask, v1::STEP_TYPE_TASK},
};

// Unspecified decodes as automatic (FromProto).
inline constexpr Table<domain::StepMode, v1::StepMode> kStepModes[] = {
    {domain::StepMode::kAutomatic, v1::STEP_MODE_AUTOMATIC},
    {domain::StepMode::kManual, v1::STEP_MODE_MANUAL},
};

inline constexpr Table<domain::RecipientStatus, v1::RecipientStatus>
    kRecipientStatuses[] = {
        {domain::RecipientStatus::kInProgress,
         v1::RECIPIENT_STATUS_IN_PROGRESS},
        {domain::RecipientStatus::kPendingAction,
         v1::RECIPIENT_STATUS_PENDING_ACTION},
        {domain::RecipientStatus::kPaused, v1::RECIPIENT_STATUS_PAUSED},
        {domain::RecipientStatus::kError, v1::RECIPIENT_STATUS_ERROR},
        {domain::RecipientStatus::kFinished, v1::RECIPIENT_STATUS_FINISHED},
        {domain::RecipientStatus::kResponded, v1::RECIPIENT_STATUS_RESPONDED},
        {domain::RecipientStatus::kMeetingBooked,
         v1::RECIPIENT_STATUS_MEETING_BOOKED},
        {domain::RecipientStatus::kBounced, v1::RECIPIENT_STATUS_BOUNCED},
        {domain::RecipientStatus::kStopped, v1::RECIPIENT_STATUS_STOPPED},
        {domain::RecipientStatus::kUnsubscribed,
         v1::RECIPIENT_STATUS_UNSUBSCRIBED},
};

inline constexpr Table<domain::Action, v1::Action> kActions[] = {
    {domain::Action::kPause, v1::ACTION_PAUSE},
    {domain::Action::kResume, v1::ACTION_RESUME},
    {domain::Action::kSkipStep, v1::ACTION_SKIP_STEP},
    {domain::Action::kEditContent, v1::ACTION_EDIT_CONTENT},
    {domain::Action::kViewContent, v1::ACTION_VIEW_CONTENT},
    {domain::Action::kStop, v1::ACTION_STOP},
    {domain::Action::kDelete, v1::ACTION_DELETE},
    {domain::Action::kCompleteManualStep, v1::ACTION_COMPLETE_MANUAL_STEP},
};

inline constexpr Table<domain::StepState, v1::StepState> kStepStates[] = {
    {domain::StepState::kUpcoming, v1::STEP_STATE_UPCOMING},
    {domain::StepState::kCurrent, v1::STEP_STATE_CURRENT},
    {domain::StepState::kCompleted, v1::STEP_STATE_COMPLETED},
    {domain::StepState::kSkipped, v1::STEP_STATE_SKIPPED},
    {domain::StepState::kCancelled, v1::STEP_STATE_CANCELLED},
};

inline constexpr Table<domain::SignalType, v1::SignalType> kSignalTypes[] = {
    {domain::SignalType::kReply, v1::SIGNAL_TYPE_REPLY},
    {domain::SignalType::kMeetingBooked, v1::SIGNAL_TYPE_MEETING_BOOKED},
    {domain::SignalType::kBounce, v1::SIGNAL_TYPE_BOUNCE},
    {domain::SignalType::kUnsubscribe, v1::SIGNAL_TYPE_UNSUBSCRIBE},
};

inline constexpr Table<domain::DeliveryOutcome, v1::DeliveryOutcome>
    kDeliveryOutcomes[] = {
        {domain::DeliveryOutcome::kSent, v1::DELIVERY_OUTCOME_SENT},
        {domain::DeliveryOutcome::kFailed, v1::DELIVERY_OUTCOME_FAILED},
        {domain::DeliveryOutcome::kBounced, v1::DELIVERY_OUTCOME_BOUNCED},
};

// The proto value of `value` in `table`; `unspecified` when absent.
template <typename Domain, typename Proto, size_t N>
Proto ToProtoEnum(const Table<Domain, Proto> (&table)[N], Domain value,
                  Proto unspecified) {
  for (const auto& [d, p] : table) {
    if (d == value) return p;
  }
  return unspecified;
}

// The domain value of `value` in `table`; nullopt when absent.
template <typename Domain, typename Proto, size_t N>
std::optional<Domain> FromProtoEnum(const Table<Domain, Proto> (&table)[N],
                                    Proto value) {
  for (const auto& [d, p] : table) {
    if (p == value) return d;
  }
  return std::nullopt;
}

}  // namespace sequencer::app::enums

#endif  // SEQUENCER_APP_STORAGE_PROTO_ENUMS_H_
