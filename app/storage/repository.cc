#include "app/storage/repository.h"

#include <limits>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "app/storage/event_codec.h"
#include "app/storage/store_layout.h"
#include "domain/recipient.h"
#include "domain/report.h"
#include "domain/schedule.h"
#include "domain/sequence.h"

namespace sequencer::app {
namespace {

constexpr size_t kAll = std::numeric_limits<size_t>::max();

absl::StatusOr<v1::Event> ParseEvent(const eventstore::StoredEvent& stored) {
  v1::Event event;
  if (!event.ParseFromString(stored.data)) {
    return absl::DataLossError(absl::StrCat("event ", stored.version, " of ",
                                            stored.stream, " does not parse"));
  }
  return event;
}

// Folds the events of `stream` from version `from` on onto `state`, adding
// their stored data bytes to `bytes`. Returns the version of the last event
// folded (from - 1 when there was none).
template <typename State, typename FromProto>
absl::StatusOr<uint64_t> FoldStream(const eventstore::EventStore& store,
                                    const std::string& stream, uint64_t from,
                                    FromProto from_proto, State* state,
                                    size_t* bytes) {
  auto events = store.ReadStream(stream, from, kAll);
  if (!events.ok()) return events.status();
  uint64_t folded = from - 1;
  for (const auto& stored : *events) {
    auto proto = ParseEvent(stored);
    if (!proto.ok()) return proto.status();
    auto event = from_proto(*proto);
    if (!event.ok()) return event.status();
    *state = domain::Evolve(std::move(*state), *event);
    *bytes += stored.data.size();
    folded = stored.version;
  }
  return folded;
}

}  // namespace

absl::StatusOr<domain::Sequence> Repository::LoadSequence(
    absl::string_view tenant, absl::string_view sequence_id) const {
  const std::string stream = layout::SequenceStream(tenant, sequence_id);
  auto version = store_.StreamVersion(stream);
  if (!version.ok()) return version.status();
  SequenceSnapshot snapshot;
  {
    absl::MutexLock lock(&cache_mu_);
    auto it = sequences_.find(stream);
    if (it != sequences_.end()) snapshot = it->second;
  }
  if (snapshot.state != nullptr && snapshot.version == *version) {
    return *snapshot.state;
  }
  domain::Sequence state;
  uint64_t from = 1;
  size_t bytes = 0;
  if (snapshot.state != nullptr && snapshot.version < *version) {
    state = *snapshot.state;
    from = snapshot.version + 1;
    bytes = snapshot.bytes;
  }
  auto folded =
      FoldStream(store_, stream, from, SequenceEventFromProto, &state, &bytes);
  if (!folded.ok()) return folded.status();
  if (*folded > 0 && bytes <= kSequenceCacheBytes / 4) {
    auto kept = std::make_shared<const domain::Sequence>(state);
    absl::MutexLock lock(&cache_mu_);
    auto it = sequences_.find(stream);
    if (it == sequences_.end() || it->second.version < *folded) {
      if (it != sequences_.end()) {
        cached_bytes_ -= it->second.bytes;
        sequences_.erase(it);
      }
      if (cached_bytes_ + bytes > kSequenceCacheBytes) {
        sequences_.clear();
        cached_bytes_ = 0;
      }
      sequences_[stream] = SequenceSnapshot{*folded, bytes, std::move(kept)};
      cached_bytes_ += bytes;
    }
  }
  return state;
}

absl::StatusOr<domain::Recipient> Repository::LoadRecipient(
    absl::string_view tenant, absl::string_view sequence_id,
    absl::string_view recipient_id) const {
  const std::string stream =
      layout::RecipientStream(tenant, sequence_id, recipient_id);
  RecipientSnapshot snapshot;
  uint64_t epoch;
  {
    absl::MutexLock lock(&recipients_mu_);
    epoch = recipient_epoch_;
    if (RecipientSnapshot* kept = recipients_.Find(stream)) snapshot = *kept;
  }
  domain::Recipient state;
  uint64_t from = 1;
  // Only a kept snapshot is worth a version lookup: it may spare the read.
  if (snapshot.state != nullptr) {
    auto version = store_.StreamVersion(stream);
    if (!version.ok()) return version.status();
    if (snapshot.version == *version) return *snapshot.state;
    if (snapshot.version < *version) {
      state = *snapshot.state;
      from = snapshot.version + 1;
    }
  }
  size_t bytes = 0;
  auto folded =
      FoldStream(store_, stream, from, RecipientEventFromProto, &state, &bytes);
  if (!folded.ok()) return folded.status();
  if (*folded > 0) {
    auto kept = std::make_shared<const domain::Recipient>(state);
    absl::MutexLock lock(&recipients_mu_);
    // A recipient erased since this load began may have been folded from
    // its erased events: not kept.
    if (epoch != recipient_epoch_) return state;
    if (RecipientSnapshot* current = recipients_.Find(stream)) {
      if (current->version < *folded) {
        *current = RecipientSnapshot{*folded, std::move(kept)};
      }
    } else {
      recipients_.Add(stream, RecipientSnapshot{*folded, std::move(kept)});
    }
  }
  return state;
}

void Repository::Committed(const eventstore::CommitBatch& batch) {
  for (const eventstore::StreamAppend& append : batch.appends) {
    if (append.events.empty() || append.expected_version < 0 ||
        !absl::StartsWith(append.stream, layout::kRecipientStreamPrefix)) {
      continue;
    }
    const uint64_t before = static_cast<uint64_t>(append.expected_version);
    std::shared_ptr<const domain::Recipient> kept;
    {
      absl::MutexLock lock(&recipients_mu_);
      RecipientSnapshot* current = recipients_.Find(append.stream);
      if (current == nullptr || current->version != before) continue;
      kept = current->state;
    }
    auto state = std::make_shared<domain::Recipient>(*kept);
    bool decoded = true;
    v1::Event proto;
    for (const eventstore::NewEvent& event : append.events) {
      if (!proto.ParseFromString(event.data)) {
        decoded = false;
        break;
      }
      auto folded = RecipientEventFromProto(proto);
      if (!folded.ok()) {
        decoded = false;
        break;
      }
      *state = domain::Evolve(std::move(*state), *folded);
    }
    const uint64_t after = before + append.events.size();
    absl::MutexLock lock(&recipients_mu_);
    RecipientSnapshot* current = recipients_.Find(append.stream);
    if (current == nullptr || current->version != before) continue;
    if (!decoded) {
      recipients_.Erase(append.stream);
      continue;
    }
    *current = RecipientSnapshot{after, std::move(state)};
  }
}

void Repository::ForgetRecipient(absl::string_view stream) {
  absl::MutexLock lock(&recipients_mu_);
  recipients_.Erase(stream);
  ++recipient_epoch_;
}

Repository::RecipientSnapshot* Repository::RecipientSnapshots::Find(
    absl::string_view stream) {
  if (auto it = young_.find(stream); it != young_.end()) return &it->second;
  auto it = old_.find(stream);
  if (it == old_.end()) return nullptr;
  RecipientSnapshot snapshot = std::move(it->second);
  old_.erase(it);
  Add(stream, std::move(snapshot));
  return &young_.find(stream)->second;
}

void Repository::RecipientSnapshots::Add(absl::string_view stream,
                                         RecipientSnapshot snapshot) {
  if (young_.size() >= kRecipientCacheEntries / 2) {
    old_ = std::move(young_);
    young_.clear();
  }
  young_.insert_or_assign(std::string(stream), std::move(snapshot));
}

void Repository::RecipientSnapshots::Erase(absl::string_view stream) {
  young_.erase(stream);
  old_.erase(stream);
}

absl::StatusOr<domain::Sequence> Repository::GetSequence(
    absl::string_view tenant, absl::string_view sequence_id) const {
  auto sequence = LoadSequence(tenant, sequence_id);
  if (sequence.ok() && !sequence->exists) {
    return absl::NotFoundError(
        absl::StrCat("sequence \"", sequence_id, "\" not found"));
  }
  return sequence;
}

absl::StatusOr<domain::Recipient> Repository::GetRecipient(
    absl::string_view tenant, absl::string_view sequence_id,
    absl::string_view recipient_id) const {
  auto recipient = LoadRecipient(tenant, sequence_id, recipient_id);
  if (recipient.ok() && (!recipient->exists || recipient->deleted)) {
    return absl::NotFoundError(absl::StrCat("recipient \"", recipient_id,
                                            "\" not found in sequence \"",
                                            sequence_id, "\""));
  }
  return recipient;
}

absl::StatusOr<std::vector<std::pair<eventstore::StoredEvent, v1::Event>>>
Repository::ReadRecipientEvents(absl::string_view tenant,
                                absl::string_view sequence_id,
                                absl::string_view recipient_id) const {
  auto events = store_.ReadStream(
      layout::RecipientStream(tenant, sequence_id, recipient_id), 1, kAll);
  if (!events.ok()) return events.status();
  std::vector<std::pair<eventstore::StoredEvent, v1::Event>> out;
  out.reserve(events->size());
  for (auto& stored : *events) {
    auto proto = ParseEvent(stored);
    if (!proto.ok()) return proto.status();
    out.emplace_back(std::move(stored), *std::move(proto));
  }
  return out;
}

eventstore::NewEvent Repository::Encode(const domain::SequenceEvent& event) {
  v1::Event proto = ToProto(event);
  return {EventTypeName(proto), proto.SerializeAsString()};
}

eventstore::NewEvent Repository::Encode(const domain::RecipientEvent& event) {
  v1::Event proto = ToProto(event);
  return {EventTypeName(proto), proto.SerializeAsString()};
}

void Repository::AddProjectionEntries(
    absl::string_view tenant, absl::string_view sequence,
    absl::string_view recipient, const domain::Recipient& r,
    const domain::Sequence& definition, std::string* scratch,
    absl::FunctionRef<void(absl::string_view key, absl::string_view value)>
        add) {
  if (!r.exists || r.deleted) return;
  const absl::string_view status = layout::StatusKeyView(r.status);
  scratch->clear();
  layout::AppendStatusIndexKey(scratch, tenant, sequence, status, recipient);
  add(*scratch, "");
  scratch->clear();
  layout::AppendRecipientListKey(scratch, tenant, sequence, recipient);
  add(*scratch, status);
  if (std::optional<domain::ReportContribution> contribution =
          domain::ContributionOf(r)) {
    scratch->clear();
    layout::AppendReportEntryKey(scratch, tenant, sequence, recipient);
    add(*scratch, EncodeReportContribution(*contribution));
  }

  const domain::RecipientSchedule schedule = domain::Schedule(r, definition);
  switch (schedule.kind) {
    case domain::ScheduleKind::kNone:
      break;
    case domain::ScheduleKind::kDue:
      scratch->clear();
      layout::AppendDueKey(scratch, schedule.at, tenant, sequence, recipient);
      add(*scratch, "");
      break;
    case domain::ScheduleKind::kReadyForDelivery: {
      const std::string_view channel = domain::StepTypeName(schedule.channel);
      scratch->clear();
      layout::AppendReadyKey(scratch, tenant,
                             absl::string_view(channel.data(), channel.size()),
                             schedule.at, sequence, recipient);
      add(*scratch, "");
      break;
    }
  }
}

std::map<std::string, std::string> Repository::ProjectionEntries(
    absl::string_view tenant, absl::string_view sequence,
    absl::string_view recipient, const domain::Recipient& r,
    const domain::Sequence& definition) {
  std::map<std::string, std::string> entries;
  std::string scratch;
  AddProjectionEntries(tenant, sequence, recipient, r, definition, &scratch,
                       [&](absl::string_view key, absl::string_view value) {
                         entries[std::string(key)] = std::string(value);
                       });
  return entries;
}

std::vector<eventstore::IndexWrite> Repository::ProjectionWrites(
    absl::string_view tenant, absl::string_view sequence,
    absl::string_view recipient, const domain::Recipient& before,
    const domain::Recipient& after, const domain::Sequence& definition) {
  const auto old_entries =
      ProjectionEntries(tenant, sequence, recipient, before, definition);
  const auto new_entries =
      ProjectionEntries(tenant, sequence, recipient, after, definition);
  std::vector<eventstore::IndexWrite> writes;
  for (const auto& [key, value] : old_entries) {
    if (new_entries.count(key) == 0) writes.push_back({key, std::nullopt});
  }
  for (const auto& [key, value] : new_entries) {
    auto it = old_entries.find(key);
    if (it == old_entries.end() || it->second != value) {
      writes.push_back({key, value});
    }
  }
  return writes;
}

}  // namespace sequencer::app
