#include "domain/schedule.h"

#include <optional>

#include "domain/recipient_views.h"

namespace sequencer::domain {

RecipientSchedule Schedule(const Recipient& recipient,
                           const Sequence& sequence) {
  const Recipient& r = recipient;
  if (!r.exists || r.deleted) return {};
  if (!r.in_flight_token.empty()) {
    if (!r.send_deadline.has_value() || r.IsFinal()) return {};
    return {ScheduleKind::kDue, *r.send_deadline};
  }
  const bool waiting =
      r.IsRunning() && r.status != RecipientStatus::kError &&
      !r.awaiting_manual_action && r.current_step >= 0 &&
      r.current_step < static_cast<int>(sequence.steps.size()) &&
      r.due_at.has_value();
  if (!waiting) return {};
  if (!r.awaiting_delivery) return {ScheduleKind::kDue, *r.due_at};
  const std::optional<StepType> channel =
      DeliveryChannel(sequence.steps[r.current_step]);
  if (!channel.has_value()) return {};
  return {ScheduleKind::kReadyForDelivery, *r.due_at, *channel};
}

}  // namespace sequencer::domain
