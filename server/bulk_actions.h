// Changes that touch many recipients at once, each in one atomic write:
// RecipientService/BulkAction and SequenceService/PauseSequence,
// ResumeSequence (see their contracts in proto/sequencer/v1/sequencer.proto).
//
// A bulk action locks the selected recipients (a sequence pause locks
// everything), answers a retried request id with its first outcome, lets
// domain::DecideBulk judge every selected recipient, and either refuses with
// the list of offenders (writing nothing) or commits every recipient's events,
// projection changes and the idempotency record in one batch. Stop and Delete
// first answer a confirmation token (stored under confirm/, single use, bound
// to tenant, sequence, action and selection, valid for
// kConfirmationLifetime); the second call spends it in the same batch as the
// events.

#ifndef SEQUENCER_SERVER_BULK_ACTIONS_H_
#define SEQUENCER_SERVER_BULK_ACTIONS_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "sequencer/v1/sequencer.pb.h"
#include "server/call_context.h"
#include "server/service_deps.h"

namespace sequencer::server {

inline constexpr absl::Duration kConfirmationLifetime = absl::Minutes(5);

absl::Status RunBulkAction(const ServiceDeps& deps, const CallContext& call,
                           const v1::BulkActionRequest& request,
                           v1::BulkActionResponse* response);

// `pause` true pauses the sequence, false resumes it.
absl::Status RunSequencePause(const ServiceDeps& deps, const CallContext& call,
                              const v1::SequenceActionRequest& request,
                              bool pause, v1::SequenceActionResponse* response);

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_BULK_ACTIONS_H_
