// Operator calls on the whole store, while the service runs: a backup (a
// consistent copy, EventStore::Checkpoint) and the projection check of
// `sequencerctl verify` (app/storage/projection_verifier.h) on a consistent
// snapshot. Not tenant-scoped. Thread-safe (calls may run concurrently with
// each other and with commits).

#ifndef SEQUENCER_APP_USE_CASES_STORE_ADMIN_H_
#define SEQUENCER_APP_USE_CASES_STORE_ADMIN_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "app/storage/projection_verifier.h"
#include "eventstore/event_store.h"

namespace sequencer::app {

// What the operator calls need beyond the store, from the composition root
// (server/main.cc), which knows what kind of store it runs.
struct StoreCopies {
  // Opens, read-only, a copy that EventStore::Checkpoint made. Unset: Backup
  // cannot report the copy's position and VerifyStore is UNIMPLEMENTED.
  std::function<absl::StatusOr<std::unique_ptr<eventstore::EventStore>>(
      const std::string& directory)>
      open_read_only;
  // The directory VerifyStore makes its temporary checkpoints in: on the
  // data directory's file system, so that they are hard links, not copies.
  // Empty: the system's temporary directory.
  std::string scratch_directory;
};

struct BackupResult {
  std::string directory;
  // The last global position the copy holds (0 when it cannot be opened).
  uint64_t last_position = 0;
};

// EventStore::Checkpoint into `directory` (its errors), then the copy's last
// position. `stopped` (app/runtime/read_deadline.h; unset: never) is asked
// before the checkpoint, which cannot be interrupted, and after it: when the
// caller has stopped waiting by then, the copy is removed again and the
// answer is DEADLINE_EXCEEDED (nobody would learn that it exists).
absl::StatusOr<BackupResult> Backup(eventstore::EventStore& store,
                                    const StoreCopies& copies,
                                    const std::string& directory,
                                    const StopCheck& stopped = {});

// Checkpoints the store into a new directory under
// copies.scratch_directory, opens it read-only, runs ProjectionVerifier on
// it and removes it (also on error). Differences are findings in the
// result; errors only when the snapshot cannot be made or read, and
// DEADLINE_EXCEEDED when options.stopped says the caller stopped waiting
// (asked after the checkpoint and during the verification).
absl::StatusOr<VerifyResult> VerifyStore(
    eventstore::EventStore& store, const StoreCopies& copies,
    const ProjectionVerifier::Options& options);

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_USE_CASES_STORE_ADMIN_H_
