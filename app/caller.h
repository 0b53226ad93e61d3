// Who asks for a change: the tenant whose data it touches and the caller's
// identity, recorded on every event. The server fills it from call metadata
// (server/call_context.h); the scheduler uses its own identity.

#ifndef SEQUENCER_APP_CALLER_H_
#define SEQUENCER_APP_CALLER_H_

#include <functional>
#include <string>
#include <utility>

#include "absl/time/time.h"

namespace sequencer::app {

// Whether a caller has stopped waiting (its deadline passed, or it went
// away). Must be thread-safe; called only while the call runs.
using StopCheck = std::function<bool()>;

struct CallContext {
  CallContext() = default;
  CallContext(std::string tenant_id, std::string actor,
              absl::Time deadline = absl::InfiniteFuture())
      : tenant_id(std::move(tenant_id)),
        actor(std::move(actor)),
        deadline(deadline) {}

  std::string tenant_id;
  std::string actor;
  // When the caller stops waiting (the gRPC deadline, real time): a change
  // whose commit would come after it is not committed (CommandRunner::Run
  // answers DEADLINE_EXCEEDED and writes nothing).
  absl::Time deadline = absl::InfiniteFuture();
  // Asked by long reads (app/runtime/read_deadline.h) every so many items:
  // true ends the read with DEADLINE_EXCEEDED. The server sets it from the
  // gRPC call (deadline passed or call cancelled); unset, long reads compare
  // `deadline` with real time. Valid only while the call runs.
  StopCheck stopped_waiting;
};

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_CALLER_H_
