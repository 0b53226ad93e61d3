#include "eventstore/in_memory_derived_state.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sequencer::eventstore {

absl::Status InMemoryDerivedState::Apply(uint64_t log_position,
                                         const CommitRecord& record) {
  absl::MutexLock lock(&apply_mu_);
  const uint64_t applied = applied_.load(std::memory_order_relaxed);
  if (absl::Status next = CheckNextRecord(log_position, applied, record);
      !next.ok()) {
    return next;
  }
  if (!record.erasures.empty() || !record.erased_appends.empty()) {
    return absl::UnimplementedError(absl::StrCat(
        "commit record ", log_position,
        " erases streams, which InMemoryDerivedState cannot apply yet"));
  }
  absl::StatusOr<CommitResult> applied_batch =
      events_.Commit(CommitBatch{record.appends, record.index_writes});
  if (!applied_batch.ok()) {
    return absl::InternalError(
        absl::StrCat("commit record ", log_position,
                     " does not apply to the derived state: ",
                     applied_batch.status().message()));
  }
  applied_.store(log_position, std::memory_order_release);
  return absl::OkStatus();
}

uint64_t InMemoryDerivedState::AppliedPosition() const {
  return applied_.load(std::memory_order_acquire);
}

}  // namespace sequencer::eventstore
