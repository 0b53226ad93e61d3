#include "eventstore/event_store.h"

#include <algorithm>
#include <limits>
#include <tuple>

#include "absl/strings/match.h"

namespace sequencer::eventstore {

absl::Status EventStore::ScanStreams(
    absl::string_view prefix,
    const std::function<absl::Status(const StoredEventView&)>& visit) const {
  auto events = ReadAll(1, std::numeric_limits<size_t>::max());
  if (!events.ok()) return events.status();
  std::vector<const StoredEvent*> selected;
  for (const StoredEvent& event : *events) {
    if (absl::StartsWith(event.stream, prefix)) selected.push_back(&event);
  }
  std::stable_sort(selected.begin(), selected.end(),
                   [](const StoredEvent* a, const StoredEvent* b) {
                     return std::tie(a->stream, a->version) <
                            std::tie(b->stream, b->version);
                   });
  for (const StoredEvent* event : selected) {
    absl::Status status =
        visit(StoredEventView{event->stream, event->version, event->position,
                              event->type, event->data});
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace sequencer::eventstore
