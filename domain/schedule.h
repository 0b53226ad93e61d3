// When a recipient needs the runtime next: the one rule behind the scheduler's
// due/ queue, the delivery queues (ready/<tenant>/<CHANNEL>/), the lease check
// and the domain's MarkStepDue and BeginSend decisions.
//
// Pure and deterministic like the rest of domain/: a function of the folded
// state, with no notion of "now" (a caller compares `at` with its clock).

#ifndef SEQUENCER_DOMAIN_SCHEDULE_H_
#define SEQUENCER_DOMAIN_SCHEDULE_H_

#include "absl/time/time.h"
#include "domain/model.h"

namespace sequencer::domain {

enum class ScheduleKind {
  // Nothing happens until someone acts: the recipient is PAUSED (by itself or
  // by its sequence), PENDING_ACTION or waiting for a person on a manual step,
  // ERROR, final, deleted, or its send (begun before sends had deadlines)
  // waits for a report.
  kNone,
  // The scheduler must act at `at` (MarkStepDue): the current step's delay
  // elapses then, or a begun send's deadline passes then (outcome unknown).
  kDue,
  // The current automatic step is due and waits for a delivery worker of
  // `channel` since `at` (LeaseSteps); no send has begun.
  kReadyForDelivery,
};

struct RecipientSchedule {
  ScheduleKind kind = ScheduleKind::kNone;
  // kDue: when the scheduler must act. kReadyForDelivery: since when the step
  // is due (it orders the delivery queue).
  absl::Time at = absl::InfinitePast();
  // kReadyForDelivery only: the step's type (domain::DeliveryChannel).
  StepType channel = StepType::kEmail;

  friend bool operator==(const RecipientSchedule& a,
                         const RecipientSchedule& b) {
    return a.kind == b.kind && a.at == b.at && a.channel == b.channel;
  }
  friend bool operator!=(const RecipientSchedule& a,
                         const RecipientSchedule& b) {
    return !(a == b);
  }
};

// What `recipient` waits for:
// - a send in flight (a worker began it): kDue at its deadline, unless the
//   recipient is final (a late result is only recorded) or the send has no
//   deadline (kNone);
// - otherwise, a running recipient that is not in ERROR, with a current step
//   of `sequence` and a due time, and not waiting for a person: kDue at the
//   due time while the delay runs, kReadyForDelivery since the due time once
//   the step is queued for delivery (MarkStepDue gave StepDue{automatic});
// - anything else: kNone.
// A paused sequence changes nothing here: pausing it pauses every progressing
// recipient (PauseBySequence), which then has nothing scheduled; the decisions
// still refuse to act while it is paused.
RecipientSchedule Schedule(const Recipient& recipient,
                           const Sequence& sequence);

}  // namespace sequencer::domain

#endif  // SEQUENCER_DOMAIN_SCHEDULE_H_
