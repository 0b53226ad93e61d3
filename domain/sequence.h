// Decisions and state for sequences: create, pause, resume.
//
// Pure and deterministic: the caller supplies the current state (folded from
// the sequence's stream), the time and the actor through DecisionContext.
// Nothing here performs I/O.

#ifndef SEQUENCER_DOMAIN_SEQUENCE_H_
#define SEQUENCER_DOMAIN_SEQUENCE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "domain/events.h"
#include "domain/limits.h"
#include "domain/model.h"

namespace sequencer::domain {

// The time of a decision and who asks for it; copied into every event's
// metadata.
struct DecisionContext {
  std::string tenant_id;
  std::string actor;
  std::string request_id;
  absl::Time now = absl::InfinitePast();
};

// OK when `id` is 1-128 characters of [A-Za-z0-9._:@+-]; INVALID_ARGUMENT
// naming `field` otherwise.
absl::Status ValidateId(absl::string_view field, absl::string_view id);

// Checks a step's content against its type: the fields it may use, their sizes,
// and the template syntax of each. `field_prefix` names the step in messages
// (e.g. "steps[3]").
absl::Status ValidateStepContent(absl::string_view field_prefix, StepType type,
                                 const StepContent& content);

struct CreateSequence {
  std::string sequence_id;
  std::string name;
  std::vector<StepDefinition> steps;
  bool stop_on_response = true;
};

// OK for 1..kMaxSteps steps; INVALID_ARGUMENT ("steps: ...") otherwise. Callers
// that decode steps may check the count first, before decoding any.
absl::Status ValidateStepCount(size_t count);

// INVALID_ARGUMENT for a bad id, a name that is empty or over 120 characters,
// no steps or more than 50, a delay that is negative or over 365 days, content
// that does not fit its step type or is too large, or a bad placeholder.
// ALREADY_EXISTS when `current` exists. A TASK step is always recorded as
// manual.
absl::StatusOr<std::vector<SequenceEvent>> DecideCreateSequence(
    const CreateSequence& command, const Sequence& current,
    const DecisionContext& context);

// FAILED_PRECONDITION when already paused; NOT_FOUND when it does not exist.
absl::StatusOr<std::vector<SequenceEvent>> DecidePauseSequence(
    const Sequence& current, const DecisionContext& context);
// FAILED_PRECONDITION when not paused; NOT_FOUND when it does not exist.
absl::StatusOr<std::vector<SequenceEvent>> DecideResumeSequence(
    const Sequence& current, const DecisionContext& context);

// Applies one event. Increments version.
Sequence Evolve(Sequence state, const SequenceEvent& event);

}  // namespace sequencer::domain

#endif  // SEQUENCER_DOMAIN_SEQUENCE_H_
