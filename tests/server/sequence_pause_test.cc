// Pausing the whole sequence through a real server: who is paused by the
// sequence and who is not, frozen delay clocks, nothing executing while
// paused, the actions refused (SEQUENCE_PAUSED) and allowed, resume returning
// exactly those paused by the sequence, enrollment during the pause, and
// lease revocation.

#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "app/storage/event_codec.h"
#include "gtest/gtest.h"
#include "tests/server/bulk_helpers.h"
#include "tests/util/api_helpers.h"
#include "tests/util/grpc_status_matchers.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

constexpr char kSeq[] = "seq-p";
constexpr char kSequencePaused[] = "SEQUENCE_PAUSED";

class SequencePauseTest : public ::testing::Test {
 protected:
  v1::Recipient Get(const std::string& id) {
    return MustGetRecipient(server_, kSeq, id);
  }

  // A refused single action with reason SEQUENCE_PAUSED that wrote nothing.
  void ExpectSingleRefused(v1::Action action, const std::string& id) {
    SCOPED_TRACE(ShortName(action) + " " + id);
    const std::vector<std::string> before = LogSnapshot(server_);
    grpc::Status status = Act(server_, action, kSeq, id);
    EXPECT_THAT(status, StatusIs(grpc::StatusCode::FAILED_PRECONDITION))
        << status.error_message();
    EXPECT_EQ(ErrorInfoOf(status).reason(), kSequencePaused);
    EXPECT_EQ(LogSnapshot(server_), before);
  }

  // A refused bulk action whose every offender has reason SEQUENCE_PAUSED.
  void ExpectBulkRefused(v1::BulkActionType action,
                         const std::vector<std::string>& ids) {
    SCOPED_TRACE(v1::BulkActionType_Name(action));
    const std::vector<std::string> before = LogSnapshot(server_);
    grpc::Status status =
        Bulk(server_, BulkRequest(kSeq, ids, action), nullptr);
    EXPECT_THAT(status, StatusIs(grpc::StatusCode::FAILED_PRECONDITION))
        << status.error_message();
    EXPECT_EQ(ErrorInfoOf(status).reason(), "BULK_ACTION_REFUSED");
    std::map<std::string, v1::BulkOffender> offenders = OffendersById(status);
    EXPECT_EQ(offenders.size(), ids.size());
    for (const auto& id : ids) {
      EXPECT_EQ(offenders[id].reason(), kSequencePaused) << id;
    }
    EXPECT_EQ(LogSnapshot(server_), before);
  }

  TestServer server_;
};

// Statuses around a sequence pause: err (ERROR through a failed delivery),
// run1/run2 (IN_PROGRESS), resp (running RESPONDED), ind (paused
// individually), pend (PENDING_ACTION), fin (FINISHED), stopped (STOPPED).
TEST_F(SequencePauseTest, MixOfStatusesAcrossASequencePauseAndResume) {
  // stop_on_response off: a reply keeps the recipient running.
  CreateSequence(server_, kSeq,
                 {EmailStep(absl::Hours(24)), TaskStep(absl::ZeroDuration()),
                  EmailStep(absl::Hours(48))},
                 /*stop_on_response=*/false);
  Enroll(server_, kSeq, {"err"});
  server_.AdvanceTime(absl::Hours(24));
  std::vector<v1::DeliveryLease> leases =
      LeaseSteps(server_, v1::STEP_TYPE_EMAIL);
  ASSERT_EQ(leases.size(), 1u);
  ASSERT_TRUE(BeginSend(server_, leases[0]).ok());
  ASSERT_TRUE(ReportDelivery(server_, leases[0], v1::DELIVERY_OUTCOME_FAILED,
                             "550 mailbox unavailable")
                  .ok());
  ASSERT_EQ(Get("err").status(), v1::RECIPIENT_STATUS_ERROR);

  Enroll(server_, kSeq,
         {"run1", "run2", "resp", "ind", "pend", "fin", "stopped"});
  ASSERT_EQ(MustAct(server_, v1::ACTION_SKIP_STEP, kSeq, "pend").status(),
            v1::RECIPIENT_STATUS_PENDING_ACTION);
  MustAct(server_, v1::ACTION_SKIP_STEP, kSeq, "fin");
  MustAct(server_, v1::ACTION_COMPLETE_MANUAL_STEP, kSeq, "fin");
  ASSERT_EQ(MustAct(server_, v1::ACTION_SKIP_STEP, kSeq, "fin").status(),
            v1::RECIPIENT_STATUS_FINISHED);
  MustAct(server_, v1::ACTION_STOP, kSeq, "stopped");
  v1::Recipient responded;
  ASSERT_TRUE(
      Signal(server_, kSeq, "resp", v1::SIGNAL_TYPE_REPLY, &responded).ok());
  ASSERT_EQ(responded.status(), v1::RECIPIENT_STATUS_RESPONDED);
  ASSERT_FALSE(responded.stopped_by_rule());

  server_.AdvanceTime(absl::Hours(4));
  ASSERT_EQ(MustAct(server_, v1::ACTION_PAUSE, kSeq, "ind").status(),
            v1::RECIPIENT_STATUS_PAUSED);
  EXPECT_EQ(RemainingDelay(Get("ind")), absl::Hours(20));
  server_.AdvanceTime(absl::Hours(2));

  const std::vector<std::string> not_affected = {"err", "ind", "pend", "fin",
                                                 "stopped"};
  std::map<std::string, v1::Recipient> before;
  for (const char* id :
       {"err", "run1", "run2", "resp", "ind", "pend", "fin", "stopped"}) {
    before[id] = Get(id);
  }

  // ---- Pause the sequence (18 hours left on run1, run2 and resp).
  v1::SequenceActionResponse paused;
  grpc::Status status = PauseSequence(server_, kSeq, &paused);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(paused.affected_recipients(), 3);
  EXPECT_EQ(paused.sequence().status(), v1::SEQUENCE_STATUS_PAUSED);
  for (const char* id : {"run1", "run2", "resp"}) {
    SCOPED_TRACE(id);
    const v1::Recipient r = Get(id);
    EXPECT_EQ(r.status(), v1::RECIPIENT_STATUS_PAUSED);
    EXPECT_TRUE(r.paused_by_sequence());
    EXPECT_EQ(RemainingDelay(r), absl::Hours(18));
  }
  EXPECT_EQ(Get("run1").paused_from(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  EXPECT_EQ(Get("resp").paused_from(), v1::RECIPIENT_STATUS_RESPONDED);
  for (const auto& id : not_affected) {
    SCOPED_TRACE(id);
    // Availability changes with the sequence's status; nothing else does.
    v1::Recipient now = Get(id);
    v1::Recipient then = before[id];
    now.clear_actions();
    then.clear_actions();
    EXPECT_TRUE(ProtoEquals(now, then))
        << "not progressing: untouched by the sequence pause";
  }
  EXPECT_FALSE(Get("ind").paused_by_sequence());
  const v1::Recipient run1_paused = Get("run1");
  EXPECT_EQ(FindAction(run1_paused, v1::ACTION_RESUME).reason(),
            kSequencePaused);
  EXPECT_TRUE(FindAction(run1_paused, v1::ACTION_STOP).available());
  EXPECT_TRUE(FindAction(run1_paused, v1::ACTION_DELETE).available());

  // Pausing again: FAILED_PRECONDITION.
  EXPECT_THAT(PauseSequence(server_, kSeq, nullptr),
              StatusIs(grpc::StatusCode::FAILED_PRECONDITION));

  // ---- Nothing executes while paused, long past every due time.
  std::vector<std::string> log = LogSnapshot(server_);
  server_.AdvanceTime(absl::Hours(30));
  EXPECT_TRUE(LeaseSteps(server_, v1::STEP_TYPE_EMAIL).empty());
  EXPECT_EQ(LogSnapshot(server_), log) << "no StepDue, nothing at all";
  for (const char* id : {"run1", "run2", "resp"}) {
    EXPECT_EQ(RemainingDelay(Get(id)), absl::Hours(18)) << id << ": frozen";
  }

  // ---- Refused while paused: single and bulk pause, resume and skip.
  ExpectSingleRefused(v1::ACTION_RESUME, "run1");
  ExpectSingleRefused(v1::ACTION_RESUME, "ind");
  ExpectSingleRefused(v1::ACTION_PAUSE, "pend");
  ExpectSingleRefused(v1::ACTION_PAUSE, "err");
  ExpectSingleRefused(v1::ACTION_SKIP_STEP, "pend");
  ExpectSingleRefused(v1::ACTION_SKIP_STEP, "err");
  ExpectBulkRefused(v1::BULK_ACTION_TYPE_PAUSE, {"err"});
  ExpectBulkRefused(v1::BULK_ACTION_TYPE_RESUME, {"run1", "ind"});
  ExpectBulkRefused(v1::BULK_ACTION_TYPE_SKIP_STEP, {"pend", "err"});

  // ---- Resume: exactly those paused by the sequence, with what they had left.
  v1::SequenceActionResponse resumed;
  status = ResumeSequence(server_, kSeq, &resumed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(resumed.affected_recipients(), 3);
  EXPECT_EQ(resumed.sequence().status(), v1::SEQUENCE_STATUS_ACTIVE);
  const absl::Time now = server_.clock().Now();
  for (const char* id : {"run1", "run2", "resp"}) {
    SCOPED_TRACE(id);
    const v1::Recipient r = Get(id);
    EXPECT_FALSE(r.paused_by_sequence());
    EXPECT_EQ(NextDue(r), now + absl::Hours(18));
  }
  EXPECT_EQ(Get("run1").status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  EXPECT_EQ(Get("run2").status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  EXPECT_EQ(Get("resp").status(), v1::RECIPIENT_STATUS_RESPONDED);
  for (const auto& id : not_affected) {
    SCOPED_TRACE(id);
    const v1::Recipient r = Get(id);
    EXPECT_EQ(r.status(), before[id].status());
    EXPECT_EQ(r.version(), before[id].version());
  }
  EXPECT_EQ(RemainingDelay(Get("ind")), absl::Hours(20));
  EXPECT_THAT(ResumeSequence(server_, kSeq, nullptr),
              StatusIs(grpc::StatusCode::FAILED_PRECONDITION));

  // They run 18 hours after the resume; the individually paused does not.
  server_.AdvanceTime(absl::Hours(18) - absl::Seconds(1));
  EXPECT_TRUE(LeaseSteps(server_, v1::STEP_TYPE_EMAIL).empty());
  server_.AdvanceTime(absl::Seconds(1));
  EXPECT_EQ(LeasedIds(LeaseSteps(server_, v1::STEP_TYPE_EMAIL)),
            (std::vector<std::string>{"resp", "run1", "run2"}));

  // The individually paused resumes on its own, with its 20 hours.
  v1::Recipient ind = MustAct(server_, v1::ACTION_RESUME, kSeq, "ind");
  EXPECT_EQ(ind.status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  EXPECT_EQ(NextDue(ind), server_.clock().Now() + absl::Hours(20));
}

TEST_F(SequencePauseTest, StopAndDeleteStillWorkWhilePaused) {
  CreateSequence(server_, kSeq, {EmailStep(absl::Hours(24))});
  Enroll(server_, kSeq, {"a", "b", "c", "d", "e"});
  v1::SequenceActionResponse paused;
  ASSERT_TRUE(PauseSequence(server_, kSeq, &paused).ok());
  ASSERT_EQ(paused.affected_recipients(), 5);

  EXPECT_EQ(MustAct(server_, v1::ACTION_STOP, kSeq, "a").status(),
            v1::RECIPIENT_STATUS_STOPPED);
  ASSERT_TRUE(Act(server_, v1::ACTION_DELETE, kSeq, "b").ok());

  for (v1::BulkActionType action :
       {v1::BULK_ACTION_TYPE_STOP, v1::BULK_ACTION_TYPE_DELETE}) {
    SCOPED_TRACE(v1::BulkActionType_Name(action));
    const std::string id = action == v1::BULK_ACTION_TYPE_STOP ? "c" : "d";
    v1::BulkActionResponse first;
    grpc::Status status =
        Bulk(server_, BulkRequest(kSeq, {id}, action), &first);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_FALSE(first.applied());
    EXPECT_EQ(
        first.confirmation().count_by_status().at("RECIPIENT_STATUS_PAUSED"),
        1);
    v1::BulkActionRequest second = BulkRequest(kSeq, {id}, action);
    second.set_confirmation_token(first.confirmation().token());
    v1::BulkActionResponse applied;
    status = Bulk(server_, second, &applied);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_TRUE(applied.applied());
  }
  EXPECT_EQ(Get("c").status(), v1::RECIPIENT_STATUS_STOPPED);
  v1::Recipient out;
  EXPECT_THAT(GetRecipient(server_, kSeq, "d", &out),
              StatusIs(grpc::StatusCode::NOT_FOUND));

  // Only e is left paused by the sequence.
  v1::SequenceActionResponse resumed;
  ASSERT_TRUE(ResumeSequence(server_, kSeq, &resumed).ok());
  EXPECT_EQ(resumed.affected_recipients(), 1);
  EXPECT_EQ(Get("e").status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  EXPECT_EQ(Get("a").status(), v1::RECIPIENT_STATUS_STOPPED);
}

TEST_F(SequencePauseTest, EnrollmentDuringThePauseWaitsForTheResume) {
  CreateSequence(server_, kSeq, {EmailStep(absl::Hours(24))});
  Enroll(server_, kSeq, {"early"});
  server_.AdvanceTime(absl::Hours(10));
  ASSERT_TRUE(PauseSequence(server_, kSeq, nullptr).ok());
  EXPECT_EQ(RemainingDelay(Get("early")), absl::Hours(14));
  server_.AdvanceTime(absl::Hours(1));
  Enroll(server_, kSeq, {"late"});
  const v1::Recipient late = Get("late");
  EXPECT_EQ(late.status(), v1::RECIPIENT_STATUS_PAUSED);
  EXPECT_TRUE(late.paused_by_sequence());
  EXPECT_EQ(RemainingDelay(late), absl::Hours(24));

  const std::vector<std::string> log = LogSnapshot(server_);
  server_.AdvanceTime(absl::Hours(72));
  EXPECT_TRUE(LeaseSteps(server_, v1::STEP_TYPE_EMAIL).empty());
  EXPECT_EQ(LogSnapshot(server_), log);

  v1::SequenceActionResponse resumed;
  ASSERT_TRUE(ResumeSequence(server_, kSeq, &resumed).ok());
  EXPECT_EQ(resumed.affected_recipients(), 2);
  const v1::Recipient running = Get("late");
  EXPECT_EQ(running.status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  EXPECT_EQ(NextDue(running), server_.clock().Now() + absl::Hours(24));
  server_.AdvanceTime(absl::Hours(14));
  std::vector<v1::DeliveryLease> early =
      LeaseSteps(server_, v1::STEP_TYPE_EMAIL);
  ASSERT_EQ(LeasedIds(early), (std::vector<std::string>{"early"}));
  ASSERT_TRUE(BeginSend(server_, early[0]).ok());
  ASSERT_TRUE(
      ReportDelivery(server_, early[0], v1::DELIVERY_OUTCOME_SENT).ok());
  server_.AdvanceTime(absl::Hours(10) - absl::Seconds(1));
  EXPECT_TRUE(LeaseSteps(server_, v1::STEP_TYPE_EMAIL).empty());
  server_.AdvanceTime(absl::Seconds(1));
  EXPECT_EQ(LeasedIds(LeaseSteps(server_, v1::STEP_TYPE_EMAIL)),
            (std::vector<std::string>{"late"}));
}

TEST_F(SequencePauseTest, EnrollmentWithAnImmediateStepDuringThePause) {
  CreateSequence(server_, kSeq, {EmailStep(absl::ZeroDuration())});
  ASSERT_TRUE(PauseSequence(server_, kSeq, nullptr).ok());
  Enroll(server_, kSeq, {"now"});
  server_.AdvanceTime(absl::Hours(1));
  EXPECT_TRUE(LeaseSteps(server_, v1::STEP_TYPE_EMAIL).empty());
  EXPECT_EQ(Get("now").status(), v1::RECIPIENT_STATUS_PAUSED);
  ASSERT_TRUE(ResumeSequence(server_, kSeq, nullptr).ok());
  server_.AdvanceTime(absl::ZeroDuration());
  EXPECT_EQ(LeasedIds(LeaseSteps(server_, v1::STEP_TYPE_EMAIL)),
            (std::vector<std::string>{"now"}));
}

TEST_F(SequencePauseTest, LeaseGrantedBeforeTheSequencePauseIsRevoked) {
  CreateSequence(server_, kSeq, {EmailStep(absl::Hours(1))});
  Enroll(server_, kSeq, {"r1"});
  server_.AdvanceTime(absl::Hours(1));
  std::vector<v1::DeliveryLease> leases =
      LeaseSteps(server_, v1::STEP_TYPE_EMAIL);
  ASSERT_EQ(leases.size(), 1u);
  v1::SequenceActionResponse paused;
  ASSERT_TRUE(PauseSequence(server_, kSeq, &paused).ok());
  EXPECT_EQ(paused.affected_recipients(), 1);

  const std::vector<std::string> log = LogSnapshot(server_);
  grpc::Status status = BeginSend(server_, leases[0]);
  EXPECT_THAT(status, StatusIs(grpc::StatusCode::FAILED_PRECONDITION))
      << status.error_message();
  EXPECT_EQ(ErrorInfoOf(status).reason(), "LEASE_REVOKED");
  EXPECT_EQ(LogSnapshot(server_), log) << "nothing dispatched";

  // After the resume the step runs (it was due: no delay left).
  ASSERT_TRUE(ResumeSequence(server_, kSeq, nullptr).ok());
  server_.AdvanceTime(absl::ZeroDuration());
  std::vector<v1::DeliveryLease> again =
      LeaseSteps(server_, v1::STEP_TYPE_EMAIL);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_NE(again[0].lease_token(), leases[0].lease_token());
  EXPECT_TRUE(BeginSend(server_, again[0]).ok());
  // The old lease stays revoked.
  EXPECT_THAT(BeginSend(server_, leases[0]),
              StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
}

TEST_F(SequencePauseTest, BadCallsAndIdempotentRetry) {
  CreateSequence(server_, kSeq, {EmailStep(absl::Hours(24))});
  Enroll(server_, kSeq, {"a", "b"});
  EXPECT_THAT(ResumeSequence(server_, kSeq, nullptr),
              StatusIs(grpc::StatusCode::FAILED_PRECONDITION))
      << "not paused";
  EXPECT_THAT(PauseSequence(server_, "no-such-seq", nullptr),
              StatusIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_THAT(PauseSequence(server_, kSeq, nullptr, "tenant-b"),
              StatusIs(grpc::StatusCode::NOT_FOUND));

  v1::SequenceActionRequest request;
  request.set_request_id(NextRequestId());
  request.set_sequence_id(kSeq);
  v1::SequenceActionResponse first;
  ASSERT_TRUE(
      server_.sequences().PauseSequence(CallAs().get(), request, &first).ok());
  EXPECT_EQ(first.affected_recipients(), 2);
  const std::vector<std::string> log = LogSnapshot(server_);
  v1::SequenceActionResponse retried;
  grpc::Status status =
      server_.sequences().PauseSequence(CallAs().get(), request, &retried);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(ProtoEquals(first, retried));
  EXPECT_EQ(LogSnapshot(server_), log);
}

TEST_F(SequencePauseTest, PauseOfTheSequenceIsOneCommit) {
  CreateSequence(server_, kSeq, {EmailStep(absl::Hours(24))});
  Enroll(server_, kSeq, NumberedIds("r", 300));
  const uint64_t last = server_.store().LastPosition();
  ASSERT_TRUE(PauseSequence(server_, kSeq, nullptr).ok());
  const std::vector<eventstore::StoredEvent> written =
      EventsAfter(server_, last);
  // SequencePaused and one Paused per recipient, contiguous.
  ASSERT_EQ(written.size(), 301u);
  int sequence_events = 0;
  for (size_t i = 0; i < written.size(); ++i) {
    EXPECT_EQ(written[i].position, last + 1 + i);
    if (written[i].type == "SequencePaused")
      ++sequence_events;
    else
      EXPECT_EQ(written[i].type, "Paused");
  }
  EXPECT_EQ(sequence_events, 1);
  EXPECT_EQ(ListIds(server_, kSeq, {v1::RECIPIENT_STATUS_PAUSED}).size(), 300u);
}

}  // namespace
}  // namespace sequencer::testing
