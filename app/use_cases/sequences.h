// Sequences: creating one (SequenceService/CreateSequence) through the
// CommandRunner, and reading them. Thread-safe.

#ifndef SEQUENCER_APP_USE_CASES_SEQUENCES_H_
#define SEQUENCER_APP_USE_CASES_SEQUENCES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "app/app_deps.h"
#include "app/caller.h"
#include "app/pipeline/command_runner.h"
#include "domain/limits.h"
#include "domain/model.h"
#include "domain/sequence.h"

namespace sequencer::app {

struct CreateSequenceRequest {
  RequestIdentity identity;
  // An empty command.sequence_id gets a new id.
  domain::CreateSequence command;
};

// domain::DecideCreateSequence's refusals; ALREADY_EXISTS for a sequence id
// in use. Nothing is written then.
absl::StatusOr<Answered<domain::Sequence>> CreateSequence(
    const AppDeps& deps, const CallContext& call,
    const CreateSequenceRequest& request,
    const ResponseEncoder<domain::Sequence>& encode);

// NOT_FOUND for an unknown sequence; INVALID_ARGUMENT for a bad id.
absl::StatusOr<domain::Sequence> GetSequence(const AppDeps& deps,
                                             const CallContext& call,
                                             absl::string_view sequence_id);

struct SequencePage {
  std::vector<domain::Sequence> sequences;
  // The id to pass as `after` for the next page; empty on the last page.
  std::string next_after;
};

// The tenant's sequences in id order after `after` (an id; empty: from the
// start), at most `page_size` (1..domain::kMaxPageSize).
absl::StatusOr<SequencePage> ListSequences(const AppDeps& deps,
                                           const CallContext& call,
                                           absl::string_view after,
                                           int page_size);

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_USE_CASES_SEQUENCES_H_
