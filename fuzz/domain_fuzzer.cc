// Random command sequences against the domain. The input builds a sequence
// (1-4 steps of any type and mode, with delays) and enrolls a recipient, then
// runs up to 64 commands chosen by the input: every user action, signals,
// sequence pause/resume, time passing with the scheduler's MarkStepDue, the
// delivery worker's BeginSend/ReportDelivery (with valid and stale tokens),
// and bulk actions on the recipient. Checked after each:
//   - an action the table forbids (CheckActionAvailable) never succeeds,
//     alone or in bulk, and AvailableActions agrees with CheckActionAvailable;
//   - a deleted recipient gets no event, whatever the command;
//   - each event adds one to the version, and the state keeps the documented
//     invariants of domain/model.h (due_at only while waiting for a delay,
//     awaiting_delivery only while running with no send in flight, ...);
// and at the end, the recipient's and the sequence's events, encoded as they
// are stored and decoded again, fold from nothing into the same states.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "app/storage/event_codec.h"
#include "domain/bulk.h"
#include "domain/recipient.h"
#include "domain/sequence.h"
#include "google/protobuf/stubs/logging.h"

namespace {

namespace domain = ::sequencer::domain;
namespace app = ::sequencer::app;

using domain::Action;
using domain::RecipientStatus;

#define CHECK_OR_TRAP(condition)        \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

bool SameTime(const std::optional<absl::Time>& a,
              const std::optional<absl::Time>& b) {
  return a == b;
}

bool SameRecipient(const domain::Recipient& a, const domain::Recipient& b) {
  if (a.steps.size() != b.steps.size()) return false;
  for (size_t i = 0; i < a.steps.size(); ++i) {
    const domain::RecipientStep& x = a.steps[i];
    const domain::RecipientStep& y = b.steps[i];
    if (x.state != y.state || !(x.override_content == y.override_content) ||
        !(x.sent_content == y.sent_content) ||
        x.completed_at != y.completed_at ||
        !(x.dispatched_content == y.dispatched_content)) {
      return false;
    }
  }
  return a.exists == b.exists && a.deleted == b.deleted &&
         a.tenant_id == b.tenant_id && a.sequence_id == b.sequence_id &&
         a.recipient_id == b.recipient_id && a.contact == b.contact &&
         a.variables == b.variables && a.status == b.status &&
         a.current_step == b.current_step && SameTime(a.due_at, b.due_at) &&
         a.remaining_delay == b.remaining_delay &&
         a.paused_from == b.paused_from &&
         a.paused_by_sequence == b.paused_by_sequence &&
         a.awaiting_manual_action == b.awaiting_manual_action &&
         a.awaiting_delivery == b.awaiting_delivery &&
         a.in_flight_token == b.in_flight_token &&
         a.last_reported_token == b.last_reported_token &&
         a.responded == b.responded && a.meeting_booked == b.meeting_booked &&
         a.stopped_by_rule == b.stopped_by_rule &&
         a.error_message == b.error_message && a.enrolled_at == b.enrolled_at &&
         a.updated_at == b.updated_at && a.version == b.version;
}

bool SameSequence(const domain::Sequence& a, const domain::Sequence& b) {
  if (a.steps.size() != b.steps.size()) return false;
  for (size_t i = 0; i < a.steps.size(); ++i) {
    if (a.steps[i].type != b.steps[i].type ||
        a.steps[i].mode != b.steps[i].mode ||
        a.steps[i].delay != b.steps[i].delay ||
        !(a.steps[i].content == b.steps[i].content)) {
      return false;
    }
  }
  return a.exists == b.exists && a.tenant_id == b.tenant_id &&
         a.sequence_id == b.sequence_id && a.name == b.name &&
         a.stop_on_response == b.stop_on_response && a.paused == b.paused &&
         a.created_at == b.created_at && a.created_by == b.created_by &&
         a.version == b.version;
}

// The invariants domain/model.h documents for a recipient's state.
void CheckState(const domain::Recipient& r, const domain::Sequence& s) {
  CHECK_OR_TRAP(r.exists);
  if (r.deleted) return;
  CHECK_OR_TRAP(r.steps.size() == s.steps.size());
  CHECK_OR_TRAP(r.current_step >= 0 &&
                r.current_step <= static_cast<int>(r.steps.size()));
  if (r.due_at.has_value()) {
    CHECK_OR_TRAP(r.status != RecipientStatus::kPaused &&
                  r.status != RecipientStatus::kPendingAction &&
                  r.status != RecipientStatus::kError && !r.IsFinal());
  }
  if (r.awaiting_delivery) {
    CHECK_OR_TRAP(r.IsRunning() && r.in_flight_token.empty());
  }
  if (r.status == RecipientStatus::kPendingAction) {
    CHECK_OR_TRAP(r.awaiting_manual_action);
  }
  CHECK_OR_TRAP(!(r.IsFinal() && r.IsRunning()));
}

class Run {
 public:
  explicit Run(FuzzedDataProvider& in) : in_(in) {}

  void Go() {
    if (!CreateSequence()) return;
    if (in_.ConsumeBool())
      ApplySequence(domain::DecidePauseSequence(sequence_, Context()));
    Enroll();
    for (int i = 0; i < 64 && in_.remaining_bytes() > 0; ++i) Step();
    Replay();
  }

 private:
  domain::DecisionContext Context() {
    return {"tenant", "actor", absl::StrCat("req-", ++requests_), now_};
  }

  std::string Text(const std::string& fallback) {
    switch (in_.ConsumeIntegralInRange(0, 3)) {
      case 0:
        return fallback;
      case 1:
        return "Hello {{first_name}} at {{company}}";
      case 2:
        return "Needs {{missing_variable}}";
      default:
        return in_.ConsumeRandomLengthString(40);
    }
  }

  bool CreateSequence() {
    domain::CreateSequence command;
    command.sequence_id = "seq";
    command.name = "Fuzz";
    command.stop_on_response = in_.ConsumeBool();
    const int steps = in_.ConsumeIntegralInRange(1, 4);
    for (int i = 0; i < steps; ++i) {
      domain::StepDefinition step;
      step.type =
          static_cast<domain::StepType>(in_.ConsumeIntegralInRange(0, 3));
      step.mode = in_.ConsumeBool() ? domain::StepMode::kManual
                                    : domain::StepMode::kAutomatic;
      step.delay = absl::Minutes(in_.ConsumeIntegralInRange(0, 3) * 30);
      switch (step.type) {
        case domain::StepType::kEmail:
          step.content.subject = Text("Hi {{first_name}}");
          step.content.body = Text("About {{company}}");
          break;
        case domain::StepType::kSocialMessage:
          step.content.message = Text("Hello {{first_name}}");
          break;
        case domain::StepType::kSms:
          step.content.body = Text("Text {{first_name}}");
          break;
        case domain::StepType::kTask:
          step.content.details = Text("Call {{first_name}}");
          break;
      }
      command.steps.push_back(step);
    }
    auto events = domain::DecideCreateSequence(command, sequence_, Context());
    if (!events.ok()) return false;  // Content the input made invalid.
    ApplySequence(std::move(events));
    return true;
  }

  void ApplySequence(
      absl::StatusOr<std::vector<domain::SequenceEvent>> events) {
    if (!events.ok()) return;
    for (auto& event : *events) {
      const uint64_t version = sequence_.version;
      sequence_ = domain::Evolve(std::move(sequence_), event);
      CHECK_OR_TRAP(sequence_.version == version + 1);
      sequence_events_.push_back(std::move(event));
    }
  }

  void Apply(const std::vector<domain::RecipientEvent>& events) {
    for (const auto& event : events) {
      const uint64_t version = recipient_.version;
      recipient_ = domain::Evolve(std::move(recipient_), event);
      CHECK_OR_TRAP(recipient_.version == version + 1);
      recipient_events_.push_back(event);
    }
    CheckState(recipient_, sequence_);
  }

  void Enroll() {
    domain::EnrollRecipient command;
    command.recipient_id = "r1";
    command.contact.email = "r1@example.com";
    command.variables["first_name"] = "Ada";
    if (in_.ConsumeBool()) command.variables["company"] = "Acme";
    auto events =
        domain::DecideEnroll(command, sequence_, recipient_, Context());
    CHECK_OR_TRAP(events.ok());
    Apply(*events);
    auto again =
        domain::DecideEnroll(command, sequence_, recipient_, Context());
    CHECK_OR_TRAP(again.status().code() == absl::StatusCode::kAlreadyExists);
  }

  // Runs a table-governed action, alone or (sometimes) in bulk.
  void Act(Action action, const domain::RecipientCommand& command,
           std::optional<domain::BulkAction> bulk) {
    const absl::Status allowed =
        domain::CheckActionAvailable(action, recipient_, sequence_);
    for (const auto& entry : domain::AvailableActions(recipient_, sequence_)) {
      if (entry.action == action) {
        CHECK_OR_TRAP(entry.available == allowed.ok());
      }
    }
    if (bulk.has_value() && in_.ConsumeBool()) {
      domain::BulkCommand bulk_command;
      bulk_command.action = *bulk;
      if (const auto* edit = std::get_if<domain::EditContent>(&command)) {
        bulk_command.edit = *edit;
      }
      auto decision =
          domain::DecideBulk(bulk_command, {recipient_}, sequence_, Context());
      if (decision.ok() && decision->offenders.empty()) {
        CHECK_OR_TRAP(allowed.ok());
        CHECK_OR_TRAP(!recipient_.deleted);
        if (*bulk == domain::BulkAction::kPause) {
          CHECK_OR_TRAP(recipient_.status == RecipientStatus::kInProgress ||
                        recipient_.status == RecipientStatus::kError);
        }
        CHECK_OR_TRAP(decision->events.size() == 1);
        Apply(decision->events[0]);
      }
      return;
    }
    auto events = domain::Decide(command, recipient_, sequence_, Context());
    if (events.ok()) {
      CHECK_OR_TRAP(allowed.ok());
      CHECK_OR_TRAP(!recipient_.deleted);
      Apply(*events);
    }
  }

  void Other(const domain::RecipientCommand& command) {
    const bool deleted = recipient_.deleted;
    auto events = domain::Decide(command, recipient_, sequence_, Context());
    if (deleted) CHECK_OR_TRAP(!events.ok() || events->empty());
    if (events.ok()) Apply(*events);
  }

  domain::ContentEdit Edit() {
    domain::ContentEdit edit;
    if (in_.ConsumeBool()) edit.subject = Text("New {{first_name}}");
    if (in_.ConsumeBool()) edit.body = Text("New body");
    if (in_.ConsumeBool()) edit.message = Text("New message");
    if (in_.ConsumeBool()) edit.details = Text("New details");
    return edit;
  }

  void Step() {
    const int steps = static_cast<int>(sequence_.steps.size());
    switch (in_.ConsumeIntegralInRange(0, 14)) {
      case 0:
        Act(Action::kPause, domain::PauseRecipient{},
            domain::BulkAction::kPause);
        break;
      case 1:
        Act(Action::kResume, domain::ResumeRecipient{},
            domain::BulkAction::kResume);
        break;
      case 2:
        Act(Action::kSkipStep, domain::SkipStep{},
            domain::BulkAction::kSkipStep);
        break;
      case 3:
        Act(Action::kEditContent,
            domain::EditContent{in_.ConsumeIntegralInRange(-1, steps), Edit()},
            domain::BulkAction::kEditContent);
        break;
      case 4:
        Act(Action::kStop, domain::StopRecipient{}, domain::BulkAction::kStop);
        break;
      case 5:
        Act(Action::kDelete, domain::DeleteRecipient{},
            domain::BulkAction::kDelete);
        break;
      case 6: {
        domain::CompleteManualStep command;
        if (in_.ConsumeBool()) {
          command.step_index = in_.ConsumeIntegralInRange(-1, steps);
        }
        Act(Action::kCompleteManualStep, command, std::nullopt);
        break;
      }
      case 7: {
        domain::RecordSignal signal;
        signal.signal =
            static_cast<domain::SignalType>(in_.ConsumeIntegralInRange(0, 3));
        signal.detail = in_.ConsumeRandomLengthString(20);
        Other(signal);
        break;
      }
      case 8: {
        auto events = domain::DecidePauseSequence(sequence_, Context());
        if (events.ok()) {
          ApplySequence(std::move(events));
          Other(domain::PauseBySequence{});
        }
        break;
      }
      case 9: {
        auto events = domain::DecideResumeSequence(sequence_, Context());
        if (events.ok()) {
          ApplySequence(std::move(events));
          Other(domain::ResumeBySequence{});
        }
        break;
      }
      case 10:
        now_ += absl::Minutes(in_.ConsumeIntegralInRange(0, 8) * 15);
        Other(domain::MarkStepDue{});
        break;
      case 11: {
        domain::BeginSend begin;
        begin.lease_token = absl::StrCat("lease-", ++leases_);
        begin.leased_version = recipient_.version - (in_.ConsumeBool() ? 0 : 1);
        Other(begin);
        break;
      }
      case 12: {
        domain::ReportDelivery report;
        report.lease_token = in_.ConsumeBool() ? recipient_.in_flight_token
                             : in_.ConsumeBool()
                                 ? recipient_.last_reported_token
                                 : absl::StrCat("lease-", leases_ + 1);
        report.outcome = static_cast<domain::DeliveryOutcome>(
            in_.ConsumeIntegralInRange(0, 2));
        report.provider_message_id = "provider";
        report.error_message = "error";
        Other(report);
        break;
      }
      case 13: {
        const bool allowed = domain::CheckActionAvailable(Action::kViewContent,
                                                          recipient_, sequence_)
                                 .ok();
        auto view = domain::ViewContent(recipient_, sequence_, now_);
        CHECK_OR_TRAP(view.ok() == allowed);
        const bool skip_allowed = domain::CheckActionAvailable(
                                      Action::kSkipStep, recipient_, sequence_)
                                      .ok();
        auto preview = domain::PreviewSkip(recipient_, sequence_, now_);
        if (preview.ok()) CHECK_OR_TRAP(skip_allowed);
        if (!recipient_.deleted) {
          domain::DescribeSteps(recipient_, sequence_, now_);
          domain::ResolveCurrentStep(recipient_, sequence_);
        }
        break;
      }
      default:
        now_ += absl::Minutes(in_.ConsumeIntegralInRange(1, 600));
        break;
    }
  }

  // Folds the stored form of every event from nothing.
  void Replay() {
    domain::Sequence sequence;
    for (const auto& event : sequence_events_) {
      auto decoded = app::SequenceEventFromProto(app::ToProto(event));
      CHECK_OR_TRAP(decoded.ok());
      sequence = domain::Evolve(std::move(sequence), *decoded);
    }
    CHECK_OR_TRAP(SameSequence(sequence, sequence_));
    domain::Recipient recipient;
    for (const auto& event : recipient_events_) {
      auto decoded = app::RecipientEventFromProto(app::ToProto(event));
      CHECK_OR_TRAP(decoded.ok());
      recipient = domain::Evolve(std::move(recipient), *decoded);
    }
    CHECK_OR_TRAP(SameRecipient(recipient, recipient_));
  }

  FuzzedDataProvider& in_;
  absl::Time now_ = absl::FromUnixSeconds(1767600000);
  int requests_ = 0;
  int leases_ = 0;
  domain::Sequence sequence_;
  domain::Recipient recipient_;
  std::vector<domain::SequenceEvent> sequence_events_;
  std::vector<domain::RecipientEvent> recipient_events_;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  Run(in).Go();
  return 0;
}
