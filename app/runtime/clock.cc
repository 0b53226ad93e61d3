#include "app/runtime/clock.h"

namespace sequencer::app {

absl::Time ManualClock::DefaultStart() {
  return absl::FromCivil(absl::CivilSecond(2026, 1, 5, 9, 0, 0),
                         absl::UTCTimeZone());
}

absl::Time ManualClock::Now() const {
  absl::MutexLock lock(&mu_);
  return now_;
}

absl::Time ManualClock::Advance(absl::Duration by) {
  absl::MutexLock lock(&mu_);
  now_ += by;
  return now_;
}

}  // namespace sequencer::app
