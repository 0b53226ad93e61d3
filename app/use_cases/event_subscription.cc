#include "app/use_cases/event_subscription.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "app/status_macros.h"
#include "app/storage/store_layout.h"
#include "domain/sequence.h"
#include "sequencer/v1/events.pb.h"

namespace sequencer::app {

const std::vector<std::string>& SubscribableEventTypes() {
  static const std::vector<std::string>* const kTypes = [] {
    auto* types = new std::vector<std::string>();
    const google::protobuf::OneofDescriptor* payload =
        v1::Event::descriptor()->FindOneofByName("payload");
    for (int i = 0; i < payload->field_count(); ++i) {
      types->push_back(payload->field(i)->message_type()->name());
    }
    std::sort(types->begin(), types->end());
    return types;
  }();
  return *kTypes;
}

bool SubscriptionFilter::Matches(absl::string_view stream,
                                 absl::string_view type) const {
  std::optional<layout::KeyRefView> ref = layout::ParseStreamView(stream);
  if (!ref.has_value()) ref = layout::ParseDeletionStreamView(stream);
  if (!ref.has_value() || ref->tenant != tenant) return false;
  if (!sequence_id.empty() && ref->sequence_id != sequence_id) return false;
  if (!recipient_id.empty() && ref->recipient_id != recipient_id) {
    return false;
  }
  return types.empty() || types.contains(type);
}

absl::StatusOr<Subscription> OpenSubscription(
    const EventFeed& feed, const CallContext& call,
    const SubscriptionRequest& request) {
  Subscription subscription;
  SubscriptionFilter& filter = subscription.filter;
  filter.tenant = call.tenant_id;
  if (!request.sequence_id.empty()) {
    SEQ_RETURN_IF_ERROR(domain::ValidateId("sequence_id", request.sequence_id));
    filter.sequence_id = request.sequence_id;
  }
  if (!request.recipient_id.empty()) {
    if (request.sequence_id.empty()) {
      return absl::InvalidArgumentError(
          "recipient_id: needs sequence_id (a recipient id is unique within "
          "its sequence only)");
    }
    SEQ_RETURN_IF_ERROR(
        domain::ValidateId("recipient_id", request.recipient_id));
    filter.recipient_id = request.recipient_id;
  }
  const std::vector<std::string>& known = SubscribableEventTypes();
  for (size_t i = 0; i < request.event_types.size(); ++i) {
    const std::string& type = request.event_types[i];
    if (!std::binary_search(known.begin(), known.end(), type)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "event_types[", i, "]: unknown event type '", type,
          "' (types are named as stored, e.g. Paused, ReplyReceived, "
          "Deleted)"));
    }
    if (!filter.types.insert(type).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("event_types[", i, "]: '", type, "' appears twice"));
    }
  }
  using Start = SubscriptionRequest::Start;
  switch (request.start) {
    case Start::kUnset:
      return absl::InvalidArgumentError(
          "start: set one of after_position, from_start or from_now");
    case Start::kFromStart:
      if (!request.start_flag) {
        return absl::InvalidArgumentError("from_start: must be true when set");
      }
      subscription.after = 0;
      break;
    case Start::kFromNow:
      if (!request.start_flag) {
        return absl::InvalidArgumentError("from_now: must be true when set");
      }
      subscription.after = feed.LastPosition();
      break;
    case Start::kAfterPosition: {
      const uint64_t last = feed.LastPosition();
      if (request.after_position > last) {
        return absl::InvalidArgumentError(
            absl::StrCat("after_position: ", request.after_position,
                         " is beyond the log's last position ", last,
                         " (a position saved from another server?)"));
      }
      subscription.after = request.after_position;
      break;
    }
  }
  return subscription;
}

}  // namespace sequencer::app
