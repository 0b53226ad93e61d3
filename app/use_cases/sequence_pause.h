// Pausing and resuming a whole sequence (SequenceService/PauseSequence and
// ResumeSequence), in bounded steps that lock the sequence, not the server:
//
//   1. Under the sequence's long-running lock (LockTable::LockLongRunning),
//      a retried request id answers its recorded outcome.
//   2. One commit: SequencePaused (SequenceResumed) on the sequence's stream
//      and a seqop/ record of the operation (app/storage/store_layout.h).
//      From here on nothing of the sequence executes (the domain refuses to
//      run a step or begin a send while the sequence is paused), and every
//      enrollment or recipient change reads the new sequence state.
//   3. The recipients in listing order, kSequenceOpChunk per commit, each
//      chunk under its recipients' locks only: PauseBySequence
//      (ResumeBySequence) decided against the sequence as it now is.
//   4. One commit removes the seqop/ record and records the outcome.
//
// A failure or a crash between 2 and 4 leaves the seqop/ record: a retry of
// the same request id continues from step 3, and FinishSequenceOps (run at
// start-up) finishes every such operation. Recipients the chunks already
// changed are not changed twice (the domain's commands are no-ops for them),
// so `affected_recipients` of a finished operation counts only what its last
// run changed. Thread-safe.

#ifndef SEQUENCER_APP_USE_CASES_SEQUENCE_PAUSE_H_
#define SEQUENCER_APP_USE_CASES_SEQUENCE_PAUSE_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "app/app_deps.h"
#include "app/caller.h"
#include "app/pipeline/command_runner.h"
#include "domain/model.h"

namespace sequencer::app {

// Recipients changed per commit by a sequence pause or resume.
inline constexpr size_t kSequenceOpChunk = 1000;

struct SequencePauseRequest {
  RequestIdentity identity;
  std::string sequence_id;
  // true pauses, false resumes.
  bool pause = true;
  std::optional<uint64_t> expected_version;
};

struct SequencePauseResult {
  domain::Sequence sequence;
  int affected_recipients = 0;
};

// INVALID_ARGUMENT for bad ids, or a request id used for another request
// (also one an unfinished operation will record its outcome under);
// NOT_FOUND for an unknown sequence; ABORTED
// (VERSION_MISMATCH) when expected_version is not the sequence's;
// FAILED_PRECONDITION when the sequence is already paused (not paused).
absl::StatusOr<Answered<SequencePauseResult>> RunSequencePause(
    const AppDeps& deps, const CallContext& call,
    const SequencePauseRequest& request,
    const ResponseEncoder<SequencePauseResult>& encode);

// Finishes every sequence pause or resume that a crash or a failure left
// unfinished (step 3 and 4 above), recording its outcome with `encode` (no
// outcome when another request took its request id meanwhile: the id
// answers for that one). Returns the first error; what is left is finished
// by the next call.
absl::Status FinishSequenceOps(
    const AppDeps& deps, const ResponseEncoder<SequencePauseResult>& encode);

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_USE_CASES_SEQUENCE_PAUSE_H_
