// Argument checks shared by the EventStore implementations.

#ifndef SEQUENCER_EVENTSTORE_BATCH_VALIDATION_H_
#define SEQUENCER_EVENTSTORE_BATCH_VALIDATION_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "eventstore/event_store.h"

namespace sequencer::eventstore {

// INVALID_ARGUMENT when `stream` is empty or contains a NUL byte (NUL separates
// the stream name from the version in RocksDbEventStore's keys; both
// implementations reject it alike).
absl::Status ValidateStreamName(absl::string_view stream);

// INVALID_ARGUMENT when a stream name is invalid (see ValidateStreamName), an
// expected version is below kAnyVersion, or an index key is empty. OK
// otherwise.
absl::Status ValidateCommitBatch(const CommitBatch& batch);

}  // namespace sequencer::eventstore

#endif  // SEQUENCER_EVENTSTORE_BATCH_VALIDATION_H_
