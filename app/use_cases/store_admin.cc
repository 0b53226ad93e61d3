#include "app/use_cases/store_admin.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "app/runtime/read_deadline.h"
#include "app/status_macros.h"

namespace sequencer::app {
namespace {

std::string ScratchDirectory(const StoreCopies& copies) {
  if (!copies.scratch_directory.empty()) return copies.scratch_directory;
  const char* tmp = std::getenv("TMPDIR");
  return tmp != nullptr && tmp[0] == '/' ? tmp : "/tmp";
}

// Removes the directory tree when it goes out of scope.
class RemoveOnExit {
 public:
  explicit RemoveOnExit(std::string path) : path_(std::move(path)) {}
  ~RemoveOnExit() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

 private:
  std::string path_;
};

}  // namespace

absl::StatusOr<BackupResult> Backup(eventstore::EventStore& store,
                                    const StoreCopies& copies,
                                    const std::string& directory,
                                    const StopCheck& stopped) {
  if (stopped && stopped()) {
    return absl::DeadlineExceededError(
        "the call's deadline passed before the backup began; nothing was "
        "written");
  }
  SEQ_RETURN_IF_ERROR(store.Checkpoint(directory));
  if (stopped && stopped()) {
    std::error_code ignored;
    std::filesystem::remove_all(directory, ignored);
    return absl::DeadlineExceededError(
        "the call's deadline passed while the backup was made; the copy was "
        "removed");
  }
  BackupResult result;
  result.directory = directory;
  if (copies.open_read_only) {
    auto copy = copies.open_read_only(directory);
    if (copy.ok()) result.last_position = (*copy)->LastPosition();
  }
  return result;
}

absl::StatusOr<VerifyResult> VerifyStore(
    eventstore::EventStore& store, const StoreCopies& copies,
    const ProjectionVerifier::Options& options) {
  if (!copies.open_read_only) {
    return absl::UnimplementedError(
        "this server cannot open a snapshot of its store to verify it");
  }
  static std::atomic<uint64_t> counter{0};
  const std::string directory = absl::StrCat(
      ScratchDirectory(copies), "/sequencer-verify-", getpid(), "-",
      absl::ToUnixNanos(absl::Now()), "-", counter.fetch_add(1));
  RemoveOnExit remove(directory);
  SEQ_RETURN_IF_ERROR(store.Checkpoint(directory));
  SEQ_RETURN_IF_ERROR(ReadDeadline(options.stopped, "events").Check());
  SEQ_ASSIGN_OR_RETURN(std::unique_ptr<eventstore::EventStore> snapshot,
                       copies.open_read_only(directory));
  ProjectionVerifier verifier(snapshot.get(), options);
  return verifier.Verify();
}

}  // namespace sequencer::app
