// Changes that touch many recipients at once: RecipientService/BulkAction
// (see its contract in proto/sequencer/v1/sequencer.proto).
//
// A bulk action runs through the CommandRunner: it locks the selected
// recipients, answers a retried request id with its first outcome, lets
// domain::DecideBulk judge every selected recipient, and either refuses with
// the list of offenders (writing nothing) or commits every recipient's
// events, projection changes and the outcome record in one batch. Stop and
// Delete first answer a confirmation token (stored under confirm/, single
// use, bound to tenant, sequence, action and selection, valid for
// kConfirmationLifetime); the second call spends it in the same batch as the
// events.

#ifndef SEQUENCER_APP_USE_CASES_BULK_ACTIONS_H_
#define SEQUENCER_APP_USE_CASES_BULK_ACTIONS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "app/app_deps.h"
#include "app/caller.h"
#include "app/pipeline/command_runner.h"
#include "domain/bulk.h"

namespace sequencer::app {

inline constexpr absl::Duration kConfirmationLifetime = absl::Minutes(5);

struct BulkActionRequest {
  RequestIdentity identity;
  std::string sequence_id;
  domain::BulkAction action = domain::BulkAction::kPause;
  std::vector<std::string> recipient_ids;
  // kEditContent only.
  std::optional<domain::EditContent> edit;
  // kStop and kDelete: empty on the first call.
  std::string confirmation_token;
  bool validate_only = false;
};

struct BulkConfirmation {
  std::string token;
  int count = 0;
  std::map<std::string, int> count_by_status;
  absl::Time expires_at;
};

struct BulkActionResult {
  bool applied = false;
  int affected_count = 0;
  // validate_only: the recipients that refuse the action.
  std::vector<domain::BulkOffender> offenders;
  // The first call of a confirmed action.
  std::optional<BulkConfirmation> confirmation;
};

// INVALID_ARGUMENT for bad ids, an empty or repeated selection, a token or
// edit the action does not take; RESOURCE_EXHAUSTED beyond
// domain::kMaxBulkSelection; FAILED_PRECONDITION with reason
// BULK_ACTION_REFUSED (and a v1.BulkRefusal payload listing the offenders)
// when some recipient refuses, or CONFIRMATION_INVALID for a token that is
// unknown, spent, expired or issued for another call; NOT_FOUND for an
// unknown sequence.
absl::StatusOr<Answered<BulkActionResult>> RunBulkAction(
    const AppDeps& deps, const CallContext& call,
    const BulkActionRequest& request,
    const ResponseEncoder<BulkActionResult>& encode);

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_USE_CASES_BULK_ACTIONS_H_
