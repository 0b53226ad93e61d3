// Read models computed from a recipient's state: every step with its state,
// content and due time, the View Content action, what Skip step would do, and
// how a step's content resolves for the recipient. Pure; included by
// domain/recipient.h.

#ifndef SEQUENCER_DOMAIN_RECIPIENT_VIEWS_H_
#define SEQUENCER_DOMAIN_RECIPIENT_VIEWS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "domain/model.h"

namespace sequencer::domain {

struct StepView {
  int step_index = 0;
  StepType type = StepType::kEmail;
  StepMode mode = StepMode::kAutomatic;
  StepState state = StepState::kUpcoming;
  // Completed steps: the resolved content sent. Others: effective content
  // (override over definition) resolved with today's variables.
  StepContent content;
  bool overridden = false;
  std::vector<std::string> missing_variables;
  // Current and upcoming steps: when due, as far as known now.
  std::optional<absl::Time> due_at;
  std::optional<absl::Time> completed_at;
};

// Every step with its state. Does not check availability (see ViewContent).
std::vector<StepView> DescribeSteps(const Recipient& recipient,
                                    const Sequence& sequence, absl::Time now);

// The View Content action: DescribeSteps, refused when View is not available.
absl::StatusOr<std::vector<StepView>> ViewContent(const Recipient& recipient,
                                                  const Sequence& sequence,
                                                  absl::Time now);

struct SkipPreview {
  int skipped_step_index = 0;
  bool finishes = false;
  // The step that becomes current (absent when finishing), with the due time
  // skipping now gives.
  std::optional<StepView> next_step;
};

// What SkipStep would do now, without deciding anything; refused like SkipStep.
absl::StatusOr<SkipPreview> PreviewSkip(const Recipient& recipient,
                                        const Sequence& sequence,
                                        absl::Time now);

// The content a step uses for this recipient: the override's fields over the
// definition's.
StepContent EffectiveContent(const StepDefinition& definition,
                             const ContentEdit& override_content);

// The channel a step is delivered through: its type for an automatic step,
// nullopt for a manual one.
std::optional<StepType> DeliveryChannel(const StepDefinition& step);

// The current step's effective content resolved with today's variables;
// missing variables are listed (and left as written).
struct ResolvedStep {
  int step_index = 0;
  StepContent content;
  std::vector<std::string> missing_variables;
};
ResolvedStep ResolveCurrentStep(const Recipient& recipient,
                                const Sequence& sequence);

// The variables a template sees for this recipient: its variables plus email
// and phone from the contact fields (variables win).
std::map<std::string, std::string> TemplateVariables(
    const Recipient& recipient);

}  // namespace sequencer::domain

#endif  // SEQUENCER_DOMAIN_RECIPIENT_VIEWS_H_
