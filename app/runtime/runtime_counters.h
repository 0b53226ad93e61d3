// Counters of what the runtime did, read by the metrics endpoint
// (server/observability.h). Thread-safe: atomics, relaxed.

#ifndef SEQUENCER_APP_RUNTIME_RUNTIME_COUNTERS_H_
#define SEQUENCER_APP_RUNTIME_RUNTIME_COUNTERS_H_

#include <atomic>
#include <cstdint>

namespace sequencer::app {

struct RuntimeCounters {
  // Begun sends that passed their deadline without a result: SendTimedOut
  // events committed (the step went to ERROR, "delivery outcome unknown").
  std::atomic<uint64_t> sends_timed_out{0};
};

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_RUNTIME_RUNTIME_COUNTERS_H_
