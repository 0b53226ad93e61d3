#include "app/use_cases/kept_deletions.h"

#include <string>
#include <vector>

#include "app/pipeline/command_runner.h"
#include "app/pipeline/recipient_erasure.h"
#include "app/status_macros.h"
#include "app/storage/event_codec.h"
#include "app/storage/store_layout.h"
#include "sequencer/v1/events.pb.h"

namespace sequencer::app {
namespace {

// A recipient stream whose last event is Deleted, and that event.
struct KeptDeletion {
  std::string stream;
  std::string deleted;  // the stored Deleted event
};

absl::Status EraseChunk(const AppDeps& deps,
                        const std::vector<KeptDeletion>& chunk) {
  eventstore::CommitBatch batch;
  for (const KeptDeletion& kept : chunk) {
    std::optional<layout::KeyRef> ref = layout::ParseStream(kept.stream);
    if (!ref.has_value() || ref->recipient_id.empty()) continue;
    SEQ_ASSIGN_OR_RETURN(domain::Recipient before,
                         deps.repository->LoadRecipient(
                             ref->tenant, ref->sequence_id, ref->recipient_id));
    SEQ_ASSIGN_OR_RETURN(
        domain::Sequence sequence,
        deps.repository->LoadSequence(ref->tenant, ref->sequence_id));
    v1::Event proto;
    if (!proto.ParseFromString(kept.deleted)) {
      return absl::DataLossError(
          absl::StrCat("the last event of ", kept.stream, " does not parse"));
    }
    SEQ_ASSIGN_OR_RETURN(domain::RecipientEvent deleted,
                         RecipientEventFromProto(proto));
    SEQ_RETURN_IF_ERROR(AddRecipientErasure(*deps.repository, ref->tenant,
                                            ref->sequence_id, ref->recipient_id,
                                            before, deleted, sequence, &batch));
  }
  if (batch.erasures.empty()) return absl::OkStatus();
  return CommandRunner(deps).Commit(batch);
}

}  // namespace

absl::StatusOr<uint64_t> EraseKeptDeletions(const AppDeps& deps) {
  eventstore::EventStore& store = deps.repository->store();
  SEQ_ASSIGN_OR_RETURN(std::optional<std::string> done,
                       store.GetIndex(kKeptDeletionsErasedKey));
  if (done.has_value()) return 0;

  std::vector<KeptDeletion> found;
  std::string stream;
  std::string last_type;
  std::string last_data;
  auto finish_stream = [&] {
    if (!stream.empty() && last_type == "Deleted") {
      found.push_back(KeptDeletion{stream, last_data});
    }
  };
  SEQ_RETURN_IF_ERROR(store.ScanStreams(
      layout::kRecipientStreamPrefix,
      [&](const eventstore::StoredEventView& event) -> absl::Status {
        if (event.stream != stream) {
          finish_stream();
          stream.assign(event.stream.data(), event.stream.size());
        }
        last_type.assign(event.type.data(), event.type.size());
        if (last_type == "Deleted") {
          last_data.assign(event.data.data(), event.data.size());
        }
        return absl::OkStatus();
      }));
  finish_stream();

  for (size_t i = 0; i < found.size(); i += kKeptDeletionsPerCommit) {
    const size_t end = std::min(
        found.size(), i + static_cast<size_t>(kKeptDeletionsPerCommit));
    SEQ_RETURN_IF_ERROR(EraseChunk(
        deps,
        std::vector<KeptDeletion>(found.begin() + i, found.begin() + end)));
  }
  eventstore::CommitBatch marker;
  marker.index_writes.push_back({kKeptDeletionsErasedKey, "1"});
  SEQ_RETURN_IF_ERROR(CommandRunner(deps).Commit(marker));
  return found.size();
}

}  // namespace sequencer::app
