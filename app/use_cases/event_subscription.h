// Event subscriptions (issue 12, sequencer.v1.SubscriptionService): which
// events of the log a subscriber gets, and where it starts. The reading
// itself is app/runtime/event_feed.h; the streaming is the server's
// (server/subscription_service.h).
//
// A subscription is tenant-scoped: it sees the events of the caller tenant's
// streams only (layout::SequenceStream, RecipientStream and DeletionStream:
// seq/, rcp/ and del/), optionally only one sequence's (its own stream and
// its recipients'), one recipient's (its stream and its tombstones) and some
// event types (the store's type names, EventTypeName). Thread-compatible.

#ifndef SEQUENCER_APP_USE_CASES_EVENT_SUBSCRIPTION_H_
#define SEQUENCER_APP_USE_CASES_EVENT_SUBSCRIPTION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "app/caller.h"
#include "app/runtime/event_feed.h"
#include "eventstore/event_store.h"

namespace sequencer::app {

struct SubscriptionRequest {
  enum class Start { kUnset, kAfterPosition, kFromStart, kFromNow };
  Start start = Start::kUnset;
  // For kAfterPosition: the last position the subscriber has seen.
  uint64_t after_position = 0;
  // For kFromStart and kFromNow: must be true (the oneof's value).
  bool start_flag = false;
  std::string sequence_id;
  std::string recipient_id;
  std::vector<std::string> event_types;
};

struct SubscriptionFilter {
  // True when `stream`'s event of type `type` is for this subscriber.
  bool Matches(absl::string_view stream, absl::string_view type) const;

  std::string tenant;
  // Empty: any.
  std::string sequence_id;
  std::string recipient_id;
  absl::flat_hash_set<std::string> types;
};

struct Subscription {
  SubscriptionFilter filter;
  // The position after which the subscriber's events start.
  uint64_t after = 0;
};

// Validates `request` (INVALID_ARGUMENT "<field>: <why>": no start, a start
// flag that is false, an after_position beyond the log's last position, an
// invalid id, a recipient_id without sequence_id, an unknown or repeated
// event type) and resolves its start against `feed` (kFromNow: the last
// position now).
absl::StatusOr<Subscription> OpenSubscription(
    const EventFeed& feed, const CallContext& call,
    const SubscriptionRequest& request);

// The event type names a subscription may filter on, sorted.
const std::vector<std::string>& SubscribableEventTypes();

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_USE_CASES_EVENT_SUBSCRIPTION_H_
