// The runtime commands: the scheduler marking steps due (MarkStepDue) and the
// two-phase delivery of automatic steps (BeginSend, ReportDelivery), with the
// races the product contract settles (pause wins over a send not begun; a
// send that had begun is recorded when its result comes).

#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "domain/events.h"
#include "domain/model.h"
#include "domain/recipient.h"
#include "domain/refusal.h"
#include "gtest/gtest.h"
#include "tests/domain/domain_test_helpers.h"
#include "tests/util/status_matchers.h"
#include "tests/util/test_util.h"

namespace sequencer::domain::test {
namespace {

using ::sequencer::testing::StatusIs;

using Events = std::vector<RecipientEvent>;

// Step 0: email after 3 days; step 1: SMS after 2 days; step 2: a task due at
// once.
Sequence Three(bool stop_on_response = true) {
  return MakeSequence(
      {Email(Days(3)), Sms(Days(2)), Task(absl::ZeroDuration())},
      stop_on_response);
}

const absl::Time kDue0 = kT0 + Days(3);  // Step 0 of Three() is due.

// A lease granted now: the token and the recipient's version.
// The send deadline is long here, so that sends stay in flight through the
// races below; tests/domain/send_deadline_test.cc covers the deadline.
BeginSend LeaseNow(const Life& life, std::string token) {
  return BeginSend{std::move(token), life.recipient.version, Days(30)};
}

ReportDelivery Sent(std::string token, std::string provider_id = "msg-1") {
  ReportDelivery report;
  report.lease_token = std::move(token);
  report.outcome = DeliveryOutcome::kSent;
  report.provider_message_id = std::move(provider_id);
  return report;
}

ReportDelivery Failed(std::string token, std::string error) {
  ReportDelivery report;
  report.lease_token = std::move(token);
  report.outcome = DeliveryOutcome::kFailed;
  report.error_message = std::move(error);
  return report;
}

ReportDelivery BouncedReport(std::string token, std::string error) {
  ReportDelivery report;
  report.lease_token = std::move(token);
  report.outcome = DeliveryOutcome::kBounced;
  report.error_message = std::move(error);
  return report;
}

// Alice's step 0 of Three() is due, queued, and its send has begun under
// token "L1" (at kDue0).
Life InFlight(Sequence sequence = Three()) {
  Life life = Enrolled(std::move(sequence));
  life.Do(MarkStepDue{}, kDue0);
  EXPECT_TRUE(life.recipient.awaiting_delivery);
  life.Do(LeaseNow(life, "L1"), kDue0);
  EXPECT_EQ(life.recipient.in_flight_token, "L1");
  return life;
}

void ExpectRefused(const absl::StatusOr<Events>& decided,
                   RefusalReason reason) {
  ASSERT_FALSE(decided.ok());
  EXPECT_THAT(decided.status(), StatusIs(absl::StatusCode::kFailedPrecondition))
      << decided.status();
  EXPECT_EQ(ReasonOf(decided.status()), reason) << decided.status();
}

void ExpectNoEvents(const absl::StatusOr<Events>& decided) {
  ASSERT_TRUE(decided.ok()) << decided.status();
  EXPECT_TRUE(decided->empty()) << EventName(decided->front().payload);
}

// A metadata value of the status's refusal; empty when absent.
std::string MetadataOf(const absl::Status& status, const std::string& key) {
  std::optional<Refusal> refusal = GetRefusal(status);
  if (!refusal.has_value()) return "";
  auto it = refusal->metadata.find(key);
  return it == refusal->metadata.end() ? "" : it->second;
}

std::string Describe(const StepContent& c) {
  return absl::StrCat("[", c.subject, "|", c.body, "|", c.message, "|",
                      c.details, "]");
}

std::string Describe(const Advance& a) {
  return absl::StrCat("{", a.next_step, ",",
                      std::string(StatusName(a.next_status)), ",",
                      a.next_due_at ? absl::FormatTime(*a.next_due_at) : "-",
                      ",", a.awaiting_manual_action, "}");
}

// A text form of an event with its runtime fields, to compare decisions.
std::string Describe(const RecipientEvent& event) {
  std::string out =
      absl::StrCat(std::string(EventName(event.payload)), "@",
                   absl::FormatTime(event.metadata.occurred_at), " ",
                   event.metadata.actor, " ", event.metadata.request_id, ": ");
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, StepDue>) {
          absl::StrAppend(&out, e.step_index, " ", e.manual);
        } else if constexpr (std::is_same_v<T, StepDispatched>) {
          absl::StrAppend(&out, e.step_index, " ", Describe(e.content), " ",
                          e.lease_token);
        } else if constexpr (std::is_same_v<T, StepCompleted>) {
          absl::StrAppend(&out, e.step_index, " ", Describe(e.content), " ",
                          e.provider_message_id, " ", Describe(e.advance), " ",
                          e.lease_token);
        } else if constexpr (std::is_same_v<T, StepFailed>) {
          absl::StrAppend(&out, e.step_index, " ", e.error_message, " ",
                          e.lease_token);
        } else if constexpr (std::is_same_v<T, Bounced>) {
          absl::StrAppend(&out, e.detail, " ", e.recorded_only, " ",
                          e.lease_token);
        } else if constexpr (std::is_same_v<T, Paused>) {
          absl::StrAppend(&out, std::string(StatusName(e.paused_from)), " ",
                          absl::FormatDuration(e.remaining_delay));
        } else if constexpr (std::is_same_v<T, Resumed>) {
          absl::StrAppend(
              &out, std::string(StatusName(e.status)), " ",
              e.next_due_at ? absl::FormatTime(*e.next_due_at) : "-");
        } else if constexpr (std::is_same_v<T, ManualStepCompleted>) {
          absl::StrAppend(&out, e.step_index, " ", Describe(e.advance));
        }
      },
      event.payload);
  return out;
}

std::vector<std::string> DescribeAll(const Events& events) {
  std::vector<std::string> out;
  for (const RecipientEvent& event : events) out.push_back(Describe(event));
  return out;
}

const ActionAvailability& Availability(
    const std::vector<ActionAvailability>& all, Action action) {
  for (const ActionAvailability& a : all) {
    if (a.action == action) return a;
  }
  ADD_FAILURE() << "no availability for " << ActionName(action);
  return all.front();
}

// ---- Content and channel.

TEST(ResolveCurrentStepTest, EffectiveContentResolvedWithMissingInOrder) {
  Sequence sequence = MakeSequence(
      {Email(Days(1), "{{title}} {{first_name}}",
             "Hi {{first_name}} at {{company}}, {{title}} {{custom.team}}")});
  EnrollRecipient alice = Alice();
  alice.variables = {{"first_name", "Alice"}};
  Life life = Enrolled(sequence, kT0, alice);
  ResolvedStep resolved = ResolveCurrentStep(life.recipient, life.sequence);
  EXPECT_EQ(resolved.step_index, 0);
  EXPECT_EQ(resolved.content.subject, "{{title}} Alice");
  EXPECT_EQ(resolved.content.body,
            "Hi Alice at {{company}}, {{title}} {{custom.team}}");
  EXPECT_EQ(resolved.missing_variables,
            (std::vector<std::string>{"title", "company", "custom.team"}));

  // The recipient's override is used; contact fields are variables.
  ContentEdit edit;
  edit.body = "Write to {{email}}";
  life.Do(EditContent{0, edit}, kT0);
  resolved = ResolveCurrentStep(life.recipient, life.sequence);
  EXPECT_EQ(resolved.content.body, "Write to alice@corp.example");
  EXPECT_EQ(resolved.missing_variables, (std::vector<std::string>{"title"}));
}

TEST(ResolveCurrentStepTest, NoStepLeftGivesEmptyContent) {
  Life life = Enrolled(MakeSequence({Email(absl::ZeroDuration())}));
  life.Do(SkipStep{}, kT0);
  ASSERT_EQ(life.recipient.status, RecipientStatus::kFinished);
  ResolvedStep resolved = ResolveCurrentStep(life.recipient, life.sequence);
  EXPECT_EQ(resolved.step_index, 1);
  EXPECT_EQ(resolved.content, StepContent{});
  EXPECT_TRUE(resolved.missing_variables.empty());
}

TEST(DeliveryChannelTest, AutomaticStepsUseTheirTypeManualOnesNone) {
  EXPECT_EQ(DeliveryChannel(Email(Days(1))), StepType::kEmail);
  EXPECT_EQ(DeliveryChannel(Sms(Days(1))), StepType::kSms);
  EXPECT_EQ(DeliveryChannel(Social(Days(1))), StepType::kSocialMessage);
  EXPECT_EQ(DeliveryChannel(Task(Days(1))), std::nullopt);
  StepDefinition manual_email = Email(Days(1));
  manual_email.mode = StepMode::kManual;
  EXPECT_EQ(DeliveryChannel(manual_email), std::nullopt);
}

TEST(EventNameTest, StepDue) {
  EXPECT_EQ(EventName(RecipientEventPayload{StepDue{}}), "StepDue");
}

// ---- MarkStepDue.

TEST(MarkStepDueTest, NothingBeforeTheDueTimeQueuedAtIt) {
  Life life = Enrolled(Three());
  ExpectNoEvents(life.Try(MarkStepDue{}, kDue0 - absl::Seconds(1)));
  ASSIGN_OR_FAIL(Events events, life.Try(MarkStepDue{}, kDue0));
  ASSERT_EQ(events.size(), 1u);
  const StepDue* due = std::get_if<StepDue>(&events[0].payload);
  ASSERT_NE(due, nullptr) << EventName(events[0].payload);
  EXPECT_EQ(due->step_index, 0);
  EXPECT_FALSE(due->manual);
  EXPECT_EQ(events[0].metadata.occurred_at, kDue0);
  const uint64_t version = life.recipient.version;
  life.Apply(events);
  const Recipient& r = life.recipient;
  EXPECT_TRUE(r.awaiting_delivery);
  EXPECT_FALSE(r.awaiting_manual_action);
  EXPECT_EQ(r.status, RecipientStatus::kInProgress);
  EXPECT_EQ(r.due_at, kDue0);  // Kept: it orders the delivery queue.
  EXPECT_EQ(r.current_step, 0);
  EXPECT_EQ(r.steps[0].state, StepState::kCurrent);
  EXPECT_EQ(r.version, version + 1);
  // Later ticks find it already queued.
  ExpectNoEvents(life.Try(MarkStepDue{}, kDue0 + Days(1)));
}

TEST(MarkStepDueTest, ManualStepWaitsForAPerson) {
  Life life = Enrolled(MakeSequence({Task(Days(1)), Email(Days(1))}));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kInProgress);
  life.Do(MarkStepDue{}, kT0 + Days(1));
  ASSERT_EQ(life.events.size(), 2u);
  const StepDue* due = std::get_if<StepDue>(&life.events[1].payload);
  ASSERT_NE(due, nullptr);
  EXPECT_TRUE(due->manual);
  const Recipient& r = life.recipient;
  EXPECT_EQ(r.status, RecipientStatus::kPendingAction);
  EXPECT_TRUE(r.awaiting_manual_action);
  EXPECT_FALSE(r.awaiting_delivery);
  EXPECT_FALSE(r.due_at.has_value());
  SEQ_EXPECT_OK(
      CheckActionAvailable(Action::kCompleteManualStep, r, life.sequence));
  ExpectNoEvents(life.Try(MarkStepDue{}, kT0 + Days(2)));
  life.Do(CompleteManualStep{}, kT0 + Days(2));
  EXPECT_EQ(life.recipient.due_at, kT0 + Days(3));
}

TEST(MarkStepDueTest, ManualStepOfARunningRespondedRecipientKeepsResponded) {
  Life life =
      Enrolled(MakeSequence({Task(Days(1))}, /*stop_on_response=*/false));
  life.Do(RecordSignal{SignalType::kReply, "interested"}, kT0);
  ASSERT_EQ(life.recipient.status, RecipientStatus::kResponded);
  life.Do(MarkStepDue{}, kT0 + Days(1));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kResponded);
  EXPECT_TRUE(life.recipient.awaiting_manual_action);
}

TEST(MarkStepDueTest, AutomaticStepOfARunningRespondedRecipientIsQueued) {
  Life life = Enrolled(Three(/*stop_on_response=*/false));
  life.Do(RecordSignal{SignalType::kMeetingBooked, "tue"}, kT0);
  life.Do(MarkStepDue{}, kDue0);
  EXPECT_EQ(life.recipient.status, RecipientStatus::kMeetingBooked);
  EXPECT_TRUE(life.recipient.awaiting_delivery);
}

TEST(MarkStepDueTest, MissingVariableFailsTheStepNamingIt) {
  EnrollRecipient alice = Alice();
  alice.variables = {{"first_name", "Alice"}};  // No company.
  Life life = Enrolled(Three(), kT0, alice);
  life.Do(MarkStepDue{}, kDue0);
  const StepFailed* failed =
      std::get_if<StepFailed>(&life.events.back().payload);
  ASSERT_NE(failed, nullptr) << EventName(life.events.back().payload);
  EXPECT_EQ(failed->step_index, 0);
  EXPECT_EQ(failed->error_message, "missing variable {{company}}");
  EXPECT_TRUE(failed->lease_token.empty());
  EXPECT_EQ(life.recipient.status, RecipientStatus::kError);
  EXPECT_EQ(life.recipient.error_message, "missing variable {{company}}");
  EXPECT_FALSE(life.recipient.awaiting_delivery);
  // ERROR is not retried by the scheduler.
  ExpectNoEvents(life.Try(MarkStepDue{}, kDue0 + Days(1)));
}

TEST(MarkStepDueTest, EveryMissingVariableIsNamedOnce) {
  EnrollRecipient nobody = Alice();
  nobody.variables.clear();
  Life life = Enrolled(Three(), kT0, nobody);
  life.Do(MarkStepDue{}, kDue0);
  EXPECT_EQ(life.recipient.error_message,
            "missing variables {{first_name}}, {{company}}");
}

TEST(MarkStepDueTest, ManualStepWithMissingVariableStillWaitsForAPerson) {
  EnrollRecipient nobody = Alice();
  nobody.variables.clear();
  Life life = Enrolled(MakeSequence({Task(Days(1))}), kT0, nobody);
  life.Do(MarkStepDue{}, kT0 + Days(1));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kPendingAction);
}

TEST(MarkStepDueTest, NoEventWhenNothingIsDue) {
  const absl::Time late = kDue0 + Days(1);
  struct Case {
    std::string name;
    Life life;
  };
  std::vector<Case> cases;
  {
    Life l = Enrolled(Three());
    l.Do(PauseRecipient{}, kT0 + Days(1));
    cases.push_back({"paused recipient", l});
  }
  {
    Life l = Enrolled(Three());
    l.sequence = PauseSequence(l.sequence, kT0 + Days(1));
    cases.push_back({"paused sequence", l});
  }
  {
    Life l = Enrolled(Three());
    l.sequence = PauseSequence(l.sequence, kT0 + Days(1));
    l.Do(PauseBySequence{}, kT0 + Days(1));
    cases.push_back({"paused by the sequence", l});
  }
  {
    Life l = Enrolled(Three());
    l.Do(MarkStepDue{}, kDue0);
    cases.push_back({"already queued", l});
  }
  cases.push_back({"in flight", InFlight()});
  {
    Life l = InFlight();
    l.Do(PauseRecipient{}, kDue0);
    l.Do(ResumeRecipient{}, kDue0 + absl::Hours(1));
    cases.push_back({"resumed with a send in flight", l});
  }
  {
    Life l = Enrolled(Three());
    l.Do(StopRecipient{}, kT0 + Days(1));
    cases.push_back({"stopped", l});
  }
  {
    Life l = Enrolled(Three());
    l.Do(RecordSignal{SignalType::kReply, ""}, kT0 + Days(1));
    cases.push_back({"responded, stopped by rule", l});
  }
  {
    Life l = Enrolled(MakeSequence({Task(absl::ZeroDuration())}));
    cases.push_back({"pending action", l});
  }
  {
    Life l = Enrolled(Three());
    l.Apply({At(kDue0, StepFailed{0, "boom", ""})});
    cases.push_back({"error", l});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ExpectNoEvents(c.life.Try(MarkStepDue{}, late));
  }
}

TEST(MarkStepDueTest, DeletedOrUnknownRecipientIsNotFound) {
  Life life = Enrolled(Three());
  life.Do(DeleteRecipient{}, kT0);
  EXPECT_THAT(life.Try(MarkStepDue{}, kDue0).status(),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(
      Decide(MarkStepDue{}, Recipient{}, life.sequence, Ctx(kDue0)).status(),
      StatusIs(absl::StatusCode::kNotFound));
}

// ---- BeginSend.

TEST(BeginSendTest, DispatchesTheResolvedContentUnderTheLease) {
  Life life = Enrolled(Three());
  life.Do(MarkStepDue{}, kDue0);
  const absl::Time at = kDue0 + absl::Minutes(1);
  ASSIGN_OR_FAIL(Events events, life.Try(LeaseNow(life, "L1"), at));
  ASSERT_EQ(events.size(), 1u);
  const StepDispatched* dispatched =
      std::get_if<StepDispatched>(&events[0].payload);
  ASSERT_NE(dispatched, nullptr) << EventName(events[0].payload);
  EXPECT_EQ(dispatched->step_index, 0);
  EXPECT_EQ(dispatched->content.subject, "Hi Alice");
  EXPECT_EQ(dispatched->content.body, "Hello Alice from Corp");
  EXPECT_EQ(dispatched->lease_token, "L1");
  life.Apply(events);
  const Recipient& r = life.recipient;
  EXPECT_EQ(r.in_flight_token, "L1");
  EXPECT_FALSE(r.awaiting_delivery);
  EXPECT_EQ(r.status, RecipientStatus::kInProgress);
  EXPECT_EQ(r.steps[0].state, StepState::kCurrent);
  ASSERT_TRUE(r.steps[0].dispatched_content.has_value());
  EXPECT_EQ(*r.steps[0].dispatched_content, dispatched->content);
  EXPECT_FALSE(r.steps[0].sent_content.has_value());
  // The view shows what went out.
  std::vector<StepView> views = DescribeSteps(r, life.sequence, at);
  EXPECT_EQ(views[0].state, StepState::kCurrent);
  EXPECT_EQ(views[0].content.subject, "Hi Alice");
}

TEST(BeginSendTest, RefusedWhenTheRecipientChangedSinceTheLease) {
  Life life = Enrolled(Three());
  life.Do(MarkStepDue{}, kDue0);
  const BeginSend lease = LeaseNow(life, "L1");
  life.Do(PauseRecipient{}, kDue0 + absl::Minutes(1));
  EXPECT_FALSE(life.recipient.awaiting_delivery);
  EXPECT_EQ(life.recipient.remaining_delay, absl::ZeroDuration());
  const absl::Time resume_at = kDue0 + absl::Minutes(2);
  life.Do(ResumeRecipient{}, resume_at);
  EXPECT_EQ(life.recipient.due_at, resume_at);
  absl::StatusOr<Events> refused = life.Try(lease, resume_at);
  ExpectRefused(refused, RefusalReason::kLeaseRevoked);
  EXPECT_EQ(MetadataOf(refused.status(), "action"), "BEGIN_SEND");
  EXPECT_EQ(MetadataOf(refused.status(), "status"),
            "RECIPIENT_STATUS_IN_PROGRESS");
  // Not queued any more: even a lease of the current version is refused
  // until the scheduler queues the step again.
  ExpectRefused(life.Try(LeaseNow(life, "L2"), resume_at),
                RefusalReason::kLeaseRevoked);
  life.Do(MarkStepDue{}, resume_at);
  // Queued again, yet the old lease stays revoked: the version changed.
  ASSERT_TRUE(life.recipient.awaiting_delivery);
  ExpectRefused(life.Try(lease, resume_at), RefusalReason::kLeaseRevoked);
  life.Do(LeaseNow(life, "L3"), resume_at);
  EXPECT_EQ(life.recipient.in_flight_token, "L3");
}

TEST(BeginSendTest, RefusedAfterAnyChangeEvenWhileStillQueued) {
  // A reply that does not stop the sequence keeps the step queued, but the
  // recipient changed since the lease.
  Life life = Enrolled(Three(/*stop_on_response=*/false));
  life.Do(MarkStepDue{}, kDue0);
  const BeginSend lease = LeaseNow(life, "L1");
  life.Do(RecordSignal{SignalType::kReply, "tell me more"}, kDue0);
  ASSERT_TRUE(life.recipient.awaiting_delivery);
  ExpectRefused(life.Try(lease, kDue0), RefusalReason::kLeaseRevoked);
  SEQ_EXPECT_OK(life.Try(LeaseNow(life, "L2"), kDue0));
}

TEST(BeginSendTest, RefusedWhenTheSendMustNotGoOut) {
  struct Case {
    std::string name;
    Life life;
    bool stale_version = false;  // Lease granted before the last change.
  };
  std::vector<Case> cases;
  auto queued = [] {
    Life l = Enrolled(Three());
    l.Do(MarkStepDue{}, kDue0);
    return l;
  };
  {
    Life l = queued();
    l.Do(PauseRecipient{}, kDue0);
    cases.push_back({"paused", l});
  }
  {
    Life l = queued();
    l.Do(StopRecipient{}, kDue0);
    cases.push_back({"stopped", l});
  }
  {
    Life l = queued();
    l.sequence = PauseSequence(l.sequence, kDue0);
    cases.push_back({"sequence paused (recipient not yet paused)", l});
  }
  {
    Life l = queued();
    l.sequence = PauseSequence(l.sequence, kDue0);
    l.Do(PauseBySequence{}, kDue0);
    cases.push_back({"paused by the sequence", l});
  }
  cases.push_back({"already in flight", InFlight()});
  {
    Life l = queued();
    ContentEdit edit;
    edit.subject = "New subject";
    l.Do(EditContent{0, edit}, kDue0);
    EXPECT_FALSE(l.recipient.awaiting_delivery);
    cases.push_back({"edited after the lease", l, /*stale_version=*/true});
    cases.push_back({"edited: not queued any more", l});
  }
  {
    Life l = queued();
    l.Do(SkipStep{}, kDue0);
    cases.push_back({"skipped", l});
  }
  {
    Life l = queued();
    l.Do(RecordSignal{SignalType::kBounce, "550"}, kDue0);
    cases.push_back({"bounced", l});
  }
  {
    Life l = queued();
    l.Do(RecordSignal{SignalType::kReply, "no thanks"}, kDue0);
    cases.push_back({"stopped by rule", l});
  }
  {
    Life l = queued();
    l.Do(DeleteRecipient{}, kDue0);
    cases.push_back({"deleted", l});
  }
  cases.push_back({"never queued", Enrolled(Three())});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    BeginSend lease = LeaseNow(c.life, "L9");
    if (c.stale_version) --lease.leased_version;
    ExpectRefused(c.life.Try(lease, kDue0 + absl::Minutes(5)),
                  RefusalReason::kLeaseRevoked);
  }
}

TEST(BeginSendTest, EmptyTokenIsInvalid) {
  Life life = Enrolled(Three());
  life.Do(MarkStepDue{}, kDue0);
  EXPECT_THAT(life.Try(LeaseNow(life, ""), kDue0).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// ---- ReportDelivery.

TEST(ReportDeliveryTest, SentCompletesTheStepAndTheNextIsDueAfterItsDelay) {
  Life life = InFlight();
  const absl::Time sent_at = kDue0 + absl::Minutes(3);
  ASSIGN_OR_FAIL(Events events, life.Try(Sent("L1", "msg-42"), sent_at));
  ASSERT_EQ(events.size(), 1u);
  const StepCompleted* completed =
      std::get_if<StepCompleted>(&events[0].payload);
  ASSERT_NE(completed, nullptr) << EventName(events[0].payload);
  EXPECT_EQ(completed->step_index, 0);
  EXPECT_EQ(completed->content.subject, "Hi Alice");
  EXPECT_EQ(completed->content.body, "Hello Alice from Corp");
  EXPECT_EQ(completed->provider_message_id, "msg-42");
  EXPECT_EQ(completed->lease_token, "L1");
  EXPECT_EQ(completed->advance.next_step, 1);
  EXPECT_EQ(completed->advance.next_status, RecipientStatus::kInProgress);
  EXPECT_EQ(completed->advance.next_due_at, sent_at + Days(2));
  life.Apply(events);
  const Recipient& r = life.recipient;
  EXPECT_EQ(r.status, RecipientStatus::kInProgress);
  EXPECT_EQ(r.current_step, 1);
  EXPECT_EQ(r.due_at, sent_at + Days(2));
  EXPECT_TRUE(r.in_flight_token.empty());
  EXPECT_EQ(r.last_reported_token, "L1");
  EXPECT_FALSE(r.awaiting_delivery);
  EXPECT_EQ(r.steps[0].state, StepState::kCompleted);
  EXPECT_EQ(r.steps[0].sent_content, completed->content);
  EXPECT_EQ(r.steps[0].completed_at, sent_at);
  EXPECT_FALSE(r.steps[0].dispatched_content.has_value());
  EXPECT_EQ(r.steps[1].state, StepState::kCurrent);
}

TEST(ReportDeliveryTest, SentBeforeAManualStepWithoutDelayIsPendingAction) {
  Life life =
      Enrolled(MakeSequence({Sms(Days(1)), Task(absl::ZeroDuration())}));
  life.Do(MarkStepDue{}, kT0 + Days(1));
  life.Do(LeaseNow(life, "L1"), kT0 + Days(1));
  life.Do(Sent("L1"), kT0 + Days(1));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kPendingAction);
  EXPECT_TRUE(life.recipient.awaiting_manual_action);
  EXPECT_EQ(life.recipient.current_step, 1);
}

TEST(ReportDeliveryTest, SentOfTheLastStepFinishes) {
  Life life = Enrolled(MakeSequence({Email(Days(1))}));
  life.Do(MarkStepDue{}, kT0 + Days(1));
  life.Do(LeaseNow(life, "L1"), kT0 + Days(1));
  ASSIGN_OR_FAIL(Events events, life.Try(Sent("L1"), kT0 + Days(1)));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(EventName(events[0].payload), "StepCompleted");
  EXPECT_EQ(EventName(events[1].payload), "Finished");
  life.Apply(events);
  EXPECT_EQ(life.recipient.status, RecipientStatus::kFinished);
  EXPECT_EQ(life.recipient.steps[0].state, StepState::kCompleted);
  EXPECT_TRUE(life.recipient.in_flight_token.empty());
}

TEST(ReportDeliveryTest, FailedPutsTheRecipientInError) {
  Life life = InFlight();
  life.Do(Failed("L1", "smtp 550 mailbox unavailable"), kDue0);
  const Recipient& r = life.recipient;
  EXPECT_EQ(r.status, RecipientStatus::kError);
  EXPECT_EQ(r.error_message, "smtp 550 mailbox unavailable");
  EXPECT_EQ(r.current_step, 0);
  EXPECT_TRUE(r.in_flight_token.empty());
  EXPECT_EQ(r.last_reported_token, "L1");
  EXPECT_FALSE(r.steps[0].dispatched_content.has_value());
  const StepFailed* failed =
      std::get_if<StepFailed>(&life.events.back().payload);
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->lease_token, "L1");
  // Editing the errored step re-queues it for the scheduler.
  ContentEdit edit;
  edit.subject = "Retry";
  life.Do(EditContent{0, edit}, kDue0 + Days(1));
  life.Do(MarkStepDue{}, kDue0 + Days(1));
  EXPECT_TRUE(life.recipient.awaiting_delivery);
}

// The server answered INVALID_ARGUMENT for it (its tests assert so) while the
// domain gave a default message: the domain's rule is now the only one.
TEST(ReportDeliveryTest, FailedWithoutMessageIsInvalidArgument) {
  Life life = InFlight();
  absl::StatusOr<Events> decided = life.Try(Failed("L1", ""), kDue0);
  EXPECT_EQ(decided.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(decided.status().message(),
            "error_message: required when the outcome is FAILED");
  EXPECT_EQ(decided.status(), ValidateReportDelivery(Failed("L1", "")));
  SEQ_EXPECT_OK(ValidateReportDelivery(Failed("L1", "mailbox full")));
  SEQ_EXPECT_OK(ValidateReportDelivery(Sent("L1")));
}

TEST(ReportDeliveryTest, BouncedEndsTheRecipient) {
  Life life = InFlight();
  ReportDelivery report = BouncedReport("L1", "550 no such user");
  report.provider_message_id = "msg-7";
  ASSIGN_OR_FAIL(Events events, life.Try(report, kDue0));
  ASSERT_EQ(events.size(), 1u);
  const Bounced* bounced = std::get_if<Bounced>(&events[0].payload);
  ASSERT_NE(bounced, nullptr) << EventName(events[0].payload);
  EXPECT_TRUE(absl::StrContains(bounced->detail, "550 no such user"));
  EXPECT_TRUE(absl::StrContains(bounced->detail, "msg-7"));
  EXPECT_FALSE(bounced->recorded_only);
  EXPECT_EQ(bounced->lease_token, "L1");
  life.Apply(events);
  EXPECT_EQ(life.recipient.status, RecipientStatus::kBounced);
  EXPECT_TRUE(life.recipient.IsFinal());
  EXPECT_TRUE(life.recipient.in_flight_token.empty());
  EXPECT_EQ(life.recipient.last_reported_token, "L1");
  EXPECT_FALSE(life.recipient.steps[0].dispatched_content.has_value());
}

TEST(ReportDeliveryTest, DuplicateReportGivesNoEvent) {
  for (const ReportDelivery& report :
       {Sent("L1"), Failed("L1", "x"), BouncedReport("L1", "y")}) {
    SCOPED_TRACE(static_cast<int>(report.outcome));
    Life life = InFlight();
    life.Do(report, kDue0);
    const Recipient before = life.recipient;
    ExpectNoEvents(life.Try(report, kDue0 + absl::Hours(1)));
    // Even with another outcome: the first report is what was recorded.
    ExpectNoEvents(life.Try(Failed("L1", "late"), kDue0 + absl::Hours(1)));
    ExpectSameRecipient(life.recipient, before);
  }
}

TEST(ReportDeliveryTest, UnknownTokenIsStale) {
  Life life = InFlight();
  absl::StatusOr<Events> refused = life.Try(Sent("L-other"), kDue0);
  ExpectRefused(refused, RefusalReason::kStaleLease);
  EXPECT_EQ(MetadataOf(refused.status(), "action"), "REPORT_DELIVERY");
  ExpectRefused(life.Try(Sent(""), kDue0), RefusalReason::kStaleLease);
  // Nothing in flight at all.
  Life idle = Enrolled(Three());
  ExpectRefused(idle.Try(Sent("L1"), kDue0), RefusalReason::kStaleLease);
  ExpectRefused(idle.Try(Sent(""), kDue0), RefusalReason::kStaleLease);
  // An older token after a newer send began.
  life.Do(Sent("L1"), kDue0);
  life.Do(MarkStepDue{}, kDue0 + Days(2));
  life.Do(LeaseNow(life, "L2"), kDue0 + Days(2));
  ExpectRefused(life.Try(Sent("L0"), kDue0 + Days(2)),
                RefusalReason::kStaleLease);
  // The previous send's token is still a duplicate of its recorded result.
  ExpectNoEvents(life.Try(Sent("L1"), kDue0 + Days(2)));
  life.Do(Sent("L2"), kDue0 + Days(2));
  EXPECT_EQ(life.recipient.current_step, 2);
}

TEST(ReportDeliveryTest, DeletedRecipientIsNotFound) {
  Life life = InFlight();
  life.Do(DeleteRecipient{}, kDue0);
  EXPECT_TRUE(life.recipient.in_flight_token.empty());
  EXPECT_FALSE(life.recipient.steps[0].dispatched_content.has_value());
  EXPECT_THAT(life.Try(Sent("L1"), kDue0).status(),
              StatusIs(absl::StatusCode::kNotFound));
}

// ---- Races with pause, stop and the sequence.

TEST(RaceTest, PauseRevokesAQueuedSendWhichRunsAfterResume) {
  Life life = Enrolled(Three());
  life.Do(MarkStepDue{}, kDue0);
  life.Do(PauseRecipient{}, kDue0 + absl::Minutes(1));
  EXPECT_FALSE(life.recipient.awaiting_delivery);
  EXPECT_EQ(life.recipient.remaining_delay, absl::ZeroDuration());
  ExpectNoEvents(life.Try(MarkStepDue{}, kDue0 + Days(1)));
  life.Do(ResumeRecipient{}, kDue0 + Days(1));
  EXPECT_EQ(life.recipient.due_at, kDue0 + Days(1));
  life.Do(MarkStepDue{}, kDue0 + Days(1));
  EXPECT_TRUE(life.recipient.awaiting_delivery);
}

TEST(RaceTest, SequencePauseRevokesAQueuedSend) {
  Life life = Enrolled(Three());
  life.Do(MarkStepDue{}, kDue0);
  life.sequence = PauseSequence(life.sequence, kDue0);
  life.Do(PauseBySequence{}, kDue0);
  EXPECT_EQ(life.recipient.status, RecipientStatus::kPaused);
  EXPECT_FALSE(life.recipient.awaiting_delivery);
}

TEST(RaceTest, ReportWhilePausedStaysPausedAndTheNextDelayStartsAtResume) {
  Life life = InFlight();
  life.Do(PauseRecipient{}, kDue0 + absl::Minutes(1));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kPaused);
  EXPECT_EQ(life.recipient.in_flight_token, "L1");  // Not recalled.
  life.Do(Sent("L1"), kDue0 + absl::Minutes(2));
  const Recipient& r = life.recipient;
  EXPECT_EQ(r.status, RecipientStatus::kPaused);
  EXPECT_EQ(r.paused_from, RecipientStatus::kInProgress);
  EXPECT_EQ(r.current_step, 1);
  EXPECT_EQ(r.remaining_delay, Days(2));
  EXPECT_FALSE(r.due_at.has_value());
  EXPECT_EQ(r.steps[0].state, StepState::kCompleted);
  EXPECT_TRUE(r.in_flight_token.empty());
  const absl::Time resume_at = kDue0 + Days(7);
  life.Do(ResumeRecipient{}, resume_at);
  EXPECT_EQ(life.recipient.status, RecipientStatus::kInProgress);
  EXPECT_EQ(life.recipient.due_at, resume_at + Days(2));
}

TEST(RaceTest, ReportWhilePausedBySequenceKeepsThePauseBySequence) {
  Life life = InFlight();
  life.sequence = PauseSequence(life.sequence, kDue0);
  life.Do(PauseBySequence{}, kDue0);
  EXPECT_EQ(life.recipient.in_flight_token, "L1");
  life.Do(Sent("L1"), kDue0 + absl::Minutes(1));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kPaused);
  EXPECT_TRUE(life.recipient.paused_by_sequence);
  EXPECT_EQ(life.recipient.remaining_delay, Days(2));
}

TEST(RaceTest, FailureWhilePausedRetriesAtResume) {
  Life life = InFlight();
  life.Do(PauseRecipient{}, kDue0);
  life.Do(Failed("L1", "timeout"), kDue0 + absl::Minutes(1));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kPaused);
  EXPECT_EQ(life.recipient.paused_from, RecipientStatus::kError);
  life.Do(ResumeRecipient{}, kDue0 + Days(1));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kInProgress);
  life.Do(MarkStepDue{}, kDue0 + Days(1));
  EXPECT_TRUE(life.recipient.awaiting_delivery);
  EXPECT_EQ(life.recipient.current_step, 0);
}

TEST(RaceTest, ResumeWhileInFlightThenTheResultAdvancesNormally) {
  Life life = InFlight();
  life.Do(PauseRecipient{}, kDue0);
  life.Do(ResumeRecipient{}, kDue0 + absl::Hours(1));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kInProgress);
  EXPECT_EQ(life.recipient.in_flight_token, "L1");
  ExpectNoEvents(life.Try(MarkStepDue{}, kDue0 + absl::Hours(2)));
  const absl::Time sent_at = kDue0 + absl::Hours(2);
  life.Do(Sent("L1"), sent_at);
  EXPECT_EQ(life.recipient.status, RecipientStatus::kInProgress);
  EXPECT_EQ(life.recipient.current_step, 1);
  EXPECT_EQ(life.recipient.due_at, sent_at + Days(2));
}

TEST(RaceTest, ResultsAfterStopAreRecordedOnly) {
  for (const ReportDelivery& report :
       {Sent("L1"), Failed("L1", "x"), BouncedReport("L1", "y")}) {
    SCOPED_TRACE(static_cast<int>(report.outcome));
    // One step only: a completion would otherwise finish the recipient.
    Life life = InFlight(MakeSequence({Email(Days(3))}));
    life.Do(StopRecipient{}, kDue0);
    EXPECT_EQ(life.recipient.in_flight_token, "L1");
    ASSIGN_OR_FAIL(Events events, life.Try(report, kDue0 + absl::Minutes(1)));
    ASSERT_EQ(events.size(), 1u);  // No Finished.
    if (const Bounced* b = std::get_if<Bounced>(&events[0].payload)) {
      EXPECT_TRUE(b->recorded_only);
    }
    life.Apply(events);
    const Recipient& r = life.recipient;
    EXPECT_EQ(r.status, RecipientStatus::kStopped);
    EXPECT_EQ(r.current_step, 0);
    EXPECT_TRUE(r.error_message.empty());
    EXPECT_TRUE(r.in_flight_token.empty());
    EXPECT_EQ(r.last_reported_token, "L1");
    if (report.outcome == DeliveryOutcome::kSent) {
      EXPECT_EQ(r.steps[0].state, StepState::kCompleted);
      ASSERT_TRUE(r.steps[0].sent_content.has_value());
      EXPECT_EQ(r.steps[0].sent_content->subject, "Hi Alice");
    } else {
      EXPECT_EQ(r.steps[0].state, StepState::kCancelled);
    }
  }
}

TEST(RaceTest, SignalBounceWhileInFlightThenTheResultIsRecordedOnly) {
  Life life = InFlight();
  life.Do(RecordSignal{SignalType::kBounce, "hard bounce"}, kDue0);
  EXPECT_EQ(life.recipient.status, RecipientStatus::kBounced);
  EXPECT_EQ(life.recipient.in_flight_token, "L1");
  life.Do(Sent("L1"), kDue0 + absl::Minutes(1));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kBounced);
  EXPECT_EQ(life.recipient.steps[0].state, StepState::kCompleted);
}

// ---- Actions while a send is in flight.

TEST(InFlightActionsTest, SkipIsRefusedUntilTheResultIsRecorded) {
  Life life = InFlight();
  absl::StatusOr<Events> refused = life.Try(SkipStep{}, kDue0);
  ExpectRefused(refused, RefusalReason::kSendInProgress);
  EXPECT_EQ(MetadataOf(refused.status(), "action"), "ACTION_SKIP_STEP");
  EXPECT_THAT(PreviewSkip(life.recipient, life.sequence, kDue0).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  std::vector<ActionAvailability> actions =
      AvailableActions(life.recipient, life.sequence);
  const ActionAvailability& skip = Availability(actions, Action::kSkipStep);
  EXPECT_FALSE(skip.available);
  EXPECT_EQ(skip.reason, RefusalReason::kSendInProgress);
  EXPECT_FALSE(skip.message.empty());
  EXPECT_EQ(ReasonOf(CheckActionAvailable(Action::kSkipStep, life.recipient,
                                          life.sequence)),
            RefusalReason::kSendInProgress);
  for (Action action :
       {Action::kPause, Action::kStop, Action::kDelete, Action::kEditContent}) {
    SCOPED_TRACE(ActionName(action));
    EXPECT_TRUE(Availability(actions, action).available);
  }
  life.Do(Sent("L1"), kDue0);
  SEQ_EXPECT_OK(life.Try(SkipStep{}, kDue0));
}

TEST(InFlightActionsTest, SkipOfAQueuedStepRevokesTheQueue) {
  Life life = Enrolled(Three());
  life.Do(MarkStepDue{}, kDue0);
  life.Do(SkipStep{}, kDue0);
  EXPECT_FALSE(life.recipient.awaiting_delivery);
  EXPECT_EQ(life.recipient.current_step, 1);
  EXPECT_EQ(life.recipient.due_at, kDue0 + Days(2));
}

TEST(InFlightActionsTest, EditOfTheCurrentStepIsRefusedLaterStepsEditable) {
  Life life = InFlight();
  ContentEdit subject;
  subject.subject = "Changed";
  absl::StatusOr<Events> refused = life.Try(EditContent{0, subject}, kDue0);
  ExpectRefused(refused, RefusalReason::kStepNotEditable);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "send"))
      << refused.status();
  ContentEdit body;
  body.body = "Later text";
  life.Do(EditContent{1, body}, kDue0);
  EXPECT_EQ(life.recipient.in_flight_token, "L1");
  // The edit does not change what was dispatched.
  life.Do(Sent("L1"), kDue0);
  EXPECT_EQ(life.recipient.steps[0].sent_content->subject, "Hi Alice");
  ASSERT_EQ(life.recipient.steps[1].override_content.body, "Later text");
}

// ---- Folding and determinism.

// Runs Three() to the end through the runtime, with a pause on the way.
Events ARuntimeLife(Life& life) {
  life.Do(MarkStepDue{}, kDue0);
  life.Do(LeaseNow(life, "L1"), kDue0 + absl::Seconds(5));
  life.Do(Sent("L1", "msg-1"), kDue0 + absl::Seconds(9));
  life.Do(PauseRecipient{}, kDue0 + Days(1));
  // 1 day and 9 seconds of step 1's delay were left: due at +3d9s.
  life.Do(ResumeRecipient{}, kDue0 + Days(2));
  life.Do(MarkStepDue{}, kDue0 + Days(4));
  life.Do(LeaseNow(life, "L2"), kDue0 + Days(4));
  life.Do(Sent("L2", "msg-2"), kDue0 + Days(4) + absl::Seconds(1));
  life.Do(CompleteManualStep{2}, kDue0 + Days(5));
  return life.events;
}

TEST(RuntimeFoldTest, FoldingAThreeStepRunReproducesTheState) {
  Life life = Enrolled(Three());
  const Events events = ARuntimeLife(life);
  const Recipient& r = life.recipient;
  EXPECT_EQ(r.status, RecipientStatus::kFinished);
  EXPECT_EQ(r.version, events.size());
  EXPECT_EQ(r.last_reported_token, "L2");
  EXPECT_EQ(r.steps[1].sent_content->body, "Hi Alice");
  EXPECT_EQ(r.steps[1].completed_at, kDue0 + Days(4) + absl::Seconds(1));
  ExpectSameRecipient(Fold(Recipient{}, events), r);
  // Every prefix folds to the state at that point, in particular mid-send.
  for (size_t n = 0; n <= events.size(); ++n) {
    SCOPED_TRACE(n);
    Recipient partial =
        Fold(Recipient{}, Events(events.begin(), events.begin() + n));
    EXPECT_EQ(partial.version, n);
  }
  Recipient mid = Fold(Recipient{}, Events(events.begin(), events.begin() + 3));
  EXPECT_EQ(mid.in_flight_token, "L1");
  EXPECT_TRUE(mid.steps[0].dispatched_content.has_value());
}

TEST(RuntimeFoldTest, SameInputsGiveSameEvents) {
  Life first = Enrolled(Three());
  Life second = Enrolled(Three());
  EXPECT_EQ(DescribeAll(ARuntimeLife(first)),
            DescribeAll(ARuntimeLife(second)));
  Life a = InFlight();
  const Recipient snapshot = a.recipient;
  for (const RecipientCommand& command : std::vector<RecipientCommand>{
           MarkStepDue{}, BeginSend{"L2", a.recipient.version}, Sent("L1"),
           Failed("L1", "e"), BouncedReport("L1", "b"), Sent("nope")}) {
    absl::StatusOr<Events> x = a.Try(command, kDue0 + Days(1));
    absl::StatusOr<Events> y = a.Try(command, kDue0 + Days(1));
    ASSERT_EQ(x.status(), y.status());
    if (x.ok()) {
      EXPECT_EQ(DescribeAll(*x), DescribeAll(*y));
    }
  }
  ExpectSameRecipient(a.recipient, snapshot);
}

}  // namespace
}  // namespace sequencer::domain::test
