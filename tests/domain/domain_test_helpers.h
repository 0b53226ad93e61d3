// Builders shared by the domain tests: sequences, contexts, and recipients
// reached by folding the events real decisions produce.

#ifndef SEQUENCER_TESTS_DOMAIN_DOMAIN_TEST_HELPERS_H_
#define SEQUENCER_TESTS_DOMAIN_DOMAIN_TEST_HELPERS_H_

#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "domain/events.h"
#include "domain/model.h"
#include "domain/recipient.h"
#include "domain/refusal.h"
#include "domain/sequence.h"
#include "gtest/gtest.h"

namespace sequencer::domain::test {

inline const absl::Time kT0 = absl::FromUnixSeconds(1700000000);  // 2023-11-14

inline DecisionContext Ctx(absl::Time now, std::string request_id = "req-1") {
  return DecisionContext{"tenant-1", "alice@example.com", std::move(request_id),
                         now};
}

inline StepDefinition Email(
    absl::Duration delay, std::string subject = "Hi {{first_name}}",
    std::string body = "Hello {{first_name}} from {{company}}") {
  StepDefinition step;
  step.type = StepType::kEmail;
  step.delay = delay;
  step.content.subject = std::move(subject);
  step.content.body = std::move(body);
  return step;
}

inline StepDefinition Task(absl::Duration delay,
                           std::string details = "Call {{first_name}}") {
  StepDefinition step;
  step.type = StepType::kTask;
  step.mode = StepMode::kManual;
  step.delay = delay;
  step.content.details = std::move(details);
  return step;
}

inline StepDefinition Sms(absl::Duration delay,
                          std::string body = "Hi {{first_name}}") {
  StepDefinition step;
  step.type = StepType::kSms;
  step.delay = delay;
  step.content.body = std::move(body);
  return step;
}

inline StepDefinition Social(absl::Duration delay,
                             std::string message = "Hey {{first_name}}") {
  StepDefinition step;
  step.type = StepType::kSocialMessage;
  step.delay = delay;
  step.content.message = std::move(message);
  return step;
}

inline absl::Duration Days(int n) { return absl::Hours(24 * n); }

// A sequence created through DecideCreateSequence and folded; fails the test
// when refused.
inline Sequence MakeSequence(std::vector<StepDefinition> steps,
                             bool stop_on_response = true,
                             std::string id = "seq-1") {
  CreateSequence command{std::move(id), "Outreach", std::move(steps),
                         stop_on_response};
  absl::StatusOr<std::vector<SequenceEvent>> events =
      DecideCreateSequence(command, Sequence{}, Ctx(kT0));
  EXPECT_TRUE(events.ok()) << events.status();
  Sequence sequence;
  if (!events.ok()) return sequence;
  for (const SequenceEvent& event : *events)
    sequence = Evolve(std::move(sequence), event);
  return sequence;
}

inline Sequence PauseSequence(Sequence sequence, absl::Time at) {
  absl::StatusOr<std::vector<SequenceEvent>> events =
      DecidePauseSequence(sequence, Ctx(at));
  EXPECT_TRUE(events.ok()) << events.status();
  if (!events.ok()) return sequence;
  for (const SequenceEvent& event : *events)
    sequence = Evolve(std::move(sequence), event);
  return sequence;
}

inline Recipient Fold(Recipient state,
                      const std::vector<RecipientEvent>& events) {
  for (const RecipientEvent& event : events)
    state = Evolve(std::move(state), event);
  return state;
}

inline RecipientEvent At(absl::Time at, RecipientEventPayload payload) {
  return RecipientEvent{EventMetadata{"tenant-1", "worker", "req-w", at},
                        std::move(payload)};
}

// A recipient's life: its state, the events that made it, and the sequence it
// belongs to.
struct Life {
  Sequence sequence;
  Recipient recipient;
  std::vector<RecipientEvent> events;

  // Decides `command` at `now`; the events are appended and folded. Fails the
  // test when refused.
  void Do(const RecipientCommand& command, absl::Time now) {
    absl::StatusOr<std::vector<RecipientEvent>> decided =
        Decide(command, recipient, sequence, Ctx(now));
    ASSERT_TRUE(decided.ok()) << decided.status();
    Apply(*decided);
  }
  // Decides `command` at `now` without applying the events.
  absl::StatusOr<std::vector<RecipientEvent>> Try(
      const RecipientCommand& command, absl::Time now) const {
    return Decide(command, recipient, sequence, Ctx(now));
  }
  // Appends and folds events produced elsewhere (delivery results).
  void Apply(const std::vector<RecipientEvent>& more) {
    for (const RecipientEvent& event : more) {
      events.push_back(event);
      recipient = Evolve(std::move(recipient), event);
    }
  }
};

inline EnrollRecipient Alice() {
  EnrollRecipient command;
  command.recipient_id = "rcpt-alice";
  command.contact.email = "alice@corp.example";
  command.variables = {{"first_name", "Alice"}, {"company", "Corp"}};
  return command;
}

// Enrolls Alice at `now`.
inline Life Enrolled(Sequence sequence, absl::Time now = kT0,
                     EnrollRecipient command = Alice()) {
  Life life;
  life.sequence = std::move(sequence);
  absl::StatusOr<std::vector<RecipientEvent>> events =
      DecideEnroll(command, life.sequence, Recipient{}, Ctx(now));
  EXPECT_TRUE(events.ok()) << events.status();
  if (events.ok()) life.Apply(*events);
  return life;
}

// Compares every field of two recipients.
inline void ExpectSameRecipient(const Recipient& a, const Recipient& b) {
  EXPECT_EQ(a.exists, b.exists);
  EXPECT_EQ(a.deleted, b.deleted);
  EXPECT_EQ(a.tenant_id, b.tenant_id);
  EXPECT_EQ(a.sequence_id, b.sequence_id);
  EXPECT_EQ(a.recipient_id, b.recipient_id);
  EXPECT_EQ(a.contact, b.contact);
  EXPECT_EQ(a.variables, b.variables);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.current_step, b.current_step);
  EXPECT_EQ(a.due_at, b.due_at);
  EXPECT_EQ(a.remaining_delay, b.remaining_delay);
  EXPECT_EQ(a.paused_from, b.paused_from);
  EXPECT_EQ(a.paused_by_sequence, b.paused_by_sequence);
  EXPECT_EQ(a.awaiting_manual_action, b.awaiting_manual_action);
  EXPECT_EQ(a.awaiting_delivery, b.awaiting_delivery);
  EXPECT_EQ(a.in_flight_token, b.in_flight_token);
  EXPECT_EQ(a.last_reported_token, b.last_reported_token);
  EXPECT_EQ(a.send_deadline, b.send_deadline);
  EXPECT_EQ(a.unreported_send.lease_token, b.unreported_send.lease_token);
  EXPECT_EQ(a.unreported_send.step_index, b.unreported_send.step_index);
  EXPECT_EQ(a.unreported_send.content, b.unreported_send.content);
  EXPECT_EQ(a.responded, b.responded);
  EXPECT_EQ(a.meeting_booked, b.meeting_booked);
  EXPECT_EQ(a.stopped_by_rule, b.stopped_by_rule);
  EXPECT_EQ(a.error_message, b.error_message);
  EXPECT_EQ(a.enrolled_at, b.enrolled_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.report.last_sent_step, b.report.last_sent_step);
  EXPECT_TRUE(a.report.steps == b.report.steps);
  EXPECT_TRUE(a.report.before_first_send == b.report.before_first_send);
  ASSERT_EQ(a.steps.size(), b.steps.size());
  for (size_t i = 0; i < a.steps.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("step ", i));
    EXPECT_EQ(a.steps[i].state, b.steps[i].state);
    EXPECT_EQ(a.steps[i].override_content, b.steps[i].override_content);
    EXPECT_EQ(a.steps[i].sent_content, b.steps[i].sent_content);
    EXPECT_EQ(a.steps[i].completed_at, b.steps[i].completed_at);
    EXPECT_EQ(a.steps[i].dispatched_content, b.steps[i].dispatched_content);
  }
}

// The refusal's reason; nullopt when the status carries none.
inline std::optional<RefusalReason> ReasonOf(const absl::Status& status) {
  std::optional<Refusal> refusal = GetRefusal(status);
  if (!refusal.has_value()) return std::nullopt;
  return refusal->reason;
}

}  // namespace sequencer::domain::test

namespace sequencer::domain {

// gtest prints a reason by its wire name.
inline void PrintTo(RefusalReason reason, std::ostream* os) {
  *os << RefusalReasonName(reason);
}

}  // namespace sequencer::domain

#endif  // SEQUENCER_TESTS_DOMAIN_DOMAIN_TEST_HELPERS_H_
