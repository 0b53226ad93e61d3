#include "app/runtime/read_deadline.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace sequencer::app {

namespace {

bool DeadlinePassed(absl::Time deadline) {
  return deadline != absl::InfiniteFuture() && absl::Now() >= deadline;
}

}  // namespace

bool CallerStopped(const CallContext& call) {
  return call.stopped_waiting ? call.stopped_waiting()
                              : DeadlinePassed(call.deadline);
}

ReadDeadline::ReadDeadline(StopCheck stopped, absl::string_view what,
                           uint64_t interval)
    : stopped_(std::move(stopped)),
      what_(what),
      interval_(interval == 0 ? 1 : interval) {}

ReadDeadline::ReadDeadline(const CallContext& call, absl::string_view what,
                           uint64_t interval)
    : ReadDeadline(call.stopped_waiting ? call.stopped_waiting
                                        : StopCheck([deadline = call.deadline] {
                                            return DeadlinePassed(deadline);
                                          }),
                   what, interval) {}

absl::Status ReadDeadline::Tick() {
  if (items_ % interval_ == 0) {
    if (absl::Status checked = Check(); !checked.ok()) return checked;
  }
  ++items_;
  return absl::OkStatus();
}

absl::Status ReadDeadline::Check() {
  if (!stopped_ || !stopped_()) return absl::OkStatus();
  return absl::DeadlineExceededError(
      absl::StrCat("the call's deadline passed after ", items_, " ", what_,
                   " were read; nothing was answered"));
}

}  // namespace sequencer::app
