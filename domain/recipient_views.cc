#include "domain/recipient_views.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "domain/recipient_internal.h"
#include "domain/template.h"

namespace sequencer::domain {
namespace {

using internal::ApplyAdvance;
using internal::Check;
using internal::CheckCurrentStep;
using internal::IsDone;
using internal::IsEmptyEdit;
using internal::MakeAdvance;
using internal::StepCount;

// Resolves every non-empty field of `content` with `variables`; missing
// variables are appended to `missing` in order of first appearance, each once.
StepContent ResolveContent(const StepContent& content,
                           const std::map<std::string, std::string>& variables,
                           std::vector<std::string>& missing) {
  auto resolve = [&](const std::string& text) {
    if (text.empty()) return std::string();
    ResolvedText resolved = ResolveTemplate(text, variables);
    for (std::string& name : resolved.missing_variables) {
      if (std::find(missing.begin(), missing.end(), name) == missing.end()) {
        missing.push_back(std::move(name));
      }
    }
    return std::move(resolved.text);
  };
  StepContent out;
  out.subject = resolve(content.subject);
  out.body = resolve(content.body);
  out.message = resolve(content.message);
  out.details = resolve(content.details);
  return out;
}

}  // namespace

StepContent EffectiveContent(const StepDefinition& definition,
                             const ContentEdit& override_content) {
  StepContent content = definition.content;
  if (override_content.subject) content.subject = *override_content.subject;
  if (override_content.body) content.body = *override_content.body;
  if (override_content.message) content.message = *override_content.message;
  if (override_content.details) content.details = *override_content.details;
  return content;
}

std::optional<StepType> DeliveryChannel(const StepDefinition& step) {
  if (step.IsManual()) return std::nullopt;
  return step.type;
}

ResolvedStep ResolveCurrentStep(const Recipient& recipient,
                                const Sequence& sequence) {
  ResolvedStep resolved;
  resolved.step_index = recipient.current_step;
  const int index = recipient.current_step;
  if (index < 0 || index >= StepCount(sequence)) return resolved;
  const ContentEdit override_content =
      index < static_cast<int>(recipient.steps.size())
          ? recipient.steps[index].override_content
          : ContentEdit{};
  resolved.content =
      ResolveContent(EffectiveContent(sequence.steps[index], override_content),
                     TemplateVariables(recipient), resolved.missing_variables);
  return resolved;
}

std::map<std::string, std::string> TemplateVariables(
    const Recipient& recipient) {
  std::map<std::string, std::string> variables = recipient.variables;
  if (!recipient.contact.email.empty())
    variables.emplace("email", recipient.contact.email);
  if (!recipient.contact.phone.empty())
    variables.emplace("phone", recipient.contact.phone);
  return variables;
}

std::vector<StepView> DescribeSteps(const Recipient& recipient,
                                    const Sequence& sequence, absl::Time now) {
  const Recipient& r = recipient;
  const std::map<std::string, std::string> variables = TemplateVariables(r);
  const bool active = r.IsRunning() || r.status == RecipientStatus::kPaused;
  std::vector<StepView> views;
  std::optional<absl::Time> previous_due;
  for (int i = 0; i < StepCount(sequence); ++i) {
    const StepDefinition& definition = sequence.steps[i];
    const RecipientStep step =
        i < static_cast<int>(r.steps.size()) ? r.steps[i] : RecipientStep{};
    StepView view;
    view.step_index = i;
    view.type = definition.type;
    view.mode = definition.mode;
    view.overridden = !IsEmptyEdit(step.override_content);
    if (IsDone(step.state)) {
      view.state = step.state;
    } else if (i == r.current_step && active) {
      view.state = StepState::kCurrent;
    } else if (i > r.current_step) {
      view.state = StepState::kUpcoming;
    } else {
      view.state =
          step.state == StepState::kCurrent ? StepState::kUpcoming : step.state;
    }
    if (step.sent_content.has_value()) {
      view.content = *step.sent_content;
    } else if (step.dispatched_content.has_value()) {
      view.content = *step.dispatched_content;  // Its send is in flight.
    } else {
      view.content =
          ResolveContent(EffectiveContent(definition, step.override_content),
                         variables, view.missing_variables);
    }
    view.completed_at = step.completed_at;
    if (view.state == StepState::kCurrent) {
      if (r.status == RecipientStatus::kPaused) {
        view.due_at = now + std::max(absl::ZeroDuration(), r.remaining_delay);
      } else if (r.due_at.has_value() && !r.awaiting_manual_action &&
                 r.status != RecipientStatus::kError) {
        view.due_at = r.due_at;
      } else {
        view.due_at = now;
      }
      previous_due = view.due_at;
    } else if (view.state == StepState::kUpcoming && active &&
               previous_due.has_value()) {
      view.due_at = *previous_due + definition.delay;
      previous_due = view.due_at;
    }
    views.push_back(std::move(view));
  }
  return views;
}

absl::StatusOr<std::vector<StepView>> ViewContent(const Recipient& recipient,
                                                  const Sequence& sequence,
                                                  absl::Time now) {
  if (absl::Status status = Check(Action::kViewContent, recipient, sequence);
      !status.ok()) {
    return status;
  }
  return DescribeSteps(recipient, sequence, now);
}

absl::StatusOr<SkipPreview> PreviewSkip(const Recipient& recipient,
                                        const Sequence& sequence,
                                        absl::Time now) {
  if (absl::Status status = Check(Action::kSkipStep, recipient, sequence);
      !status.ok()) {
    return status;
  }
  if (absl::Status status =
          CheckCurrentStep(Action::kSkipStep, recipient, sequence);
      !status.ok()) {
    return status;
  }
  SkipPreview preview;
  preview.skipped_step_index = recipient.current_step;
  const Advance advance =
      MakeAdvance(recipient, sequence, recipient.current_step + 1, now);
  if (advance.next_status == RecipientStatus::kFinished) {
    preview.finishes = true;
    return preview;
  }
  // Describe the recipient as it would be after the skip, then take its new
  // current step.
  Recipient after = recipient;
  if (after.current_step < static_cast<int>(after.steps.size())) {
    after.steps[after.current_step].state = StepState::kSkipped;
  }
  ApplyAdvance(after, advance);
  std::vector<StepView> views = DescribeSteps(after, sequence, now);
  preview.next_step = views[advance.next_step];
  return preview;
}

}  // namespace sequencer::domain
