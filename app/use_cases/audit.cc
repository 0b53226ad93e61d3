#include "app/use_cases/audit.h"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "app/pipeline/command_runner.h"
#include "app/runtime/read_deadline.h"
#include "app/status_macros.h"
#include "app/storage/event_codec.h"
#include "app/storage/store_layout.h"

namespace sequencer::app {
namespace {

std::string Describe(const AsOfRequest& request) {
  return absl::StrCat("recipient \"", request.recipient_id,
                      "\" not found in sequence \"", request.sequence_id, "\"");
}

// The sequence's events folded while `include(position, recorded_at)`.
template <typename Include>
absl::StatusOr<domain::Sequence> FoldSequence(const AppDeps& deps,
                                              const CallContext& call,
                                              absl::string_view sequence_id,
                                              ReadDeadline& deadline,
                                              Include include) {
  SEQ_ASSIGN_OR_RETURN(std::vector<eventstore::StoredEvent> events,
                       deps.repository->store().ReadStream(
                           layout::SequenceStream(call.tenant_id, sequence_id),
                           1, std::numeric_limits<size_t>::max()));
  domain::Sequence sequence;
  for (const eventstore::StoredEvent& stored : events) {
    SEQ_RETURN_IF_ERROR(deadline.Tick());
    v1::Event proto;
    if (!proto.ParseFromString(stored.data)) {
      return absl::DataLossError(absl::StrCat(
          "event ", stored.version, " of ", stored.stream, " does not parse"));
    }
    if (!include(stored.position,
                 FromProtoTime(proto.metadata().occurred_at())))
      break;
    SEQ_ASSIGN_OR_RETURN(domain::SequenceEvent event,
                         SequenceEventFromProto(proto));
    sequence = domain::Evolve(std::move(sequence), event);
  }
  return sequence;
}

}  // namespace

absl::StatusOr<RecipientAsOf> GetRecipientAsOf(const AppDeps& deps,
                                               const CallContext& call,
                                               const AsOfRequest& request) {
  SEQ_RETURN_IF_ERROR(
      ValidateRecipientRef(request.sequence_id, request.recipient_id));
  if (request.as_of.has_value() && request.version.has_value()) {
    return absl::InvalidArgumentError(
        "version: give either as_of or version, not both");
  }
  if (request.version.has_value() && *request.version == 0) {
    return absl::InvalidArgumentError("version: must be at least 1");
  }
  // The sequence must exist now (an unknown one answers as GetRecipient).
  SEQ_RETURN_IF_ERROR(
      deps.repository->GetSequence(call.tenant_id, request.sequence_id)
          .status());
  SEQ_ASSIGN_OR_RETURN(auto events, deps.repository->ReadRecipientEvents(
                                        call.tenant_id, request.sequence_id,
                                        request.recipient_id));
  RecipientAsOf out;
  domain::Recipient whole;
  uint64_t last_position = 0;
  bool folding = true;
  ReadDeadline deadline(call, "events");
  for (const auto& [stored, proto] : events) {
    SEQ_RETURN_IF_ERROR(deadline.Tick());
    SEQ_ASSIGN_OR_RETURN(domain::RecipientEvent event,
                         RecipientEventFromProto(proto));
    const absl::Time at = FromProtoTime(proto.metadata().occurred_at());
    if (folding && request.version.has_value() &&
        stored.version > *request.version) {
      folding = false;
    }
    if (folding && request.as_of.has_value() && at > *request.as_of) {
      folding = false;
    }
    if (folding) {
      out.recipient = domain::Evolve(std::move(out.recipient), event);
      out.version = stored.version;
      out.last_event_at = at;
      last_position = stored.position;
    }
    whole = domain::Evolve(std::move(whole), event);
  }
  if (!whole.exists || whole.deleted) {
    return absl::NotFoundError(Describe(request));
  }
  if (request.version.has_value() && out.version < *request.version) {
    return absl::NotFoundError(absl::StrCat(
        "version: recipient \"", request.recipient_id, "\" has no version ",
        *request.version, " (its version is ", whole.version, ")"));
  }
  if (out.version == 0) {
    return absl::NotFoundError(
        absl::StrCat("recipient \"", request.recipient_id, "\" of sequence \"",
                     request.sequence_id, "\" had no event at or before ",
                     absl::FormatTime(absl::RFC3339_full, *request.as_of,
                                      absl::UTCTimeZone())));
  }
  if (request.as_of.has_value()) {
    out.as_of = *request.as_of;
    const absl::Time as_of = *request.as_of;
    SEQ_ASSIGN_OR_RETURN(
        out.sequence,
        FoldSequence(deps, call, request.sequence_id, deadline,
                     [as_of](uint64_t, absl::Time at) { return at <= as_of; }));
  } else {
    out.as_of = out.last_event_at;
    SEQ_ASSIGN_OR_RETURN(
        out.sequence,
        FoldSequence(deps, call, request.sequence_id, deadline,
                     [last_position](uint64_t position, absl::Time) {
                       return position <= last_position;
                     }));
  }
  out.steps = domain::DescribeSteps(out.recipient, out.sequence, out.as_of);
  return out;
}

absl::StatusOr<EventPage> ReadEvents(const AppDeps& deps,
                                     const CallContext& call,
                                     uint64_t from_position, int limit) {
  if (limit < 0 || limit > kMaxEventPage) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limit: must be between 0 and ", kMaxEventPage, ", got ", limit));
  }
  if (limit == 0) limit = kMaxEventPage;
  const eventstore::EventStore& store = deps.repository->store();
  EventPage page;
  page.last_position = store.LastPosition();
  uint64_t position = std::max<uint64_t>(1, from_position);
  page.next_position = position;
  uint64_t scanned = 0;
  size_t bytes = 0;
  bool reached_end = false;
  ReadDeadline deadline(call, "events");
  auto full = [&] {
    return page.events.size() >= static_cast<size_t>(limit) ||
           bytes >= kMaxEventPageBytes;
  };
  while (!full() && scanned < kMaxEventsScanned) {
    const size_t chunk = static_cast<size_t>(
        std::min<uint64_t>(kEventReadChunk, kMaxEventsScanned - scanned));
    SEQ_ASSIGN_OR_RETURN(std::vector<eventstore::StoredEvent> chunk_events,
                         store.ReadAll(position, chunk));
    if (chunk_events.empty()) {
      reached_end = true;
      break;
    }
    for (eventstore::StoredEvent& stored : chunk_events) {
      SEQ_RETURN_IF_ERROR(deadline.Tick());
      ++scanned;
      page.next_position = stored.position + 1;
      position = page.next_position;
      const std::optional<layout::KeyRefView> ref =
          layout::ParseStreamView(stored.stream);
      if (ref.has_value() && ref->tenant == call.tenant_id) {
        LoggedEvent& logged = page.events.emplace_back();
        if (!logged.event.ParseFromString(stored.data)) {
          return absl::DataLossError(absl::StrCat(
              "event at position ", stored.position, " does not parse"));
        }
        logged.sequence_id = std::string(ref->sequence_id);
        logged.recipient_id = std::string(ref->recipient_id);
        bytes += stored.data.size();
        logged.stored = std::move(stored);
        if (full()) break;
      }
    }
    if (chunk_events.size() < chunk && !full()) {
      reached_end = true;
      break;
    }
  }
  // Positions up to last_position that the store did not return are holes
  // (erased events): the next page starts past them.
  if (reached_end) {
    page.next_position = std::max(page.next_position, page.last_position + 1);
  }
  return page;
}

}  // namespace sequencer::app
