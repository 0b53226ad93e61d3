// Whole-log replay that verifies the stored projections (the audit check of
// product.md: "rebuilding them from the log gives exactly what the service
// serves").
//
// Verify() reads the entire log once, stream after stream (a sequential read
// of the store with readahead, no lookup per event): the sequence streams
// first (EventStore::ScanStreams), then the other streams, split into
// Options::threads ranges of about equal size (EventStore::StreamSplitPoints,
// ScanStreamRange) scanned on their own threads. It checks that
//   - positions run 1..LastPosition() without gaps or duplicates, and each
//     stream's versions run 1, 2, 3, ... in position order (a stream missing
//     a version is reported once and not folded);
//   - every event parses as a sequencer.v1.Event, its payload fits its stream
//     (sequence events in seq/ streams, recipient events in rcp/ streams), its
//     stored type equals the payload's name, and its metadata names the
//     stream's tenant;
//   - every stream name is one of app/storage/store_layout.h's, and every
//     recipient stream belongs to an existing sequence.
// Each event is parsed once and folded as it is read, with the code the
// service reads with (codec + domain::Evolve, as Repository does). From the
// folded states it derives the index entries the service must have written
// (sq/ per sequence, and Repository::AddProjectionEntries, the entries of
// ProjectionEntries, per recipient: rl/, rs/, the scheduler's due/, the
// delivery queue's ready/ and the report contribution rp/; deleted
// recipients have none) and compares them
// with the stored entries under those prefixes (EventStore::VisitIndex, one
// prefix per thread): an expected entry that is absent is "missing", a stored
// entry nobody expects is "unexpected", and a stored entry with another value
// is "different". Idempotency records (idem/) are counted, not verified.
// Findings about positions (gaps) are listed before findings about single
// streams, then recipients of no sequence, then the indexes by prefix (sq/,
// rl/, rs/, due/, ready/, rp/). The result does not depend on the number of
// threads: ranges that turn out to share a position are scanned again as
// one, so that duplicates are reported where a single scan meets them.
//
// Memory: the expected index entries (their bytes, in one buffer per prefix
// and range), the folded state of each sequence, one folded recipient per
// thread at a time, and one bit per log position per range: it grows with
// recipients, and only by a bit per event with history.
//
// The store must be quiescent (no concurrent commits; e.g. sequencerctl opens
// the RocksDB directory while the server is stopped, and a running server
// verifies a checkpoint of itself, app/use_cases/store_admin.h): reads are
// not one snapshot, so a concurrent commit could show up as a discrepancy.
//
// Discrepancies are findings, not errors: Verify() returns an error status
// only when the store cannot be read. Thread-compatible.

#ifndef SEQUENCER_APP_STORAGE_PROJECTION_VERIFIER_H_
#define SEQUENCER_APP_STORAGE_PROJECTION_VERIFIER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "app/caller.h"
#include "eventstore/event_store.h"

namespace sequencer::app {

struct VerifyResult {
  // LastPosition() when the replay started, and the events actually read.
  uint64_t last_position = 0;
  uint64_t events = 0;
  uint64_t sequences = 0;
  // Recipients that are listed (enrolled and not deleted), and deleted ones.
  uint64_t recipients = 0;
  uint64_t deleted_recipients = 0;
  // Tombstones of erased recipients (layout::DeletionStream), and the
  // erased positions (EventStore::VisitErasedPositions) up to last_position.
  uint64_t tombstones = 0;
  uint64_t erased_events = 0;
  // Listed recipients by status name ("RECIPIENT_STATUS_PAUSED", ...).
  std::map<std::string, uint64_t> recipients_by_status;
  // Stored entries compared under sq/, rl/, rs/, due/, ready/ and rp/;
  // idem/ entries seen.
  uint64_t index_entries = 0;
  uint64_t idempotency_records = 0;

  // Every discrepancy found, and the first Options::max_reported of them as
  // one human-readable line each (e.g. `missing index entry
  // "rs/t/s/PAUSED/r1"`).
  uint64_t discrepancy_count = 0;
  std::vector<std::string> discrepancies;

  bool ok() const { return discrepancy_count == 0; }
  // A multi-line report: the counts, then the listed discrepancies.
  std::string Summary() const;
};

class ProjectionVerifier {
 public:
  struct Options {
    // Upper bound on VerifyResult::discrepancies (the count is exact).
    size_t max_reported = 100;
    // Threads that scan the log and compare the indexes (this one
    // included); 1 does everything on the calling thread. The result is the
    // same for any number.
    int threads = 2;
    // A listing prefix with at least this many expected entries is compared
    // in one key range per thread.
    size_t split_prefix_at = 10000;
    // Asked every kDeadlineCheckInterval events of the log scan (on each
    // scanning thread) and before the index comparison: true ends Verify
    // with DEADLINE_EXCEEDED (app/runtime/read_deadline.h). Unset: never.
    StopCheck stopped = nullptr;
  };

  // `store` must outlive the verifier.
  explicit ProjectionVerifier(eventstore::EventStore* store)
      : ProjectionVerifier(store, Options()) {}
  ProjectionVerifier(eventstore::EventStore* store, Options options);

  // Replays the log and compares; see the file comment. Errors only when a
  // read fails (the store's status).
  absl::StatusOr<VerifyResult> Verify() const;

 private:
  eventstore::EventStore& store_;
  Options options_;
};

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_STORAGE_PROJECTION_VERIFIER_H_
