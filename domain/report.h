// The sequence report (issue 11, "the reporting history of the design card"):
// what each recipient contributes to its sequence's report, and the sum.
//
// A recipient's contribution is a pure function of its folded state
// (ContributionOf), so the projection the service maintains (the rp/ index
// entry, written with the recipient's events: app/storage/repository.h) and a
// rebuild from the log (sequencerctl verify, the start-up backfill) use the
// same rule. Its history counters are folded by CountEvent, which
// domain::Evolve calls for every recipient event before applying it.
//
// The rules, per step index (0-based):
// - waiting: the recipient's current step is this one and its delay is still
//   running (it has a due/ entry: IN_PROGRESS or running RESPONDED /
//   MEETING_BOOKED, not yet marked due by the scheduler). A state, not a
//   history: 0 or 1 per recipient.
// - due: the recipient's current step is this one, its time has come and the
//   step is not done: queued for a delivery worker (ready/), its send begun
//   and not yet reported, or a manual step waiting for a person
//   (PENDING_ACTION, or running RESPONDED/MEETING_BOOKED). Only running
//   recipients count in waiting/due: PAUSED, ERROR and final ones do not (their
//   status count shows them). 0 or 1 per recipient.
// - sent: the step was executed: a worker reported its send SENT
//   (StepCompleted, on time or after its deadline, or DeliveryReportedLate
//   with outcome SENT), or a person completed it (ManualStepCompleted). Each
//   such event makes this step "the step last sent".
// - skipped: StepSkipped of the step.
// - failed: the step put the recipient in ERROR: a worker reported a delivery
//   error, its content could not be resolved (StepFailed), or a begun send
//   passed its deadline with no result (SendTimedOut, outcome unknown). A
//   success reported later for that send also counts as sent; a failure
//   reported later (DeliveryReportedLate FAILED) is not counted again.
// - bounced: a Bounced event. A bounce a worker reported for its send
//   (lease token set) counts for the step of that send (the one in flight, or
//   the timed-out one); a bounce signal counts for the step last sent before
//   it.
// - replies / meetings: a ReplyReceived / MeetingBooked event counts for the
//   step last sent before it.
// Signals recorded after a final status count too (they are in the reporting
// history). A signal before any step was sent counts in before_first_send,
// which is part of the totals but of no step. Every history counter counts
// events, not recipients (two replies after the same step count 2).
// Unsubscribes are not counted per step (the status count shows them).
// A deleted recipient contributes nothing (its history is erased).

#ifndef SEQUENCER_DOMAIN_REPORT_H_
#define SEQUENCER_DOMAIN_REPORT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "domain/events.h"
#include "domain/model.h"

namespace sequencer::domain {

// What one recipient contributes to its sequence's report (StepTally, the
// counters of one step, is in domain/model.h).
struct ReportContribution {
  RecipientStatus status = RecipientStatus::kInProgress;
  // Indexed by step; trailing steps with nothing to count may be absent.
  std::vector<StepTally> steps;
  StepTally before_first_send;

  friend bool operator==(const ReportContribution& a,
                         const ReportContribution& b);
  friend bool operator!=(const ReportContribution& a,
                         const ReportContribution& b) {
    return !(a == b);
  }
};

// The contribution of `recipient`; nullopt for one that does not exist or
// was deleted (it is not counted).
std::optional<ReportContribution> ContributionOf(const Recipient& recipient);

// Folds `payload` into `recipient.report` (the history counters): called by
// Evolve with the state before the event is applied.
void CountEvent(const RecipientEventPayload& payload, Recipient& recipient);

// A sequence's report: the sum of its recipients' contributions.
struct SequenceReport {
  int64_t recipients = 0;
  // Every status, zeros included.
  std::map<RecipientStatus, int64_t> by_status;
  // One per step of the sequence.
  std::vector<StepTally> steps;
  StepTally before_first_send;
  // The sum of every step's counters and before_first_send.
  StepTally totals;
};

// An empty report of a sequence of `step_count` steps.
SequenceReport EmptyReport(int step_count);
// Adds one recipient's contribution; counters of steps beyond the sequence's
// (which a recipient never has) go to the totals only.
void AddContribution(const ReportContribution& contribution,
                     SequenceReport* report);

}  // namespace sequencer::domain

#endif  // SEQUENCER_DOMAIN_REPORT_H_
