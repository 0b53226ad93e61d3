#include "app/storage/indexes.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "app/status_macros.h"
#include "app/storage/store_layout.h"

namespace sequencer::app::indexes {

absl::StatusOr<IdPage> ListRecipients(
    const eventstore::EventStore& store, absl::string_view tenant,
    absl::string_view sequence_id,
    const std::set<domain::RecipientStatus>& statuses, absl::string_view after,
    int limit) {
  // One ordered scan per prefix (all recipients, or each wanted status),
  // merged by id.
  std::vector<std::string> prefixes;
  if (statuses.empty()) {
    prefixes.push_back(layout::RecipientListPrefix(tenant, sequence_id));
  } else {
    for (auto status : statuses) {
      prefixes.push_back(layout::StatusIndexPrefix(tenant, sequence_id,
                                                   layout::StatusKey(status)));
    }
  }
  IdPage page;
  for (const auto& prefix : prefixes) {
    const std::string start_after =
        after.empty() ? "" : absl::StrCat(prefix, after);
    SEQ_ASSIGN_OR_RETURN(auto entries,
                         store.ScanIndex(prefix, start_after, limit + 1));
    for (const auto& [key, value] : entries) {
      page.ids.push_back(key.substr(prefix.size()));
    }
  }
  std::sort(page.ids.begin(), page.ids.end());
  page.more = static_cast<int>(page.ids.size()) > limit;
  if (page.more) page.ids.resize(limit);
  return page;
}

absl::StatusOr<IdPage> ListSequences(const eventstore::EventStore& store,
                                     absl::string_view tenant,
                                     absl::string_view after, int limit) {
  const std::string prefix = layout::SequenceListPrefix(tenant);
  const std::string start_after =
      after.empty() ? "" : absl::StrCat(prefix, after);
  SEQ_ASSIGN_OR_RETURN(auto entries,
                       store.ScanIndex(prefix, start_after, limit + 1));
  IdPage page;
  page.more = static_cast<int>(entries.size()) > limit;
  if (page.more) entries.resize(limit);
  for (const auto& [key, value] : entries) {
    page.ids.push_back(key.substr(prefix.size()));
  }
  return page;
}

absl::StatusOr<DueScan> DueBefore(const eventstore::EventStore& store,
                                  absl::Time now, absl::string_view start_after,
                                  size_t limit) {
  SEQ_ASSIGN_OR_RETURN(auto entries,
                       store.ScanIndex(layout::kDuePrefix, start_after, limit));
  DueScan scan;
  scan.last_key = std::string(start_after);
  scan.end = entries.size() < limit;
  for (auto& [key, value] : entries) {
    std::optional<layout::DueEntry> entry = layout::ParseDueKey(key);
    std::string queue_entry(layout::QueueEntryOf(key, layout::kDuePrefix));
    if (entry.has_value() && entry->due > now) {
      scan.first_later = std::move(queue_entry);
      scan.end = false;
      return scan;
    }
    scan.last_key = std::move(key);
    scan.items.push_back({std::move(queue_entry), std::move(entry)});
  }
  return scan;
}

absl::StatusOr<QueueScan<layout::ReadyEntry>> ReadyFor(
    const eventstore::EventStore& store, absl::string_view tenant,
    absl::string_view channel, absl::string_view start_after, size_t limit) {
  const std::string prefix = layout::ReadyPrefix(tenant, channel);
  SEQ_ASSIGN_OR_RETURN(auto entries,
                       store.ScanIndex(prefix, start_after, limit));
  QueueScan<layout::ReadyEntry> scan;
  scan.last_key = std::string(start_after);
  scan.end = entries.size() < limit;
  for (auto& [key, value] : entries) {
    std::optional<layout::ReadyEntry> entry = layout::ParseReadyKey(key);
    if (entry.has_value() && entry->recipient.tenant != tenant) {
      entry.reset();
    }
    std::string queue_entry(layout::QueueEntryOf(key, prefix));
    scan.last_key = std::move(key);
    scan.items.push_back({std::move(queue_entry), std::move(entry)});
  }
  return scan;
}

}  // namespace sequencer::app::indexes
