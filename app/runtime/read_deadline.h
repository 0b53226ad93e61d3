// Long reads (the sequence report, the listings, audit replay, ReadEvents,
// verify, backup) stop when their caller has stopped waiting, instead of
// running to the end for nobody: they count the items they look at and ask,
// before the first and then every kDeadlineCheckInterval items, the call's
// stop check. The check is injected (CallContext::stopped_waiting): the server
// gives one that reads the gRPC call (deadline passed, or cancelled), tests
// one that turns true after K checks, so app/ needs neither gRPC nor a wall
// clock to be tested.

#ifndef SEQUENCER_APP_RUNTIME_READ_DEADLINE_H_
#define SEQUENCER_APP_RUNTIME_READ_DEADLINE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "app/caller.h"

namespace sequencer::app {

// Items a long read looks at between two asks of its stop check.
inline constexpr uint64_t kDeadlineCheckInterval = 256;

// Whether the caller of `call` has stopped waiting: call.stopped_waiting when
// set, else whether call.deadline has passed in real time.
bool CallerStopped(const CallContext& call);

// One long read's count of items. Not thread-safe (one per reading thread;
// the check itself must be thread-safe when several readers share it).
class ReadDeadline {
 public:
  // `what` names what is counted in the error ("report entries").
  ReadDeadline(StopCheck stopped, absl::string_view what,
               uint64_t interval = kDeadlineCheckInterval);
  ReadDeadline(const CallContext& call, absl::string_view what,
               uint64_t interval = kDeadlineCheckInterval);

  // Counts one item. Before the first item and after every `interval` items
  // it asks the check: DEADLINE_EXCEEDED "the call's deadline passed after N
  // <what> were read; nothing was answered" once it says stop, else OK.
  absl::Status Tick();
  // Asks the check now (e.g. between the phases of a read), counting nothing.
  absl::Status Check();

  uint64_t items() const { return items_; }

 private:
  StopCheck stopped_;
  std::string what_;
  uint64_t interval_;
  uint64_t items_ = 0;
};

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_RUNTIME_READ_DEADLINE_H_
