// Who asks for a change: the tenant whose data it touches and the caller's
// identity, recorded on every event. The server fills it from call metadata
// (server/call_context.h); the scheduler uses its own identity.

#ifndef SEQUENCER_APP_CALLER_H_
#define SEQUENCER_APP_CALLER_H_

#include <string>

namespace sequencer::app {

struct CallContext {
  std::string tenant_id;
  std::string actor;
};

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_CALLER_H_
