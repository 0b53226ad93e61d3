// Helpers shared by the files that implement domain/recipient.h
// (recipient_actions.cc, recipient_decide.cc, recipient_delivery.cc,
// recipient_evolve.cc, recipient_views.cc). Not part of the domain's API:
// nothing outside those files includes this header.

#ifndef SEQUENCER_DOMAIN_RECIPIENT_INTERNAL_H_
#define SEQUENCER_DOMAIN_RECIPIENT_INTERNAL_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "domain/events.h"
#include "domain/model.h"
#include "domain/recipient.h"
#include "domain/sequence.h"

namespace sequencer::domain::internal {

using Events = absl::StatusOr<std::vector<RecipientEvent>>;

// A visitor made of lambdas, for std::visit.
template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

// ---- Small state queries.

bool IsRespondedOrMeeting(RecipientStatus status);

// The status of a recipient whose steps progress: a running
// RESPONDED/MEETING_BOOKED (meeting wins) keeps showing the signal; otherwise
// IN_PROGRESS.
RecipientStatus RunningStatus(const Recipient& r);

// The status a waiting-for-a-person recipient shows.
RecipientStatus AwaitingStatus(const Recipient& r);

// The recipient does not exist or was deleted.
bool Gone(const Recipient& r);

// NOT_FOUND naming the recipient.
absl::Status NotFound(const Recipient& r);

// INVALID_ARGUMENT with `message` and the INVALID_ARGUMENT refusal reason.
absl::Status InvalidArgument(absl::string_view message);

int StepCount(const Sequence& sequence);

// "RECIPIENT_STATUS_RESPONDED (still running)", ...: the status for messages.
std::string StatusDescription(const Recipient& r);

// ---- The action table (recipient_actions.cc).

// NOT_FOUND for a missing recipient, the refusal when `action` is not
// available, else OK.
absl::Status Check(Action action, const Recipient& r, const Sequence& sequence);

// NO_STEP_LEFT when the recipient has no current step.
absl::Status CheckCurrentStep(Action action, const Recipient& r,
                              const Sequence& sequence);

// ---- Building events.

EventMetadata MetadataFrom(const DecisionContext& context);

// One event with the context's metadata.
std::vector<RecipientEvent> One(const DecisionContext& context,
                                RecipientEventPayload payload);

// Where a recipient goes when `next_step` becomes current at `now`.
Advance MakeAdvance(const Recipient& r, const Sequence& sequence, int next_step,
                    absl::Time now);

// While the sequence is paused no delay clock starts: an advance that would
// start one holds the recipient PAUSED by the sequence with the delay frozen.
Advance HoldIfSequencePaused(Advance advance, const Sequence& sequence,
                             absl::Time now);

// The current step is done (completed or skipped): events for `done` followed
// by Finished when no step is left.
template <typename Event>
std::vector<RecipientEvent> AdvanceEvents(Event done,
                                          const DecisionContext& context) {
  const bool finishes = done.advance.next_status == RecipientStatus::kFinished;
  std::vector<RecipientEvent> events;
  events.push_back(RecipientEvent{MetadataFrom(context), std::move(done)});
  if (finishes)
    events.push_back(RecipientEvent{MetadataFrom(context), Finished{}});
  return events;
}

// ---- Content and steps.

// `edit`'s fields over `base`'s.
ContentEdit MergeEdit(ContentEdit base, const ContentEdit& edit);

bool IsEmptyEdit(const ContentEdit& edit);

// Completed, skipped or cancelled.
bool IsDone(StepState state);

// The step whose send is in flight: the one holding dispatched content (the
// current step otherwise).
int InFlightStep(const Recipient& r);

// Moves the recipient to the advance's step and status (recipient_evolve.cc).
void ApplyAdvance(Recipient& r, const Advance& advance);

// ---- Runtime decisions (recipient_delivery.cc).

Events DecideMarkStepDue(const Recipient& r, const Sequence& sequence,
                         const DecisionContext& context);
Events DecideBeginSend(const BeginSend& command, const Recipient& r,
                       const Sequence& sequence,
                       const DecisionContext& context);
Events DecideReportDelivery(const ReportDelivery& command, const Recipient& r,
                            const Sequence& sequence,
                            const DecisionContext& context);

}  // namespace sequencer::domain::internal

#endif  // SEQUENCER_DOMAIN_RECIPIENT_INTERNAL_H_
