// domain/report.h on recipients driven by real decisions: where each counter
// lands, for the paths a random workload rarely takes (a send that times out
// and then bounces, signals after a skipped step, results after a final
// status), and that a fold from the events gives the same contribution.

#include "domain/report.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "domain/recipient.h"
#include "gtest/gtest.h"
#include "tests/domain/domain_test_helpers.h"

namespace sequencer::domain::test {
namespace {

std::string Describe(const StepTally& t) {
  return absl::StrCat(t.waiting, " ", t.due, " ", t.sent, " ", t.skipped, " ",
                      t.failed, " ", t.bounced, " ", t.replies, " ",
                      t.meetings);
}

// "waiting due sent skipped failed bounced replies meetings" of `step` (-1:
// before the first send).
std::string At(const Life& life, int step) {
  std::optional<ReportContribution> c = ContributionOf(life.recipient);
  EXPECT_TRUE(c.has_value());
  if (!c.has_value()) return "none";
  if (step < 0) return Describe(c->before_first_send);
  if (static_cast<size_t>(step) >= c->steps.size()) return Describe({});
  return Describe(c->steps[step]);
}

RecordSignal Signal(SignalType type) { return RecordSignal{type, "detail"}; }

// Folding the events from scratch gives the same contribution.
void ExpectRebuildAgrees(const Life& life) {
  const Recipient rebuilt = Fold(Recipient{}, life.events);
  EXPECT_EQ(ContributionOf(rebuilt), ContributionOf(life.recipient));
}

TEST(ReportTest, ATimedOutSendThatBouncesLaterCountsForItsStep) {
  Life life =
      Enrolled(MakeSequence({Email(absl::ZeroDuration()), Email(Days(1))}));
  EXPECT_EQ(At(life, 0), "1 0 0 0 0 0 0 0");  // Waiting for its delay.
  life.Do(MarkStepDue{}, kT0);
  EXPECT_EQ(At(life, 0), "0 1 0 0 0 0 0 0");  // Ready for a worker.
  life.Do(BeginSend{"t1", life.recipient.version, absl::Minutes(15)}, kT0);
  EXPECT_EQ(At(life, 0), "0 1 0 0 0 0 0 0");  // In flight: still due.
  life.Do(MarkStepDue{}, kT0 + absl::Minutes(16));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kError);
  EXPECT_EQ(At(life, 0), "0 0 0 0 1 0 0 0");  // Outcome unknown: failed.
  life.Do(ReportDelivery{"t1", DeliveryOutcome::kBounced, "m1", ""},
          kT0 + absl::Minutes(20));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kBounced);
  // The bounce is the timed-out send's, although nothing was ever sent.
  EXPECT_EQ(At(life, 0), "0 0 0 0 1 1 0 0");
  EXPECT_EQ(At(life, -1), "0 0 0 0 0 0 0 0");
  // A reply after the final status counts, before any send.
  life.Do(Signal(SignalType::kReply), kT0 + absl::Hours(1));
  EXPECT_EQ(At(life, -1), "0 0 0 0 0 0 1 0");
  EXPECT_EQ(ContributionOf(life.recipient)->status, RecipientStatus::kBounced);
  ExpectRebuildAgrees(life);
}

TEST(ReportTest, ALateSuccessCountsAsSentAfterTheFailure) {
  Life life =
      Enrolled(MakeSequence({Email(absl::ZeroDuration()), Email(Days(1))}));
  life.Do(MarkStepDue{}, kT0);
  life.Do(BeginSend{"t1", life.recipient.version, absl::Minutes(15)}, kT0);
  life.Do(MarkStepDue{}, kT0 + absl::Minutes(16));
  life.Do(ReportDelivery{"t1", DeliveryOutcome::kSent, "m1", ""},
          kT0 + absl::Minutes(20));
  EXPECT_EQ(At(life, 0), "0 0 1 0 1 0 0 0");
  EXPECT_EQ(At(life, 1), "1 0 0 0 0 0 0 0");  // Moved on, waiting.
  life.Do(Signal(SignalType::kMeetingBooked), kT0 + absl::Hours(1));
  EXPECT_EQ(At(life, 0), "0 0 1 0 1 0 0 1");
  ExpectRebuildAgrees(life);
}

TEST(ReportTest, SignalsFollowTheLastSentStepNotASkippedOne) {
  Life life = Enrolled(
      MakeSequence({Email(absl::ZeroDuration()), Email(Days(1)), Task(Days(1))},
                   /*stop_on_response=*/false));
  life.Do(MarkStepDue{}, kT0);
  life.Do(BeginSend{"t1", life.recipient.version, absl::Minutes(15)}, kT0);
  life.Do(ReportDelivery{"t1", DeliveryOutcome::kSent, "m1", ""}, kT0);
  life.Do(SkipStep{}, kT0 + absl::Hours(1));
  EXPECT_EQ(At(life, 1), "0 0 0 1 0 0 0 0");
  EXPECT_EQ(At(life, 2), "1 0 0 0 0 0 0 0");
  life.Do(Signal(SignalType::kMeetingBooked), kT0 + absl::Hours(2));
  life.Do(Signal(SignalType::kReply), kT0 + absl::Hours(2));
  EXPECT_EQ(At(life, 0), "0 0 1 0 0 0 1 1");
  EXPECT_EQ(At(life, 1), "0 0 0 1 0 0 0 0");
  // The task comes due for a person; the recipient keeps showing the meeting.
  life.Do(MarkStepDue{}, kT0 + absl::Hours(26));
  EXPECT_EQ(life.recipient.status, RecipientStatus::kMeetingBooked);
  EXPECT_EQ(At(life, 2), "0 1 0 0 0 0 0 0");
  // A paused recipient is neither waiting nor due.
  life.Do(PauseRecipient{}, kT0 + absl::Hours(27));
  EXPECT_EQ(At(life, 2), "0 0 0 0 0 0 0 0");
  life.Do(ResumeRecipient{}, kT0 + absl::Hours(28));
  EXPECT_EQ(At(life, 2), "0 1 0 0 0 0 0 0");
  // Completing the task is a send of step 2: the next reply counts there.
  life.Do(CompleteManualStep{}, kT0 + absl::Hours(29));
  life.Do(Signal(SignalType::kReply), kT0 + absl::Hours(30));
  EXPECT_EQ(At(life, 2), "0 0 1 0 0 0 1 0");
  EXPECT_EQ(At(life, 0), "0 0 1 0 0 0 1 1");
  ExpectRebuildAgrees(life);

  // Deleting erases it all: the recipient contributes nothing.
  life.Do(DeleteRecipient{}, kT0 + absl::Hours(31));
  EXPECT_FALSE(ContributionOf(life.recipient).has_value());
  EXPECT_TRUE(life.recipient.report.steps.empty());
}

TEST(ReportTest, AFailedDeliveryAndAMissingVariableCountAsFailed) {
  EnrollRecipient no_company = Alice();
  no_company.variables.erase("company");
  Life life =
      Enrolled(MakeSequence({Email(absl::ZeroDuration()), Email(Days(1))}), kT0,
               no_company);
  life.Do(MarkStepDue{}, kT0);  // The body needs {{company}}.
  EXPECT_EQ(life.recipient.status, RecipientStatus::kError);
  EXPECT_EQ(At(life, 0), "0 0 0 0 1 0 0 0");
  ExpectRebuildAgrees(life);
}

TEST(ReportTest, SequenceReportsAddContributionsAndListEveryStatus) {
  SequenceReport report = EmptyReport(2);
  EXPECT_EQ(report.by_status.size(), 10u);
  ReportContribution a;
  a.status = RecipientStatus::kPaused;
  a.steps.resize(2);
  a.steps[1].sent = 2;
  a.before_first_send.replies = 1;
  ReportContribution b;
  b.status = RecipientStatus::kPaused;
  b.steps.resize(1);
  b.steps[0].due = 1;
  AddContribution(a, &report);
  AddContribution(b, &report);
  EXPECT_EQ(report.recipients, 2);
  EXPECT_EQ(report.by_status.at(RecipientStatus::kPaused), 2);
  EXPECT_EQ(report.by_status.at(RecipientStatus::kError), 0);
  EXPECT_EQ(Describe(report.steps[0]), "0 1 0 0 0 0 0 0");
  EXPECT_EQ(Describe(report.steps[1]), "0 0 2 0 0 0 0 0");
  EXPECT_EQ(Describe(report.before_first_send), "0 0 0 0 0 0 1 0");
  EXPECT_EQ(Describe(report.totals), "0 1 2 0 0 0 1 0");
}

}  // namespace
}  // namespace sequencer::domain::test
