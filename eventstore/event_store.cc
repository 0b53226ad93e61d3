#include "eventstore/event_store.h"

#include <algorithm>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/match.h"

namespace sequencer::eventstore {

namespace {

// The defaults of ScanStreams and ScanStreamRange: the whole log read with
// ReadAll, the events `select` picks sorted by stream and version.
absl::Status ScanSelected(
    const EventStore& store,
    const std::function<bool(absl::string_view stream)>& select,
    const std::function<absl::Status(const StoredEventView&)>& visit) {
  auto events = store.ReadAll(1, std::numeric_limits<size_t>::max());
  if (!events.ok()) return events.status();
  std::vector<const StoredEvent*> selected;
  for (const StoredEvent& event : *events) {
    if (select(event.stream)) selected.push_back(&event);
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

}  // namespace

absl::Status EventStore::ScanStreams(
    absl::string_view prefix,
    const std::function<absl::Status(const StoredEventView&)>& visit) const {
  return ScanSelected(
      *this,
      [prefix](absl::string_view stream) {
        return absl::StartsWith(stream, prefix);
      },
      visit);
}

absl::Status EventStore::ScanStreamRange(
    absl::string_view from, absl::string_view to,
    const std::function<absl::Status(const StoredEventView&)>& visit) const {
  return ScanSelected(
      *this,
      [from, to](absl::string_view stream) {
        return stream >= from && (to.empty() || stream < to);
      },
      visit);
}

absl::StatusOr<std::vector<std::string>> EventStore::StreamSplitPoints(
    absl::string_view /*prefix*/, int /*parts*/) const {
  return std::vector<std::string>();
}

absl::Status EventStore::VisitIndex(
    absl::string_view prefix, absl::string_view start_after,
    const std::function<absl::Status(absl::string_view key,
                                     absl::string_view value)>& visit) const {
  constexpr size_t kChunk = 1000;
  std::string after(start_after);
  while (true) {
    auto entries = ScanIndex(prefix, after, kChunk);
    if (!entries.ok()) return entries.status();
    if (entries->empty()) return absl::OkStatus();
    for (const auto& [key, value] : *entries) {
      absl::Status status = visit(key, value);
      if (!status.ok()) return status;
    }
    after = std::move(entries->back().first);
  }
}

absl::Status EventStore::Checkpoint(const std::string& /*directory*/) {
  return absl::UnimplementedError("this event store cannot make a checkpoint");
}

}  // namespace sequencer::eventstore
