// The sequence report (app/use_cases/sequence_report.h): the stored rp/
// entries, summed by GetSequenceReport, equal a report rebuilt by folding the
// log from scratch after every step of random workloads; the totals and
// status counts also match counts taken without the report's code (events by
// type, the listing index); the start-up backfill rebuilds deleted entries,
// also after an interruption; an action that changes no contribution writes
// no rp/ entry.

#include "app/use_cases/sequence_report.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "app/storage/event_codec.h"
#include "app/storage/indexes.h"
#include "app/storage/projection_verifier.h"
#include "app/use_cases/delivery.h"
#include "app/use_cases/scheduler.h"
#include "app/use_cases/sequence_pause.h"
#include "domain/report.h"
#include "gtest/gtest.h"
#include "sequencer/v1/events.pb.h"
#include "tests/app/app_fixture.h"

namespace sequencer::app {
namespace {

using testing::AppFixture;
using testing::kTenant;
using testing::StoreImage;

std::string Describe(const domain::StepTally& t) {
  return absl::StrCat("waiting ", t.waiting, " due ", t.due, " sent ", t.sent,
                      " skipped ", t.skipped, " failed ", t.failed, " bounced ",
                      t.bounced, " replies ", t.replies, " meetings ",
                      t.meetings);
}

// The whole report as text, so that a difference shows where it is.
std::string Describe(const domain::SequenceReport& report) {
  std::string out = absl::StrCat("recipients ", report.recipients, "\n");
  for (const auto& [status, count] : report.by_status) {
    absl::StrAppend(&out, std::string(domain::StatusName(status)), " ", count,
                    "\n");
  }
  for (size_t i = 0; i < report.steps.size(); ++i) {
    absl::StrAppend(&out, "step ", i, ": ", Describe(report.steps[i]), "\n");
  }
  absl::StrAppend(
      &out, "before first send: ", Describe(report.before_first_send), "\n");
  absl::StrAppend(&out, "totals: ", Describe(report.totals), "\n");
  return out;
}

domain::StepDefinition Step(domain::StepType type, absl::Duration delay,
                            domain::StepMode mode) {
  domain::StepDefinition step = testing::EmailStep(delay);
  step.type = type;
  step.mode = mode;
  if (type == domain::StepType::kSms) {
    step.content = {};
    step.content.body = "Hi {{first_name}}";
  } else if (type == domain::StepType::kTask) {
    step.content = {};
    step.content.details = "Call {{first_name}}";
  }
  return step;
}

class SequenceReportTest : public AppFixture {
 protected:
  // "s" ends a recipient's sequence on a response; "t" keeps it running.
  void CreateSequences() {
    using domain::StepMode;
    using domain::StepType;
    CreateSequenceRequest s;
    s.identity = Identity(NextRequestId(), "/test/CreateSequence");
    s.command.sequence_id = "s";
    s.command.name = "stops on response";
    s.command.steps = {
        Step(StepType::kEmail, absl::Hours(1), StepMode::kAutomatic),
        Step(StepType::kTask, absl::ZeroDuration(), StepMode::kManual),
        Step(StepType::kSms, absl::Hours(2), StepMode::kAutomatic),
        Step(StepType::kEmail, absl::ZeroDuration(), StepMode::kAutomatic)};
    ASSERT_TRUE(app::CreateSequence(deps_, Call(), s, nullptr).ok());
    CreateSequenceRequest t = s;
    t.identity = Identity(NextRequestId(), "/test/CreateSequence");
    t.command.sequence_id = "t";
    t.command.name = "keeps running";
    t.command.stop_on_response = false;
    t.command.steps = {
        Step(StepType::kEmail, absl::ZeroDuration(), StepMode::kAutomatic),
        Step(StepType::kEmail, absl::Minutes(30), StepMode::kManual),
        Step(StepType::kSms, absl::Minutes(30), StepMode::kAutomatic)};
    ASSERT_TRUE(app::CreateSequence(deps_, Call(), t, nullptr).ok());
  }

  domain::SequenceReport Stored(const std::string& sequence) {
    absl::StatusOr<SequenceReportResult> result =
        GetSequenceReport(deps_, Call(), sequence);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? result->report : domain::SequenceReport{};
  }

  // Every recipient of `sequence` folded from its events in the log, from
  // an empty state (no repository, no snapshot, no index).
  std::map<std::string, domain::Recipient> FoldLog(
      const std::string& sequence) {
    std::map<std::string, domain::Recipient> out;
    const std::string prefix =
        layout::RecipientStream(kTenant, sequence, "");  // ".../<seq>/"
    absl::Status scanned = memory_.ScanStreams(
        prefix, [&](const eventstore::StoredEventView& view) -> absl::Status {
          v1::Event proto;
          EXPECT_TRUE(proto.ParseFromArray(view.data.data(),
                                           static_cast<int>(view.data.size())));
          absl::StatusOr<domain::RecipientEvent> event =
              RecipientEventFromProto(proto);
          EXPECT_TRUE(event.ok()) << event.status();
          domain::Recipient& r = out[std::string(view.stream)];
          r = domain::Evolve(std::move(r), *event);
          return absl::OkStatus();
        });
    EXPECT_TRUE(scanned.ok()) << scanned;
    return out;
  }

  domain::SequenceReport Rebuilt(const std::string& sequence) {
    domain::SequenceReport report =
        domain::EmptyReport(static_cast<int>(Sequence(sequence).steps.size()));
    for (const auto& [stream, recipient] : FoldLog(sequence)) {
      if (auto contribution = domain::ContributionOf(recipient)) {
        domain::AddContribution(*contribution, &report);
      }
    }
    return report;
  }

  // Checks the stored report against the rebuild, and its totals and status
  // counts against counts that do not use domain/report.h.
  void ExpectReportsAgree(const std::string& sequence,
                          const std::string& where) {
    const domain::SequenceReport stored = Stored(sequence);
    ASSERT_EQ(Describe(stored), Describe(Rebuilt(sequence)))
        << sequence << " after " << where;

    // Entry by entry too (sums could hide two errors that cancel).
    std::map<std::string, std::string> expected_entries;
    for (const auto& [stream, recipient] : FoldLog(sequence)) {
      if (auto contribution = domain::ContributionOf(recipient)) {
        std::optional<layout::KeyRef> ref = layout::ParseStream(stream);
        ASSERT_TRUE(ref.has_value()) << stream;
        expected_entries[layout::ReportEntryKey(kTenant, sequence,
                                                ref->recipient_id)] =
            EncodeReportContribution(*contribution);
      }
    }
    absl::StatusOr<std::vector<std::pair<std::string, std::string>>> entries =
        memory_.ScanIndex(layout::ReportPrefix(kTenant, sequence), "", 1000);
    ASSERT_TRUE(entries.ok()) << entries.status();
    const std::map<std::string, std::string> stored_entries(entries->begin(),
                                                            entries->end());
    ASSERT_EQ(stored_entries, expected_entries)
        << sequence << " after " << where;

    // Events by type, of recipients not deleted.
    domain::StepTally counted;
    std::set<std::string> deleted;
    const std::string prefix = layout::RecipientStream(kTenant, sequence, "");
    std::map<std::string, domain::StepTally> per_stream;
    ASSERT_TRUE(
        memory_
            .ScanStreams(prefix,
                         [&](const eventstore::StoredEventView& view) {
                           v1::Event e;
                           e.ParseFromArray(view.data.data(),
                                            static_cast<int>(view.data.size()));
                           domain::StepTally& t =
                               per_stream[std::string(view.stream)];
                           t.sent += e.has_step_completed() ||
                                     e.has_manual_step_completed() ||
                                     (e.has_delivery_reported_late() &&
                                      e.delivery_reported_late().outcome() ==
                                          v1::DELIVERY_OUTCOME_SENT);
                           t.skipped += e.has_step_skipped();
                           t.failed +=
                               e.has_step_failed() || e.has_send_timed_out();
                           t.bounced += e.has_bounced();
                           t.replies += e.has_reply_received();
                           t.meetings += e.has_meeting_booked();
                           if (e.has_deleted()) {
                             deleted.insert(std::string(view.stream));
                           }
                           return absl::OkStatus();
                         })
            .ok());
    for (const auto& [stream, tally] : per_stream) {
      if (deleted.count(stream) == 0) counted += tally;
    }
    domain::StepTally history = stored.totals;
    history.waiting = 0;
    history.due = 0;
    EXPECT_EQ(Describe(history), Describe(counted))
        << sequence << " after " << where;

    // Statuses as the listing (rl/) and GetRecipient show them.
    absl::StatusOr<indexes::IdPage> listed =
        indexes::ListRecipients(store_, kTenant, sequence, {}, "", 1000);
    ASSERT_TRUE(listed.ok()) << listed.status();
    std::map<domain::RecipientStatus, int64_t> by_status =
        domain::EmptyReport(0).by_status;
    for (const std::string& id : listed->ids) {
      ++by_status[Recipient(sequence, id).status];
    }
    EXPECT_EQ(stored.by_status, by_status) << sequence << " after " << where;
    EXPECT_EQ(stored.recipients, static_cast<int64_t>(listed->ids.size()));
  }

  Delivery delivery_{deps_};
};

struct Token {
  std::string token;
  std::string sequence;
  std::string recipient;
};

class SequenceReportRandomTest
    : public SequenceReportTest,
      public ::testing::WithParamInterface<uint32_t> {};

TEST_P(SequenceReportRandomTest, StoredReportEqualsARebuildAfterEveryStep) {
  CreateSequences();
  const std::vector<std::string> sequences = {"s", "t"};
  const std::vector<std::string> ids = {"r0", "r1", "r2", "r3",
                                        "r4", "r5", "r6", "r7"};
  std::mt19937 random(GetParam());
  auto pick = [&](size_t n) {
    return static_cast<size_t>(
        std::uniform_int_distribution<size_t>(0, n - 1)(random));
  };
  std::vector<Token> leased;
  std::vector<Token> begun;
  std::map<std::string, bool> paused_sequence;
  std::map<std::string, domain::StepTally> most_by_sequence;
  int request = 0;

  for (int step = 0; step < 600; ++step) {
    const std::string seq = sequences[pick(sequences.size())];
    const std::string rid = ids[pick(ids.size())];
    const int kind = static_cast<int>(pick(19));
    std::string what;
    switch (kind) {
      case 0:
      case 1:
        what = "enroll";
        (void)Enroll(seq, {rid});
        break;
      case 2:
        what = "pause";
        (void)Act(seq, rid, domain::PauseRecipient{});
        break;
      case 3:
        what = "resume";
        (void)Act(seq, rid, domain::ResumeRecipient{});
        break;
      case 4:
        what = "skip";
        (void)Act(seq, rid, domain::SkipStep{});
        break;
      case 5:
        what = pick(3) == 0 ? "stop" : "complete";
        if (what == "stop") {
          (void)Act(seq, rid, domain::StopRecipient{});
        } else {
          (void)Act(seq, rid, domain::CompleteManualStep{});
        }
        break;
      case 6:
        what = "delete";
        if (pick(3) == 0) (void)Act(seq, rid, domain::DeleteRecipient{});
        break;
      case 7: {
        static constexpr domain::SignalType kSignals[] = {
            domain::SignalType::kReply, domain::SignalType::kMeetingBooked,
            domain::SignalType::kBounce, domain::SignalType::kReply,
            domain::SignalType::kUnsubscribe};
        domain::RecordSignal signal;
        signal.signal = kSignals[pick(pick(4) == 0 ? 5 : 4)];
        signal.detail = "provider";
        what = "signal";
        (void)Act(seq, rid, signal);
        break;
      }
      case 8:
      case 9:
      case 10: {
        static constexpr absl::Duration kBy[] = {
            absl::Minutes(1), absl::Minutes(20), absl::Hours(1),
            absl::Hours(3)};
        what = "advance";
        clock_.Advance(kBy[pick(4)]);
        absl::StatusOr<int> ran = Scheduler(deps_).RunDue();
        ASSERT_TRUE(ran.ok()) << ran.status();
        break;
      }
      case 11:
      case 12: {
        what = "lease";
        for (domain::StepType channel :
             {domain::StepType::kEmail, domain::StepType::kSms}) {
          absl::StatusOr<std::vector<LeasedStep>> got =
              delivery_.TryLease(kTenant, channel, 10, absl::Minutes(5));
          ASSERT_TRUE(got.ok()) << got.status();
          for (const LeasedStep& lease : *got) {
            const Token token{lease.lease_token, lease.sequence_id,
                              lease.recipient_id};
            // Most sends begin at once; the others wait, and may be
            // revoked by what happens to their recipient meanwhile.
            if (pick(4) == 0) {
              leased.push_back(token);
            } else if (delivery_
                           .BeginSend(
                               Call(),
                               {token.token, token.sequence, token.recipient},
                               [](const BeginSendResult&) {
                                 return std::string();
                               })
                           .ok()) {
              begun.push_back(token);
            }
          }
        }
        break;
      }
      case 13:
      case 14: {
        what = "begin";
        if (leased.empty()) break;
        const size_t i = pick(leased.size());
        const Token lease = leased[i];
        leased.erase(leased.begin() + i);
        auto began = delivery_.BeginSend(
            Call(), {lease.token, lease.sequence, lease.recipient},
            [](const BeginSendResult&) { return std::string(); });
        if (began.ok()) begun.push_back(lease);
        break;
      }
      case 15:
      case 16: {
        what = "report";
        if (begun.empty()) break;
        const size_t i = pick(begun.size());
        const Token send = begun[i];
        // Mostly once; sometimes kept to be reported again (a duplicate, or
        // a late result after the deadline passed).
        if (pick(4) != 0) begun.erase(begun.begin() + i);
        ReportDeliveryRequest report;
        report.sequence_id = send.sequence;
        report.recipient_id = send.recipient;
        report.report.lease_token = send.token;
        const size_t outcome = pick(10);
        report.report.outcome = outcome < 6 ? domain::DeliveryOutcome::kSent
                                : outcome < 8
                                    ? domain::DeliveryOutcome::kFailed
                                    : domain::DeliveryOutcome::kBounced;
        report.report.provider_message_id = absl::StrCat("m", ++request);
        if (report.report.outcome == domain::DeliveryOutcome::kFailed) {
          report.report.error_message = "mailbox full";
        }
        (void)delivery_.ReportDelivery(Call(), report, testing::EncodeOutcome);
        break;
      }
      case 18: {
        // Edit the current step (an errored one is re-queued).
        what = "edit";
        absl::StatusOr<domain::Recipient> r =
            repository_.LoadRecipient(kTenant, seq, rid);
        ASSERT_TRUE(r.ok()) << r.status();
        const domain::Sequence definition = Sequence(seq);
        if (!r->exists ||
            r->current_step >= static_cast<int>(definition.steps.size())) {
          break;
        }
        domain::EditContent edit;
        edit.step_index = r->current_step;
        switch (definition.steps[edit.step_index].type) {
          case domain::StepType::kEmail:
            edit.edit.subject = absl::StrCat("Edited ", step);
            break;
          case domain::StepType::kSms:
            edit.edit.body = absl::StrCat("Edited ", step);
            break;
          case domain::StepType::kTask:
            edit.edit.details = absl::StrCat("Edited ", step);
            break;
          case domain::StepType::kSocialMessage:
            edit.edit.message = absl::StrCat("Edited ", step);
            break;
        }
        (void)Act(seq, rid, edit);
        break;
      }
      case 17: {
        what = "sequence pause/resume";
        // Pauses are rare and short: a paused sequence sends nothing.
        if (!paused_sequence[seq] && pick(3) != 0) break;
        SequencePauseRequest pause;
        pause.identity = Identity(NextRequestId(), "/test/SequencePause");
        pause.sequence_id = seq;
        pause.pause = !paused_sequence[seq];
        if (RunSequencePause(
                deps_, Call(), pause,
                [](const SequencePauseResult&) { return std::string(); })
                .ok()) {
          paused_sequence[seq] = pause.pause;
        }
        break;
      }
    }
    const std::string where =
        absl::StrCat("step ", step, " (", what, " ", seq, "/", rid, ")");
    for (const std::string& sequence : sequences) {
      ExpectReportsAgree(sequence, where);
      if (HasFailure()) return;
      // The largest value each counter reached during the run.
      const domain::StepTally totals = Stored(sequence).totals;
      domain::StepTally& most = most_by_sequence[sequence];
      for (auto field :
           {&domain::StepTally::waiting, &domain::StepTally::due,
            &domain::StepTally::sent, &domain::StepTally::skipped,
            &domain::StepTally::failed, &domain::StepTally::bounced,
            &domain::StepTally::replies, &domain::StepTally::meetings}) {
        most.*field = std::max(most.*field, totals.*field);
      }
    }
  }

  // The workload reached every counter: a test that never sends proves
  // little.
  domain::StepTally all;
  for (const auto& [sequence, most] : most_by_sequence) all += most;
  EXPECT_GT(all.waiting, 0) << Describe(all);
  EXPECT_GT(all.due, 0) << Describe(all);
  EXPECT_GT(all.sent, 0) << Describe(all);
  EXPECT_GT(all.skipped, 0) << Describe(all);
  EXPECT_GT(all.failed, 0) << Describe(all);
  EXPECT_GT(all.bounced, 0) << Describe(all);
  EXPECT_GT(all.replies, 0) << Describe(all);
  EXPECT_GT(all.meetings, 0) << Describe(all);

  absl::StatusOr<VerifyResult> verified = ProjectionVerifier(&memory_).Verify();
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_TRUE(verified->ok()) << verified->Summary();
}

INSTANTIATE_TEST_SUITE_P(Seeds, SequenceReportRandomTest,
                         ::testing::Values(20261130u, 1u, 2u, 3u, 4u, 5u));

// A worked example with exact numbers: who is where, what was sent, and
// which step each signal counts for.
TEST_F(SequenceReportTest, SignalsCountForTheStepLastSentBeforeThem) {
  CreateSequences();
  ASSERT_TRUE(Enroll("t", {"a", "b", "c"}).ok());
  // Step 0 (email, no delay) is due for all three at once.
  ASSERT_TRUE(Scheduler(deps_).RunDue().ok());
  // "c" replies before anything was sent to it.
  domain::RecordSignal reply;
  reply.signal = domain::SignalType::kReply;
  ASSERT_TRUE(Act("t", "c", reply).ok());
  {
    const domain::SequenceReport report = Stored("t");
    EXPECT_EQ(report.steps[0].due, 3);
    EXPECT_EQ(report.before_first_send.replies, 1);
    EXPECT_EQ(report.totals.replies, 1);
  }
  // Deliver step 0 to "a" (sent) and "b" (bounced by the worker).
  absl::StatusOr<std::vector<LeasedStep>> leases = delivery_.TryLease(
      kTenant, domain::StepType::kEmail, 10, absl::Minutes(5));
  ASSERT_TRUE(leases.ok());
  for (const LeasedStep& lease : *leases) {
    if (lease.recipient_id == "c") continue;
    ASSERT_TRUE(delivery_
                    .BeginSend(Call(),
                               {lease.lease_token, "t", lease.recipient_id},
                               [](const BeginSendResult&) { return ""; })
                    .ok());
    ReportDeliveryRequest report;
    report.sequence_id = "t";
    report.recipient_id = lease.recipient_id;
    report.report.lease_token = lease.lease_token;
    report.report.outcome = lease.recipient_id == "a"
                                ? domain::DeliveryOutcome::kSent
                                : domain::DeliveryOutcome::kBounced;
    ASSERT_TRUE(
        delivery_.ReportDelivery(Call(), report, testing::EncodeOutcome).ok());
  }
  // "a" replies twice and books a meeting after step 0 was sent; then a
  // person completes step 1 (manual) and "a" books another meeting.
  ASSERT_TRUE(Act("t", "a", reply).ok());
  ASSERT_TRUE(Act("t", "a", reply).ok());
  domain::RecordSignal meeting;
  meeting.signal = domain::SignalType::kMeetingBooked;
  ASSERT_TRUE(Act("t", "a", meeting).ok());
  clock_.Advance(absl::Minutes(30));
  ASSERT_TRUE(Scheduler(deps_).RunDue().ok());
  ASSERT_TRUE(Act("t", "a", domain::CompleteManualStep{}).ok());
  ASSERT_TRUE(Act("t", "a", meeting).ok());

  const domain::SequenceReport report = Stored("t");
  EXPECT_EQ(report.recipients, 3);
  EXPECT_EQ(report.by_status.at(domain::RecipientStatus::kMeetingBooked), 1);
  EXPECT_EQ(report.by_status.at(domain::RecipientStatus::kBounced), 1);
  EXPECT_EQ(report.by_status.at(domain::RecipientStatus::kResponded), 1);
  EXPECT_EQ(report.by_status.at(domain::RecipientStatus::kInProgress), 0);
  // Step 0: sent to "a", bounced for "b", still due for "c" (it replied but
  // keeps running); two replies and a meeting after it.
  EXPECT_EQ(Describe(report.steps[0]),
            "waiting 0 due 1 sent 1 skipped 0 failed 0 bounced 1 replies 2 "
            "meetings 1");
  // Step 1: completed by a person for "a", one meeting after it.
  EXPECT_EQ(Describe(report.steps[1]),
            "waiting 0 due 0 sent 1 skipped 0 failed 0 bounced 0 replies 0 "
            "meetings 1");
  // Step 2: "a" waits for its delay.
  EXPECT_EQ(Describe(report.steps[2]),
            "waiting 1 due 0 sent 0 skipped 0 failed 0 bounced 0 replies 0 "
            "meetings 0");
  EXPECT_EQ(Describe(report.totals),
            "waiting 1 due 1 sent 2 skipped 0 failed 0 bounced 1 replies 3 "
            "meetings 2");

  // Deleting "a" takes its entry and everything it counted away.
  ASSERT_TRUE(Act("t", "a", domain::DeleteRecipient{}).ok());
  EXPECT_FALSE(HasIndex(layout::ReportEntryKey(kTenant, "t", "a")));
  const domain::SequenceReport after = Stored("t");
  EXPECT_EQ(after.recipients, 2);
  EXPECT_EQ(Describe(after.totals),
            "waiting 0 due 1 sent 0 skipped 0 failed 0 bounced 1 replies 1 "
            "meetings 0");
}

TEST_F(SequenceReportTest, AnActionThatChangesNoContributionWritesNoEntry) {
  CreateSequences();
  ASSERT_TRUE(Enroll("s", {"a"}).ok());
  std::vector<std::string> written;
  store_.before_commit = [&](const eventstore::CommitBatch& batch) {
    for (const auto& write : batch.index_writes) written.push_back(write.key);
    return absl::OkStatus();
  };
  // Editing a step not reached changes events but no counter or status.
  domain::EditContent edit;
  edit.step_index = 3;
  edit.edit.subject = "New subject";
  ASSERT_TRUE(Act("s", "a", edit).ok());
  for (const std::string& key : written) {
    EXPECT_FALSE(absl::StartsWith(key, layout::kReportRoot)) << key;
  }
  // A pause changes the status: the entry is written.
  written.clear();
  ASSERT_TRUE(Act("s", "a", domain::PauseRecipient{}).ok());
  EXPECT_NE(std::find(written.begin(), written.end(),
                      layout::ReportEntryKey(kTenant, "s", "a")),
            written.end())
      << absl::StrJoin(written, ", ");
  // No hot key: every index key the action writes is the recipient's own
  // (or its request's retry record), none shared by the sequence.
  for (const std::string& key : written) {
    EXPECT_TRUE(absl::EndsWith(key, "/a") ||
                absl::StartsWith(key, layout::kIdempotencyPrefix))
        << key;
  }
}

TEST_F(SequenceReportTest, UnknownSequenceAndBadIdsAreRefused) {
  CreateSequences();
  EXPECT_EQ(GetSequenceReport(deps_, Call(), "nope").status().code(),
            absl::StatusCode::kNotFound);
  absl::Status bad = GetSequenceReport(deps_, Call(), "a/b").status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(bad.message(), "sequence_id: ")) << bad;
  // Another tenant does not see the sequence.
  EXPECT_EQ(GetSequenceReport(deps_, CallContext{"tenant-b", "x"}, "s")
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

// Data written before the report existed: no rp/ entries, no marker.
TEST_F(SequenceReportTest, BackfillWritesTheMissingEntriesOnceAndResumes) {
  CreateSequences();
  ASSERT_TRUE(Enroll("s", {"a", "b", "c", "d"}).ok());
  ASSERT_TRUE(Enroll("t", {"a", "b", "c"}).ok());
  ASSERT_TRUE(Act("s", "b", domain::PauseRecipient{}).ok());
  ASSERT_TRUE(Act("s", "c", domain::DeleteRecipient{}).ok());
  ASSERT_TRUE(Act("t", "a", domain::SkipStep{}).ok());
  domain::RecordSignal reply;
  reply.signal = domain::SignalType::kReply;
  ASSERT_TRUE(Act("t", "b", reply).ok());
  ASSERT_TRUE(Scheduler(deps_).RunDue().ok());
  const std::string before_s = Describe(Stored("s"));
  const std::string before_t = Describe(Stored("t"));
  const StoreImage image = Image();

  auto drop_report_entries = [&]() {
    eventstore::CommitBatch drop;
    for (const auto& [key, value] : Image().index) {
      if (absl::StartsWith(key, layout::kReportRoot) ||
          key == layout::kReportBackfillMarker) {
        drop.index_writes.push_back({key, std::nullopt});
      }
    }
    ASSERT_TRUE(store_.CommitInner(drop).ok());
    EXPECT_EQ(Stored("s").recipients, 0);
  };
  drop_report_entries();
  absl::StatusOr<VerifyResult> broken = ProjectionVerifier(&memory_).Verify();
  ASSERT_TRUE(broken.ok());
  EXPECT_EQ(broken->discrepancy_count, 6u) << broken->Summary();

  // The first run is interrupted after its first commit (2 entries each).
  int commits = 0;
  store_.before_commit = [&](const eventstore::CommitBatch&) {
    return ++commits == 2 ? absl::UnavailableError("disk full")
                          : absl::OkStatus();
  };
  absl::StatusOr<ReportBackfillResult> first =
      BackfillReportEntries(&store_, 2);
  EXPECT_EQ(first.status().code(), absl::StatusCode::kUnavailable);
  absl::StatusOr<std::optional<std::string>> marker =
      memory_.GetIndex(layout::kReportBackfillMarker);
  ASSERT_TRUE(marker.ok() && marker->has_value());
  EXPECT_TRUE(absl::StartsWith(**marker, "next:rcp/")) << **marker;

  // The next run continues from the marker and finishes.
  store_.before_commit = nullptr;
  absl::StatusOr<ReportBackfillResult> second =
      BackfillReportEntries(&store_, 2);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->ran);
  EXPECT_LT(second->recipients, 7u);  // It did not start over.
  EXPECT_EQ(Describe(Stored("s")), before_s);
  EXPECT_EQ(Describe(Stored("t")), before_t);
  // Exactly what the service had written, plus the marker.
  StoreImage now = Image();
  EXPECT_EQ(now.last_position, image.last_position);
  std::vector<std::pair<std::string, std::string>> without_marker;
  for (const auto& entry : now.index) {
    if (entry.first != layout::kReportBackfillMarker) {
      without_marker.push_back(entry);
    }
  }
  EXPECT_EQ(without_marker, image.index);
  absl::StatusOr<VerifyResult> verified = ProjectionVerifier(&memory_).Verify();
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok()) << verified->Summary();

  // Done once: a later start does nothing.
  absl::StatusOr<ReportBackfillResult> third = BackfillReportEntries(&store_);
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(third->ran);
}

}  // namespace
}  // namespace sequencer::app
