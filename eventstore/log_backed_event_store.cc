#include "eventstore/log_backed_event_store.h"

#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "eventstore/batch_validation.h"

namespace sequencer::eventstore {
namespace {

// Records read per Read call while catching up.
constexpr size_t kCatchUpChunk = 256;

}  // namespace

absl::StatusOr<std::unique_ptr<LogBackedEventStore>> LogBackedEventStore::Open(
    CommitLog* log, DerivedState* state) {
  auto store =
      std::unique_ptr<LogBackedEventStore>(new LogBackedEventStore(log, state));
  absl::Status caught_up = store->CatchUp();
  if (!caught_up.ok()) return caught_up;
  return store;
}

absl::Status LogBackedEventStore::CatchUp() {
  absl::MutexLock lock(&commit_mu_);
  return CatchUpLocked();
}

absl::Status LogBackedEventStore::CatchUpLocked() {
  while (true) {
    absl::StatusOr<std::vector<LoggedRecord>> records =
        log_->Read(state_->AppliedPosition() + 1, kCatchUpChunk);
    if (!records.ok()) return records.status();
    if (records->empty()) return absl::OkStatus();
    for (const LoggedRecord& logged : *records) {
      absl::Status applied = state_->Apply(logged.position, logged.record);
      if (!applied.ok()) {
        return ApplyFailed(applied,
                           absl::StrCat("catching up with the commit log, "
                                        "record ",
                                        logged.position, ": "));
      }
    }
  }
}

absl::Status LogBackedEventStore::ApplyFailed(const absl::Status& applied,
                                              absl::string_view context) {
  if (absl::IsInternal(applied) || absl::IsFailedPrecondition(applied)) {
    const absl::Status error =
        absl::InternalError(absl::StrCat(context, applied.message()));
    Fail(error);
    return error;
  }
  // Nothing applied, and the record stays in the log: the next Commit (whose
  // append the log refuses, being ahead) or CatchUp applies it.
  return absl::Status(applied.code(), absl::StrCat(context, applied.message()));
}

void LogBackedEventStore::Fail(const absl::Status& error) {
  {
    absl::MutexLock lock(&failed_mu_);
    if (!failed_.ok()) return;
    failed_ = error;
  }
  absl::MutexLock lock(&observer_mu_);
  if (observer_) observer_(WriteState());
}

absl::Status LogBackedEventStore::WriteState() const {
  absl::MutexLock lock(&failed_mu_);
  if (failed_.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(
      "the event store refuses writes until it is reopened (its derived state "
      "no longer follows the commit log): ",
      failed_.message()));
}

void LogBackedEventStore::SetWriteStateObserver(
    std::function<void(const absl::Status&)> observer) {
  absl::MutexLock lock(&observer_mu_);
  observer_ = std::move(observer);
}

absl::StatusOr<CommitResult> LogBackedEventStore::Commit(
    const CommitBatch& batch) {
  absl::Status valid = ValidateCommitBatch(batch);
  if (!valid.ok()) return valid;
  if (!batch.erasures.empty()) {
    return absl::UnimplementedError(
        "erasing a stream needs rewriting the commit log's records, which a "
        "CommitLog cannot do yet");
  }

  absl::MutexLock lock(&commit_mu_);
  for (int attempt = 0; attempt < kMaxAppendAttempts; ++attempt) {
    absl::Status state = WriteState();
    if (!state.ok()) return state;

    // Decide on the derived state as it is.
    CommitRecord record;
    CommitResult result;
    std::map<std::string, uint64_t, std::less<>> versions;
    bool writes = !batch.index_writes.empty();
    for (const StreamAppend& append : batch.appends) {
      uint64_t actual;
      if (auto it = versions.find(append.stream); it != versions.end()) {
        actual = it->second;
      } else {
        absl::StatusOr<uint64_t> stored = state_->StreamVersion(append.stream);
        if (!stored.ok()) return stored.status();
        actual = *stored;
      }
      if (append.expected_version != kAnyVersion &&
          static_cast<uint64_t>(append.expected_version) != actual) {
        return absl::AbortedError(absl::StrFormat(
            "stream \"%s\": expected version %d, actual version %d",
            absl::CHexEscape(append.stream), append.expected_version, actual));
      }
      versions[append.stream] = actual + append.events.size();
      result.stream_versions.push_back(actual + append.events.size());
      record.appends.push_back(StreamAppend{
          append.stream, static_cast<int64_t>(actual), append.events});
      writes = writes || !append.events.empty();
    }
    if (!writes) return result;
    record.index_writes = batch.index_writes;

    const uint64_t applied = state_->AppliedPosition();
    absl::StatusOr<uint64_t> position = log_->Append(record, applied);
    if (absl::IsAborted(position.status())) {
      // Another writer appended first: apply its records, decide again.
      absl::Status caught_up = CatchUpLocked();
      if (!caught_up.ok()) return caught_up;
      continue;
    }
    if (!position.ok()) return position.status();

    const uint64_t last_before = state_->LastPosition();
    absl::Status apply = state_->Apply(*position, record);
    if (!apply.ok()) {
      return ApplyFailed(
          apply, absl::StrCat("commit record ", *position,
                              " was appended to the log but not applied: "));
    }
    const uint64_t last_after = state_->LastPosition();
    if (last_after != last_before) {
      result.first_position = last_before + 1;
      result.last_position = last_after;
    }
    return result;
  }
  return absl::AbortedError(absl::StrFormat(
      "the commit log kept refusing the append: other writers appended first "
      "%d times in a row",
      kMaxAppendAttempts));
}

}  // namespace sequencer::eventstore
