// In-memory lower bounds ("fronts") of the store's queue indexes: the
// scheduler's due/ index and each delivery queue ready/<tenant>/<CHANNEL>/
// (app/storage/store_layout.h). An entry of a queue is named here by its key
// without the queue's prefix ("<time>/..."; the time is layout::TimeKey, so
// key order is time order). Keys hold only ids ([A-Za-z0-9._:@+-]), '/' and
// hex digits.
//
// Why: entries leave a queue from its front (a step made due, a send begun),
// and RocksDB keeps a deleted key as a tombstone until compaction. A scan
// from the start of a prefix pays for every one of them; a scan that seeks
// to the front pays for none. The front is a lower bound, not always the
// exact first entry: deleting an entry never moves it, so only the commit
// path has to report additions (Added), and scans move it forward
// (EndScan).
//
// Invariant: every live entry of a queue is >= the queue's front. A queue
// not yet scanned since start-up has the front "" (scan from the start), so
// a restart rebuilds each front with its first scan, which pays for the
// tombstones once.
//
// Concurrent scans of one queue are allowed. Each one registers before it
// reads the store (BeginScan) and is told of every addition made while it
// runs, so its result (EndScan) cannot move the front past an entry added
// behind the point where it started reading. Additions must be reported
// after their commit is durable and visible (CommandRunner::Commit does it).
// Thread-safe.

#ifndef SEQUENCER_APP_RUNTIME_QUEUE_FRONTS_H_
#define SEQUENCER_APP_RUNTIME_QUEUE_FRONTS_H_

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace sequencer::app {

class QueueFronts {
 public:
  // An entry greater than every real one: "nothing is queued".
  static constexpr char kEmpty[] = "~";

  // A scan in progress, from BeginScan to EndScan.
  struct Scan {
    std::string queue;
    // The front when the scan began ("" unknown, kEmpty none queued).
    std::string front;
    uint64_t id = 0;
  };

  // The EventStore::ScanIndex `start_after` that reads `queue` from `front`
  // on, `front` included: "" for an unknown front.
  static std::string StartAfter(absl::string_view queue,
                                absl::string_view front);

  // Registers a scan of `queue` (a prefix ending in '/').
  Scan BeginScan(const std::string& queue);

  // Ends `scan`. `first_live` is the first entry the scan found still in the
  // queue at or after its start (kEmpty when it found none to the end of the
  // queue). The front becomes at least
  // min(first_live, earliest addition since BeginScan). Every scan that
  // began must end (also on error: then pass "" and the front stays).
  void EndScan(const Scan& scan, absl::string_view first_live);

  // A commit made `entry` live in `queue`: lowers the front to it if
  // earlier. Returns true when whoever waits for the queue must look again:
  // `entry` is earlier than the queue's watch (see Watch), or the watch's
  // time is at or before `now_key` (layout::TimeKey of the clock's now: time
  // moved past it without a commit, e.g. a clock set by hand).
  bool Added(absl::string_view queue, absl::string_view entry,
             absl::string_view now_key = "");

  // Sets the queue's watch to its current front and returns it: from now
  // on, Added answers true only for an entry earlier than that. Until the
  // first Watch, and after Unwatch, every addition answers true.
  std::string Watch(const std::string& queue);
  void Unwatch(const std::string& queue);

  // The current front of `queue` ("" when not known).
  std::string Front(const std::string& queue);

 private:
  struct State {
    std::string front;  // "" = unknown: from the start
    std::string watch = kEmpty;
    bool watching = false;
    // Active scans: id -> earliest time key added since the scan began.
    std::map<uint64_t, std::string> scans;
  };

  absl::Mutex mu_;
  std::unordered_map<std::string, State> queues_ ABSL_GUARDED_BY(mu_);
  uint64_t next_scan_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_RUNTIME_QUEUE_FRONTS_H_
