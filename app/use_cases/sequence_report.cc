#include "app/use_cases/sequence_report.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "app/runtime/read_deadline.h"
#include "app/status_macros.h"
#include "app/storage/event_codec.h"
#include "app/storage/store_layout.h"
#include "domain/recipient.h"
#include "domain/sequence.h"
#include "sequencer/v1/events.pb.h"

namespace sequencer::app {
namespace {

constexpr char kBackfillDone[] = "done";
constexpr char kBackfillNext[] = "next:";

// The first name after every recipient stream ('/' + 1 is '0').
constexpr char kRecipientStreamsEnd[] = "rcp0";

}  // namespace

absl::StatusOr<SequenceReportResult> GetSequenceReport(
    const AppDeps& deps, const CallContext& call,
    absl::string_view sequence_id) {
  SEQ_RETURN_IF_ERROR(domain::ValidateId("sequence_id", sequence_id));
  SequenceReportResult out;
  SEQ_ASSIGN_OR_RETURN(
      out.sequence, deps.repository->GetSequence(call.tenant_id, sequence_id));
  out.report = domain::EmptyReport(static_cast<int>(out.sequence.steps.size()));
  ReadDeadline deadline(call, "report entries");
  SEQ_RETURN_IF_ERROR(deps.repository->store().VisitIndex(
      layout::ReportPrefix(call.tenant_id, sequence_id), "",
      [&](absl::string_view key, absl::string_view value) -> absl::Status {
        SEQ_RETURN_IF_ERROR(deadline.Tick());
        auto contribution = DecodeReportContribution(value);
        if (!contribution.ok()) {
          return absl::DataLossError(absl::StrCat(
              "index entry ", key, ": ", contribution.status().message()));
        }
        domain::AddContribution(*contribution, &out.report);
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<ReportBackfillResult> BackfillReportEntries(
    eventstore::EventStore* store, size_t batch_entries) {
  ReportBackfillResult result;
  std::string from = layout::kRecipientStreamPrefix;
  SEQ_ASSIGN_OR_RETURN(std::optional<std::string> marker,
                       store->GetIndex(layout::kReportBackfillMarker));
  if (marker.has_value()) {
    if (*marker == kBackfillDone) return result;
    absl::string_view next = *marker;
    if (absl::ConsumePrefix(&next, kBackfillNext) && next > from) {
      from = std::string(next);
    }
  }
  result.ran = true;
  if (batch_entries == 0) batch_entries = 1;

  eventstore::CommitBatch batch;
  // The stream being folded, and its state (nullopt: it does not decode).
  std::string current;
  std::optional<domain::Recipient> state;
  v1::Event proto;

  auto finish_stream = [&]() {
    if (current.empty()) return;
    ++result.recipients;
    if (!state.has_value()) return;
    std::optional<domain::ReportContribution> contribution =
        domain::ContributionOf(*state);
    std::optional<layout::KeyRef> ref = layout::ParseStream(current);
    if (!contribution.has_value() || !ref.has_value()) return;
    batch.index_writes.push_back(
        {layout::ReportEntryKey(ref->tenant, ref->sequence_id,
                                ref->recipient_id),
         EncodeReportContribution(*contribution)});
  };
  // Commits the entries so far, recording `next` as where to continue.
  auto commit = [&](const std::string& next_marker) -> absl::Status {
    result.entries_written += batch.index_writes.size();
    batch.index_writes.push_back({layout::kReportBackfillMarker, next_marker});
    absl::Status committed = store->Commit(batch).status();
    batch.index_writes.clear();
    return committed;
  };

  SEQ_RETURN_IF_ERROR(store->ScanStreamRange(
      from, kRecipientStreamsEnd,
      [&](const eventstore::StoredEventView& event) -> absl::Status {
        if (event.stream != current) {
          finish_stream();
          if (batch.index_writes.size() >= batch_entries) {
            // Everything before this stream is written.
            SEQ_RETURN_IF_ERROR(
                commit(absl::StrCat(kBackfillNext, event.stream)));
          }
          current = std::string(event.stream);
          state.emplace();
          if (!layout::ParseStreamView(current).has_value()) state.reset();
        }
        if (!state.has_value()) return absl::OkStatus();
        if (!proto.ParseFromArray(event.data.data(),
                                  static_cast<int>(event.data.size()))) {
          state.reset();
          return absl::OkStatus();
        }
        auto decoded = RecipientEventFromProto(proto);
        if (!decoded.ok()) {
          state.reset();
          return absl::OkStatus();
        }
        *state = domain::Evolve(std::move(*state), *decoded);
        return absl::OkStatus();
      }));
  finish_stream();
  SEQ_RETURN_IF_ERROR(commit(kBackfillDone));
  return result;
}

}  // namespace sequencer::app
