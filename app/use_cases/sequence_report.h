// The sequence report (SequenceService/GetSequenceReport): the sum of the
// sequence's rp/ entries, one per recipient (app/storage/store_layout.h),
// which Repository::ProjectionEntries keeps in the commit of every recipient
// change and sequencerctl verify rebuilds from the log. The rules of what is
// counted are in domain/report.h. Thread-safe.
//
// Cost: one prefix scan of the sequence's rp/ entries (EventStore::VisitIndex)
// and a small decode per recipient; it grows with the sequence's recipients,
// not with their history. No write path touches a shared counter.

#ifndef SEQUENCER_APP_USE_CASES_SEQUENCE_REPORT_H_
#define SEQUENCER_APP_USE_CASES_SEQUENCE_REPORT_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "app/app_deps.h"
#include "app/caller.h"
#include "domain/model.h"
#include "domain/report.h"
#include "eventstore/event_store.h"

namespace sequencer::app {

struct SequenceReportResult {
  domain::Sequence sequence;
  domain::SequenceReport report;
};

// INVALID_ARGUMENT "sequence_id: ..." for a bad id; NOT_FOUND for a sequence
// the caller's tenant does not have; DATA_LOSS naming the key for an rp/
// entry that does not decode.
absl::StatusOr<SequenceReportResult> GetSequenceReport(
    const AppDeps& deps, const CallContext& call,
    absl::string_view sequence_id);

struct ReportBackfillResult {
  // False when the marker (layout::kReportBackfillMarker) said it was done.
  bool ran = false;
  // Recipient streams folded and rp/ entries written by this run.
  uint64_t recipients = 0;
  uint64_t entries_written = 0;
};

// Data directories made before the report existed have no rp/ entries: this
// folds every recipient stream (one ordered pass over the rcp/ streams) and
// writes each listed recipient's entry, `batch_entries` per commit. Each
// commit also records in the marker the stream to continue from, so an
// interrupted run continues there; the last one marks it "done", and later
// calls return at once. Must run before anything else writes (sequencerd runs
// it at start-up, before serving). A stream that does not decode is left out
// (sequencerctl verify reports it); store errors are returned.
absl::StatusOr<ReportBackfillResult> BackfillReportEntries(
    eventstore::EventStore* store, size_t batch_entries = 1000);

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_USE_CASES_SEQUENCE_REPORT_H_
