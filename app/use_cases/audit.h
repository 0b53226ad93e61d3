// Audit replay: a recipient's state as of a past instant, and the tenant's
// events in log order, both computed from the log (never from the stored
// projections). Reads take no lock and see every commit that returned before
// they started. Thread-safe.

#ifndef SEQUENCER_APP_USE_CASES_AUDIT_H_
#define SEQUENCER_APP_USE_CASES_AUDIT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "app/app_deps.h"
#include "app/caller.h"
#include "domain/model.h"
#include "domain/recipient.h"
#include "eventstore/event_store.h"
#include "sequencer/v1/events.pb.h"

namespace sequencer::app {

struct AsOfRequest {
  std::string sequence_id;
  std::string recipient_id;
  // At most one is set; neither means every event (now).
  std::optional<absl::Time> as_of;
  std::optional<uint64_t> version;
};

struct RecipientAsOf {
  // The sequence folded up to `as_of` (a time asked for) or up to the log
  // position of the recipient's last folded event (a version asked for, or
  // none), so that a sequence event recorded at the same instant but after
  // that event is left out.
  domain::Sequence sequence;
  domain::Recipient recipient;
  // domain::DescribeSteps at `as_of`: content resolved with the variables of
  // then (no availability check: auditors see every status's content).
  std::vector<domain::StepView> steps;
  // The last folded event's version and recording time.
  uint64_t version = 0;
  absl::Time last_event_at;
  // The instant described: the time asked for, otherwise last_event_at.
  absl::Time as_of;
};

// Folds the recipient's events in version order, up to `version` or while
// recorded at or before `as_of` (stopping at the first later one).
// INVALID_ARGUMENT for bad ids, both bounds set, or version 0; NOT_FOUND for
// an unknown sequence or recipient, a recipient deleted by now (deletion
// erases the history), one with no event at or before `as_of`, or a version
// it never reached.
absl::StatusOr<RecipientAsOf> GetRecipientAsOf(const AppDeps& deps,
                                               const CallContext& call,
                                               const AsOfRequest& request);

struct LoggedEvent {
  eventstore::StoredEvent stored;
  v1::Event event;
  std::string sequence_id;
  // Empty for a sequence's event.
  std::string recipient_id;
};

struct EventPage {
  std::vector<LoggedEvent> events;
  // After the last position looked at: where the next page starts.
  uint64_t next_position = 1;
  // EventStore::LastPosition() when the page was read.
  uint64_t last_position = 0;
};

// Events in a page of ReadEvents: 0 asks for this many.
inline constexpr int kMaxEventPage = 1000;
// Positions one ReadEvents call looks at, at most (other tenants' events are
// skipped, so a page can be short before the end of the log).
inline constexpr uint64_t kMaxEventsScanned = 10000;
// A page ends after the event that brings its stored bytes to this (a
// sequence's definition alone may be 13 MiB), so a page can be short.
inline constexpr size_t kMaxEventPageBytes = 4 << 20;
// Events ReadEvents reads from the store at a time.
inline constexpr size_t kEventReadChunk = 128;

// The caller tenant's events with position >= from_position (0 means 1), in
// log order, at most `limit` (0: kMaxEventPage) and about
// kMaxEventPageBytes. Positions need not be contiguous. INVALID_ARGUMENT for a
// limit outside 0..kMaxEventPage; DATA_LOSS for a stored event of the tenant
// that does not parse.
absl::StatusOr<EventPage> ReadEvents(const AppDeps& deps,
                                     const CallContext& call,
                                     uint64_t from_position, int limit);

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_USE_CASES_AUDIT_H_
