#include "eventstore/in_memory_event_store.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "eventstore/batch_validation.h"

namespace sequencer::eventstore {

absl::StatusOr<CommitResult> InMemoryEventStore::Commit(
    const CommitBatch& batch) {
  absl::Status valid = ValidateCommitBatch(batch);
  if (!valid.ok()) return valid;

  absl::MutexLock lock(&mu_);
  std::map<std::string, uint64_t, std::less<>> versions;
  auto current_version = [&](const std::string& stream) -> uint64_t {
    auto it = versions.find(stream);
    if (it != versions.end()) return it->second;
    auto s = streams_.find(stream);
    return s == streams_.end() ? 0 : s->second.size();
  };
  for (const StreamErasure& erasure : batch.erasures) {
    const uint64_t actual = current_version(erasure.stream);
    if (erasure.expected_version != kAnyVersion &&
        static_cast<uint64_t>(erasure.expected_version) != actual) {
      return absl::AbortedError(absl::StrFormat(
          "stream \"%s\": expected version %d, actual version %d",
          absl::CHexEscape(erasure.stream), erasure.expected_version, actual));
    }
    versions[erasure.stream] = 0;
  }
  CommitResult result;
  for (const StreamAppend& append : batch.appends) {
    const uint64_t actual = current_version(append.stream);
    if (append.expected_version != kAnyVersion &&
        static_cast<uint64_t>(append.expected_version) != actual) {
      return absl::AbortedError(absl::StrFormat(
          "stream \"%s\": expected version %d, actual version %d",
          absl::CHexEscape(append.stream), append.expected_version, actual));
    }
    versions[append.stream] = actual + append.events.size();
    result.stream_versions.push_back(actual + append.events.size());
  }

  for (const StreamErasure& erasure : batch.erasures) {
    auto erased = streams_.find(erasure.stream);
    if (erased != streams_.end()) {
      // An erased position keeps its slot, with no stream: ReadAll skips it.
      for (uint64_t position : erased->second) {
        log_[position - 1] = StoredEvent{"", 0, position, "", ""};
      }
      streams_.erase(erased);
    }
    for (const std::string& key : erasure.forget_keys) index_.erase(key);
  }
  for (const StreamAppend& append : batch.appends) {
    std::vector<uint64_t>& positions = streams_[append.stream];
    for (const NewEvent& event : append.events) {
      const uint64_t position = log_.size() + 1;
      log_.push_back(StoredEvent{append.stream, positions.size() + 1, position,
                                 event.type, event.data});
      positions.push_back(position);
      if (result.first_position == 0) result.first_position = position;
      result.last_position = position;
    }
  }
  for (const IndexWrite& write : batch.index_writes) {
    if (write.value.has_value()) {
      index_[write.key] = *write.value;
    } else {
      index_.erase(write.key);
    }
  }
  return result;
}

absl::StatusOr<std::vector<StoredEvent>> InMemoryEventStore::ReadStream(
    absl::string_view stream, uint64_t from_version, size_t max_count) const {
  absl::Status valid = ValidateStreamName(stream);
  if (!valid.ok()) return valid;
  absl::MutexLock lock(&mu_);
  std::vector<StoredEvent> events;
  auto it = streams_.find(stream);
  if (it == streams_.end()) return events;
  const std::vector<uint64_t>& positions = it->second;
  for (uint64_t v = std::max<uint64_t>(from_version, 1);
       v <= positions.size() && events.size() < max_count; ++v) {
    events.push_back(log_[positions[v - 1] - 1]);
  }
  return events;
}

absl::StatusOr<uint64_t> InMemoryEventStore::StreamVersion(
    absl::string_view stream) const {
  absl::Status valid = ValidateStreamName(stream);
  if (!valid.ok()) return valid;
  absl::MutexLock lock(&mu_);
  auto it = streams_.find(stream);
  return it == streams_.end() ? 0 : it->second.size();
}

absl::StatusOr<std::vector<StoredEvent>> InMemoryEventStore::ReadAll(
    uint64_t from_position, size_t max_count) const {
  absl::MutexLock lock(&mu_);
  std::vector<StoredEvent> events;
  for (uint64_t p = std::max<uint64_t>(from_position, 1);
       p <= log_.size() && events.size() < max_count; ++p) {
    if (log_[p - 1].stream.empty()) continue;  // erased
    events.push_back(log_[p - 1]);
  }
  return events;
}

uint64_t InMemoryEventStore::LastPosition() const {
  absl::MutexLock lock(&mu_);
  return log_.size();
}

absl::StatusOr<std::optional<std::string>> InMemoryEventStore::GetIndex(
    absl::string_view key) const {
  if (key.empty()) return absl::InvalidArgumentError("index key is empty");
  absl::MutexLock lock(&mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
InMemoryEventStore::ScanIndex(absl::string_view prefix,
                              absl::string_view start_after,
                              size_t max_count) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<std::string, std::string>> entries;
  auto it = start_after.empty() || start_after < prefix
                ? index_.lower_bound(prefix)
                : index_.upper_bound(start_after);
  for (; it != index_.end() && entries.size() < max_count; ++it) {
    if (!absl::StartsWith(it->first, prefix)) break;
    entries.emplace_back(it->first, it->second);
  }
  return entries;
}

absl::StatusOr<std::vector<std::string>> InMemoryEventStore::StreamSplitPoints(
    absl::string_view prefix, int parts) const {
  std::vector<std::string> points;
  if (parts < 2) return points;
  absl::MutexLock lock(&mu_);
  uint64_t total = 0;
  for (auto it = streams_.lower_bound(prefix);
       it != streams_.end() && absl::StartsWith(it->first, prefix); ++it) {
    total += it->second.size();
  }
  uint64_t before = 0;
  int part = 1;
  for (auto it = streams_.lower_bound(prefix);
       it != streams_.end() && absl::StartsWith(it->first, prefix) &&
       part < parts;
       ++it) {
    // The first stream at or past the part's share starts the next range.
    if (before > 0 && before * parts >= total * part) {
      points.push_back(it->first);
      while (part < parts && before * parts >= total * part) ++part;
    }
    before += it->second.size();
  }
  return points;
}

absl::Status InMemoryEventStore::VisitIndex(
    absl::string_view prefix, absl::string_view start_after,
    const std::function<absl::Status(absl::string_view key,
                                     absl::string_view value)>& visit) const {
  std::vector<std::pair<std::string, std::string>> entries;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = start_after.empty() || start_after < prefix
                       ? index_.lower_bound(prefix)
                       : index_.upper_bound(start_after);
         it != index_.end() && absl::StartsWith(it->first, prefix); ++it) {
      entries.emplace_back(it->first, it->second);
    }
  }
  for (const auto& [key, value] : entries) {
    absl::Status status = visit(key, value);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace sequencer::eventstore
