// Steps that became ready for delivery, resolved (content, contact, due
// time) by whoever made them ready, so that leasing them need not read and
// fold the recipient again. The scheduler puts every step it makes ready;
// Delivery::TryLease takes the entry of each recipient it finds in a ready/
// queue and uses it only if the recipient's stream and its sequence's stream
// are still at the versions the entry was resolved at (the log stays the
// truth: an entry is a memo of a pure function of those two states).
//
// Bounded: at most `max_bytes` of entries (roughly: strings plus a fixed
// overhead each); past it the oldest entries are dropped. Losing an entry
// costs a fold, never a wrong lease. Thread-safe.

#ifndef SEQUENCER_APP_RUNTIME_READY_STEPS_H_
#define SEQUENCER_APP_RUNTIME_READY_STEPS_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "domain/model.h"

namespace sequencer::app {

struct ReadyStep {
  // The recipient's stream version and its sequence's, when resolved.
  uint64_t recipient_version = 0;
  uint64_t sequence_version = 0;
  int step_index = 0;
  domain::StepContent content;
  domain::Contact contact;
  absl::Time due_at;
};

// The step `recipient` is ready to hand to a delivery worker, resolved
// against its `sequence`; nullopt when there is none (the recipient is not
// ready for delivery, or the step's template misses variables). Pure.
std::optional<ReadyStep> ResolveReadyStep(const domain::Recipient& recipient,
                                          const domain::Sequence& sequence);

class ReadySteps {
 public:
  static constexpr size_t kDefaultMaxBytes = 64 << 20;

  explicit ReadySteps(size_t max_bytes = kDefaultMaxBytes)
      : max_bytes_(max_bytes) {}
  ReadySteps(const ReadySteps&) = delete;
  ReadySteps& operator=(const ReadySteps&) = delete;

  // Keeps `step` for the recipient whose stream is `stream`, replacing what
  // was kept for it.
  void Put(absl::string_view stream, ReadyStep step);

  // Removes and returns what was kept for the recipient's `stream`, if
  // anything.
  std::optional<ReadyStep> Take(absl::string_view stream);

  // Entries kept and their approximate bytes.
  size_t size() const;
  size_t bytes() const;

 private:
  struct Kept {
    ReadyStep step;
    uint64_t serial = 0;  // which Put, to match the order queue
    size_t bytes = 0;
  };

  static size_t BytesOf(const std::string& key, const ReadyStep& step);

  const size_t max_bytes_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Kept> kept_
      ABSL_GUARDED_BY(mu_);  // by stream
  // Keys in the order they were put, with the Put's serial; an entry whose
  // serial no longer matches was replaced or taken.
  std::deque<std::pair<std::string, uint64_t>> order_ ABSL_GUARDED_BY(mu_);
  uint64_t next_serial_ ABSL_GUARDED_BY(mu_) = 0;
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_RUNTIME_READY_STEPS_H_
