#include "app/pipeline/recipient_erasure.h"

#include <set>
#include <string>

#include "absl/strings/match.h"
#include "app/status_macros.h"
#include "app/storage/store_layout.h"
#include "sequencer/v1/events.pb.h"

namespace sequencer::app {

bool RecordMayHoldOneRecipient(absl::string_view method) {
  if (absl::StartsWith(method, "/sequencer.v1.SequenceService/")) return false;
  for (absl::string_view many :
       {"/sequencer.v1.RecipientService/EnrollRecipients",
        "/sequencer.v1.RecipientService/BulkAction",
        "/sequencer.v1.RecipientService/DeleteRecipient"}) {
    if (method == many) return false;
  }
  return true;
}

absl::Status AddRecipientErasure(
    const Repository& repository, absl::string_view tenant,
    absl::string_view sequence_id, absl::string_view recipient_id,
    const domain::Recipient& before, const domain::RecipientEvent& deleted,
    const domain::Sequence& sequence, eventstore::CommitBatch* batch) {
  eventstore::StreamErasure erasure;
  erasure.stream = layout::RecipientStream(tenant, sequence_id, recipient_id);
  erasure.expected_version = static_cast<int64_t>(before.version);
  for (auto& [key, value] : Repository::ProjectionEntries(
           tenant, sequence_id, recipient_id, before, sequence)) {
    erasure.forget_keys.push_back(key);
  }
  SEQ_ASSIGN_OR_RETURN(auto events, repository.ReadRecipientEvents(
                                        tenant, sequence_id, recipient_id));
  std::set<std::string> request_ids;
  for (const auto& [stored, event] : events) {
    if (!event.metadata().request_id().empty()) {
      request_ids.insert(event.metadata().request_id());
    }
  }
  for (const std::string& request_id : request_ids) {
    std::string key = layout::IdempotencyKey(tenant, request_id);
    SEQ_ASSIGN_OR_RETURN(std::optional<std::string> stored,
                         repository.store().GetIndex(key));
    if (!stored.has_value()) continue;
    v1::IdempotencyRecord record;
    // A record that does not parse is forgotten too: it cannot be told apart.
    if (record.ParseFromString(*stored) &&
        !RecordMayHoldOneRecipient(record.method())) {
      continue;
    }
    erasure.forget_keys.push_back(std::move(key));
  }
  batch->erasures.push_back(std::move(erasure));
  batch->appends.push_back(eventstore::StreamAppend{
      layout::DeletionStream(tenant, sequence_id, recipient_id),
      eventstore::kAnyVersion,
      {Repository::Encode(deleted)}});
  return absl::OkStatus();
}

}  // namespace sequencer::app
