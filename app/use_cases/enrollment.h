// Enrolling recipients in a sequence (RecipientService/EnrollRecipients): all
// of a call's recipients or none, in one commit through the CommandRunner.
// Thread-safe.

#ifndef SEQUENCER_APP_USE_CASES_ENROLLMENT_H_
#define SEQUENCER_APP_USE_CASES_ENROLLMENT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "app/app_deps.h"
#include "app/caller.h"
#include "app/pipeline/command_runner.h"
#include "domain/limits.h"
#include "domain/recipient.h"

namespace sequencer::app {

struct EnrollRequest {
  RequestIdentity identity;
  std::string sequence_id;
  std::vector<domain::EnrollRecipient> recipients;
};

struct EnrollResult {
  int enrolled_count = 0;
};

// Each recipient is decided by domain::DecideEnroll against its current
// state. Errors name the recipient ("recipients[3].variables: ...",
// "recipients[3]: ..."): INVALID_ARGUMENT for bad ids or input, an empty
// call, or an id given twice (ALREADY_EXISTS); RESOURCE_EXHAUSTED beyond
// domain::kMaxEnrollBatch; ALREADY_EXISTS for a recipient that is or was
// enrolled; NOT_FOUND for an unknown sequence. Nothing is written then.
absl::StatusOr<Answered<EnrollResult>> EnrollRecipients(
    const AppDeps& deps, const CallContext& call, const EnrollRequest& request,
    const ResponseEncoder<EnrollResult>& encode);

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_USE_CASES_ENROLLMENT_H_
