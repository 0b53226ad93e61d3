// Bulk actions through a real server: all or nothing (every offender listed,
// nothing written), one commit per call, each action's effect, the double
// confirmation of Stop and Delete with every refusal of the token, idempotent
// retries and the selection limits.

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "app/storage/event_codec.h"
#include "gtest/gtest.h"
#include "sequencer/v1/events.pb.h"
#include "tests/server/bulk_helpers.h"
#include "tests/util/api_helpers.h"
#include "tests/util/grpc_status_matchers.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

using app::FromProtoTime;

constexpr char kSeq[] = "seq-bulk";
constexpr char kRefused[] = "BULK_ACTION_REFUSED";
constexpr char kTokenInvalid[] = "CONFIRMATION_INVALID";

v1::Sequence GetSequenceAs(TestServer& server, const std::string& id,
                           const std::string& tenant = kTenant) {
  v1::GetSequenceRequest request;
  request.set_sequence_id(id);
  v1::Sequence out;
  grpc::Status status =
      server.sequences().GetSequence(CallAs(tenant).get(), request, &out);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return out;
}

std::map<std::string, int> CountsOf(const v1::BulkConfirmation& confirmation) {
  return {confirmation.count_by_status().begin(),
          confirmation.count_by_status().end()};
}

class BulkActionsTest : public ::testing::Test {
 protected:
  // Step 0: email after a day; step 1: a task at once; step 2: email after two
  // days.
  void CreateDefault(const std::string& seq = kSeq,
                     const std::string& tenant = kTenant) {
    CreateSequence(server_, seq,
                   {EmailStep(absl::Hours(24), "Hi {{first_name}}", "Body one"),
                    TaskStep(absl::ZeroDuration(), "Call {{first_name}}"),
                    EmailStep(absl::Hours(48), "Again", "Body three")},
                   /*stop_on_response=*/true, tenant);
  }

  v1::Recipient Get(const std::string& id, const std::string& seq = kSeq) {
    return MustGetRecipient(server_, seq, id);
  }

  // Skips step 0: the task is due at once.
  void MakePending(const std::string& id) {
    v1::Recipient out = MustAct(server_, v1::ACTION_SKIP_STEP, kSeq, id);
    ASSERT_EQ(out.status(), v1::RECIPIENT_STATUS_PENDING_ACTION);
  }

  v1::BulkConfirmation FirstCall(const std::vector<std::string>& ids,
                                 v1::BulkActionType action,
                                 const std::string& seq = kSeq,
                                 const std::string& tenant = kTenant) {
    v1::BulkActionResponse response;
    grpc::Status status =
        Bulk(server_, BulkRequest(seq, ids, action), &response, tenant);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_FALSE(response.applied());
    EXPECT_FALSE(response.confirmation().token().empty());
    return response.confirmation();
  }

  // A refused call with ErrorInfo reason `reason` that wrote nothing.
  void ExpectRefusedWritingNothing(const v1::BulkActionRequest& request,
                                   const std::string& reason,
                                   const std::string& tenant = kTenant) {
    const std::vector<std::string> before = LogSnapshot(server_);
    v1::BulkActionResponse response;
    grpc::Status status = Bulk(server_, request, &response, tenant);
    EXPECT_THAT(status, StatusIs(grpc::StatusCode::FAILED_PRECONDITION))
        << status.error_message();
    EXPECT_EQ(ErrorInfoOf(status).reason(), reason) << status.error_message();
    EXPECT_EQ(LogSnapshot(server_), before) << "a refused call wrote";
  }

  TestServer server_;
};

// ---- All or nothing.

TEST_F(BulkActionsTest, PauseOf500RefusedBecauseOneIsPendingActionThenApplied) {
  CreateDefault();
  const std::vector<std::string> ids = NumberedIds("r", 500);
  Enroll(server_, kSeq, ids);
  const std::string pending = ids[317];
  ASSERT_NO_FATAL_FAILURE(MakePending(pending));

  const std::vector<std::string> before = LogSnapshot(server_);
  v1::BulkActionResponse response;
  grpc::Status status = Bulk(
      server_, BulkRequest(kSeq, ids, v1::BULK_ACTION_TYPE_PAUSE), &response);
  ASSERT_THAT(status, StatusIs(grpc::StatusCode::FAILED_PRECONDITION))
      << status.error_message();
  const google::rpc::ErrorInfo info = ErrorInfoOf(status);
  EXPECT_EQ(info.reason(), kRefused);
  EXPECT_EQ(info.domain(), "sequencer.v1");
  const std::vector<v1::BulkOffender> offenders = OffendersOf(status);
  ASSERT_EQ(offenders.size(), 1u);
  EXPECT_EQ(offenders[0].recipient_id(), pending);
  EXPECT_EQ(offenders[0].status(), v1::RECIPIENT_STATUS_PENDING_ACTION);
  EXPECT_EQ(offenders[0].reason(), "BULK_PAUSE_NEEDS_IN_PROGRESS_OR_ERROR");
  EXPECT_FALSE(offenders[0].message().empty());
  EXPECT_EQ(LogSnapshot(server_), before) << "nothing may change";
  EXPECT_TRUE(ListIds(server_, kSeq, {v1::RECIPIENT_STATUS_PAUSED}).empty());
  EXPECT_EQ(ListIds(server_, kSeq, {v1::RECIPIENT_STATUS_IN_PROGRESS}).size(),
            499u);

  // Without the offender it goes through, in one commit.
  std::vector<std::string> rest = ids;
  rest.erase(std::find(rest.begin(), rest.end(), pending));
  const uint64_t last = server_.store().LastPosition();
  const v1::BulkActionRequest request =
      BulkRequest(kSeq, rest, v1::BULK_ACTION_TYPE_PAUSE);
  status = Bulk(server_, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(response.applied());
  EXPECT_EQ(response.affected_count(), 499);
  EXPECT_FALSE(response.has_confirmation());

  std::vector<std::string> sorted_rest = rest;
  std::sort(sorted_rest.begin(), sorted_rest.end());
  EXPECT_EQ(ListIds(server_, kSeq, {v1::RECIPIENT_STATUS_PAUSED}), sorted_rest);
  EXPECT_EQ(Get(pending).status(), v1::RECIPIENT_STATUS_PENDING_ACTION);
  const v1::Recipient one = Get(rest[0]);
  EXPECT_FALSE(one.paused_by_sequence());
  EXPECT_EQ(one.paused_from(), v1::RECIPIENT_STATUS_IN_PROGRESS);

  // The call's events: 499 Paused events at contiguous positions, one per
  // recipient, all from the call's request.
  const std::vector<eventstore::StoredEvent> written =
      EventsAfter(server_, last);
  ASSERT_EQ(written.size(), 499u);
  std::set<std::string> streams;
  for (size_t i = 0; i < written.size(); ++i) {
    SCOPED_TRACE(written[i].stream);
    EXPECT_EQ(written[i].position, last + 1 + i);
    EXPECT_EQ(written[i].type, "Paused");
    v1::Event event;
    ASSERT_TRUE(event.ParseFromString(written[i].data));
    EXPECT_TRUE(event.has_paused());
    EXPECT_EQ(event.metadata().request_id(), request.request_id());
    EXPECT_EQ(event.metadata().actor(), kActor);
    streams.insert(written[i].stream);
  }
  EXPECT_EQ(streams.size(), 499u);
}

TEST_F(BulkActionsTest, RefusalListsEveryOffenderWithStatusAndReason) {
  CreateDefault();
  Enroll(server_, kSeq, {"ok1", "ok2", "paused", "pending", "stopped", "gone"});
  MustAct(server_, v1::ACTION_PAUSE, kSeq, "paused");
  ASSERT_NO_FATAL_FAILURE(MakePending("pending"));
  MustAct(server_, v1::ACTION_STOP, kSeq, "stopped");
  MustAct(server_, v1::ACTION_DELETE, kSeq, "gone");

  const std::vector<std::string> before = LogSnapshot(server_);
  grpc::Status status = Bulk(
      server_,
      BulkRequest(
          kSeq, {"ok1", "paused", "pending", "stopped", "gone", "never", "ok2"},
          v1::BULK_ACTION_TYPE_PAUSE),
      nullptr);
  ASSERT_THAT(status, StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(ErrorInfoOf(status).reason(), kRefused);
  std::map<std::string, v1::BulkOffender> offenders = OffendersById(status);
  ASSERT_EQ(offenders.size(), 5u);
  EXPECT_EQ(offenders.count("ok1") + offenders.count("ok2"), 0u);
  EXPECT_EQ(offenders["paused"].status(), v1::RECIPIENT_STATUS_PAUSED);
  EXPECT_EQ(offenders["pending"].status(), v1::RECIPIENT_STATUS_PENDING_ACTION);
  EXPECT_EQ(offenders["stopped"].status(), v1::RECIPIENT_STATUS_STOPPED);
  for (const char* id : {"paused", "pending", "stopped"}) {
    EXPECT_EQ(offenders[id].reason(), "BULK_PAUSE_NEEDS_IN_PROGRESS_OR_ERROR")
        << id;
  }
  for (const char* id : {"gone", "never"}) {
    EXPECT_EQ(offenders[id].status(), v1::RECIPIENT_STATUS_UNSPECIFIED) << id;
    EXPECT_EQ(offenders[id].reason(), "NOT_FOUND") << id;
  }
  EXPECT_EQ(LogSnapshot(server_), before);

  // Resume: every selected recipient must be PAUSED.
  status = Bulk(server_,
                BulkRequest(kSeq, {"paused", "ok1", "pending"},
                            v1::BULK_ACTION_TYPE_RESUME),
                nullptr);
  ASSERT_THAT(status, StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
  offenders = OffendersById(status);
  ASSERT_EQ(offenders.size(), 2u);
  EXPECT_EQ(offenders["ok1"].status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  EXPECT_EQ(offenders["ok1"].reason(), "ACTION_NOT_AVAILABLE");
  EXPECT_EQ(offenders["pending"].reason(), "ACTION_NOT_AVAILABLE");
  EXPECT_EQ(LogSnapshot(server_), before);
}

TEST_F(BulkActionsTest, PauseOfErrorRecipientsIsAllowed) {
  CreateSequence(server_, kSeq, {EmailStep(absl::ZeroDuration())});
  Enroll(server_, kSeq, {"a", "b"});
  server_.AdvanceTime(absl::ZeroDuration());
  std::vector<v1::DeliveryLease> leases =
      LeaseSteps(server_, v1::STEP_TYPE_EMAIL);
  ASSERT_EQ(leases.size(), 2u);
  for (const auto& lease : leases) {
    if (lease.recipient_id() != "a") continue;
    ASSERT_TRUE(BeginSend(server_, lease).ok());
    ASSERT_TRUE(
        ReportDelivery(server_, lease, v1::DELIVERY_OUTCOME_FAILED, "550")
            .ok());
  }
  ASSERT_EQ(Get("a").status(), v1::RECIPIENT_STATUS_ERROR);
  v1::BulkActionResponse response;
  grpc::Status status =
      Bulk(server_, BulkRequest(kSeq, {"a", "b"}, v1::BULK_ACTION_TYPE_PAUSE),
           &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.affected_count(), 2);
  EXPECT_EQ(Get("a").status(), v1::RECIPIENT_STATUS_PAUSED);
  EXPECT_EQ(Get("a").paused_from(), v1::RECIPIENT_STATUS_ERROR);
  EXPECT_EQ(Get("b").status(), v1::RECIPIENT_STATUS_PAUSED);
  // The pause revoked b's lease: the send must not go out.
  for (const auto& lease : leases) {
    if (lease.recipient_id() != "b") continue;
    EXPECT_THAT(BeginSend(server_, lease),
                StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
  }
}

// ---- Each action.

TEST_F(BulkActionsTest, ResumeSelectedContinuesTheirDelayClocks) {
  CreateDefault();
  Enroll(server_, kSeq, {"a", "b", "c", "d"});
  server_.AdvanceTime(absl::Hours(4));
  v1::BulkActionResponse response;
  ASSERT_TRUE(
      Bulk(server_,
           BulkRequest(kSeq, {"a", "b", "c"}, v1::BULK_ACTION_TYPE_PAUSE),
           &response)
          .ok());
  EXPECT_EQ(RemainingDelay(Get("a")), absl::Hours(20));
  server_.AdvanceTime(absl::Hours(30));

  ASSERT_TRUE(Bulk(server_,
                   BulkRequest(kSeq, {"b", "a"}, v1::BULK_ACTION_TYPE_RESUME),
                   &response)
                  .ok());
  EXPECT_TRUE(response.applied());
  EXPECT_EQ(response.affected_count(), 2);
  const absl::Time now = server_.clock().Now();
  for (const char* id : {"a", "b"}) {
    const v1::Recipient r = Get(id);
    EXPECT_EQ(r.status(), v1::RECIPIENT_STATUS_IN_PROGRESS) << id;
    EXPECT_EQ(NextDue(r), now + absl::Hours(20)) << id;
  }
  EXPECT_EQ(Get("c").status(), v1::RECIPIENT_STATUS_PAUSED);
  EXPECT_EQ(RemainingDelay(Get("c")), absl::Hours(20));
  EXPECT_EQ(Get("d").status(), v1::RECIPIENT_STATUS_IN_PROGRESS);

  // d, never paused, came due during the 30 hours: deliver it (its next step
  // is a task) so that only a and b remain for the email channel.
  std::vector<v1::DeliveryLease> d_lease =
      LeaseSteps(server_, v1::STEP_TYPE_EMAIL);
  ASSERT_EQ(LeasedIds(d_lease), (std::vector<std::string>{"d"}));
  ASSERT_TRUE(BeginSend(server_, d_lease[0]).ok());
  ASSERT_TRUE(
      ReportDelivery(server_, d_lease[0], v1::DELIVERY_OUTCOME_SENT).ok());

  // a and b run 20 hours after the resume, not before; c does not.
  server_.AdvanceTime(absl::Hours(20) - absl::Seconds(1));
  EXPECT_TRUE(LeaseSteps(server_, v1::STEP_TYPE_EMAIL).empty());
  server_.AdvanceTime(absl::Seconds(1));
  EXPECT_EQ(LeasedIds(LeaseSteps(server_, v1::STEP_TYPE_EMAIL)),
            (std::vector<std::string>{"a", "b"}));
}

TEST_F(BulkActionsTest, SkipStepMovesEachSelectedRecipientOn) {
  CreateSequence(server_, kSeq,
                 {EmailStep(absl::Hours(24)), SmsStep(absl::Hours(48))});
  Enroll(server_, kSeq, {"a", "b", "c", "p"});
  MustAct(server_, v1::ACTION_PAUSE, kSeq, "p");
  server_.AdvanceTime(absl::Hours(1));

  ExpectRefusedWritingNothing(
      BulkRequest(kSeq, {"a", "p"}, v1::BULK_ACTION_TYPE_SKIP_STEP), kRefused);

  v1::BulkActionResponse response;
  ASSERT_TRUE(
      Bulk(server_,
           BulkRequest(kSeq, {"a", "b"}, v1::BULK_ACTION_TYPE_SKIP_STEP),
           &response)
          .ok());
  EXPECT_EQ(response.affected_count(), 2);
  const absl::Time now = server_.clock().Now();
  for (const char* id : {"a", "b"}) {
    const v1::Recipient r = Get(id);
    EXPECT_EQ(r.current_step(), 1) << id;
    EXPECT_EQ(r.status(), v1::RECIPIENT_STATUS_IN_PROGRESS) << id;
    EXPECT_EQ(NextDue(r), now + absl::Hours(48)) << id;
  }
  EXPECT_EQ(Get("c").current_step(), 0);

  // Skipping the last step finishes them.
  ASSERT_TRUE(
      Bulk(server_,
           BulkRequest(kSeq, {"a", "b"}, v1::BULK_ACTION_TYPE_SKIP_STEP),
           &response)
          .ok());
  EXPECT_EQ(Get("a").status(), v1::RECIPIENT_STATUS_FINISHED);
  EXPECT_EQ(Get("b").status(), v1::RECIPIENT_STATUS_FINISHED);
}

TEST_F(BulkActionsTest, EditContentChangesEachSelectedRecipientOnly) {
  CreateDefault();
  Enroll(server_, kSeq, {"a", "b", "c", "d"});
  const v1::Sequence definition = GetSequenceAs(server_, kSeq);
  // c is paused (so that its content can be viewed) and not selected; d is
  // running and not selected.
  MustAct(server_, v1::ACTION_PAUSE, kSeq, "c");
  v1::RecipientContent c_before;
  ASSERT_TRUE(ViewContent(server_, kSeq, "c", &c_before).ok());
  const v1::Recipient c_recipient = Get("c");
  const v1::Recipient d_recipient = Get("d");

  v1::BulkActionRequest request =
      BulkRequest(kSeq, {"a", "b"}, v1::BULK_ACTION_TYPE_EDIT_CONTENT);
  request.set_step_index(2);
  request.mutable_edit()->set_subject("Special for {{first_name}}");
  v1::BulkActionResponse response;
  grpc::Status status = Bulk(server_, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(response.applied());
  EXPECT_EQ(response.affected_count(), 2);

  // A field the step's type does not have, or a bad step: INVALID_ARGUMENT,
  // nothing written.
  const std::vector<std::string> before = LogSnapshot(server_);
  v1::BulkActionRequest wrong =
      BulkRequest(kSeq, {"a", "b"}, v1::BULK_ACTION_TYPE_EDIT_CONTENT);
  wrong.set_step_index(2);
  wrong.mutable_edit()->set_message("emails have no message");
  EXPECT_THAT(Bulk(server_, wrong, nullptr),
              StatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  v1::BulkActionRequest bad_index =
      BulkRequest(kSeq, {"a", "b"}, v1::BULK_ACTION_TYPE_EDIT_CONTENT);
  bad_index.set_step_index(9);
  bad_index.mutable_edit()->set_subject("x");
  EXPECT_THAT(Bulk(server_, bad_index, nullptr),
              StatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(LogSnapshot(server_), before);

  // One selected recipient cannot edit (paused): refused, nothing written.
  v1::BulkActionRequest with_paused =
      BulkRequest(kSeq, {"a", "c"}, v1::BULK_ACTION_TYPE_EDIT_CONTENT);
  with_paused.set_step_index(2);
  with_paused.mutable_edit()->set_body("New body");
  status = Bulk(server_, with_paused, nullptr);
  ASSERT_THAT(status, StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(ErrorInfoOf(status).reason(), kRefused);
  std::map<std::string, v1::BulkOffender> offenders = OffendersById(status);
  ASSERT_EQ(offenders.size(), 1u);
  EXPECT_EQ(offenders["c"].status(), v1::RECIPIENT_STATUS_PAUSED);
  EXPECT_EQ(offenders["c"].reason(), "ACTION_NOT_AVAILABLE");
  EXPECT_EQ(LogSnapshot(server_), before);

  // Each selected recipient's content changed (viewed while paused).
  ASSERT_TRUE(Bulk(server_,
                   BulkRequest(kSeq, {"a", "b"}, v1::BULK_ACTION_TYPE_PAUSE),
                   nullptr)
                  .ok());
  for (const char* id : {"a", "b"}) {
    SCOPED_TRACE(id);
    v1::RecipientContent content;
    ASSERT_TRUE(ViewContent(server_, kSeq, id, &content).ok());
    ASSERT_EQ(content.steps_size(), 3);
    EXPECT_EQ(content.steps(2).content().subject(),
              std::string("Special for Name-") + id);
    EXPECT_EQ(content.steps(2).content().body(), "Body three");
    EXPECT_TRUE(content.steps(2).overridden());
    EXPECT_FALSE(content.steps(0).overridden());
    EXPECT_FALSE(content.steps(1).overridden());
  }
  // The others and the sequence definition did not change.
  v1::RecipientContent c_after;
  ASSERT_TRUE(ViewContent(server_, kSeq, "c", &c_after).ok());
  EXPECT_TRUE(ProtoEquals(c_before, c_after));
  EXPECT_EQ(Get("c").version(), c_recipient.version());
  EXPECT_EQ(Get("d").version(), d_recipient.version());
  EXPECT_TRUE(ProtoEquals(definition, GetSequenceAs(server_, kSeq)));
}

// ---- Double confirmation.

TEST_F(BulkActionsTest, StopNeedsDoubleConfirmation) {
  CreateDefault();
  Enroll(server_, kSeq, {"a", "b", "c", "d"});
  MustAct(server_, v1::ACTION_PAUSE, kSeq, "b");
  ASSERT_NO_FATAL_FAILURE(MakePending("c"));

  const std::vector<std::string> before = LogSnapshot(server_);
  const absl::Time now = server_.clock().Now();
  v1::BulkActionResponse first;
  grpc::Status status = Bulk(
      server_, BulkRequest(kSeq, {"a", "b", "c"}, v1::BULK_ACTION_TYPE_STOP),
      &first);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(first.applied());
  EXPECT_EQ(first.affected_count(), 0);
  const v1::BulkConfirmation& confirmation = first.confirmation();
  EXPECT_FALSE(confirmation.token().empty());
  EXPECT_EQ(confirmation.action(), v1::BULK_ACTION_TYPE_STOP);
  EXPECT_EQ(confirmation.count(), 3);
  EXPECT_EQ(
      CountsOf(confirmation),
      (std::map<std::string, int>{{"RECIPIENT_STATUS_IN_PROGRESS", 1},
                                  {"RECIPIENT_STATUS_PAUSED", 1},
                                  {"RECIPIENT_STATUS_PENDING_ACTION", 1}}));
  EXPECT_EQ(FromProtoTime(confirmation.expires_at()), now + absl::Minutes(5));
  EXPECT_EQ(LogSnapshot(server_), before) << "the first call changes nothing";
  EXPECT_EQ(Get("a").status(), v1::RECIPIENT_STATUS_IN_PROGRESS);

  // The second call, same selection in another order, with the token.
  v1::BulkActionRequest second =
      BulkRequest(kSeq, {"c", "a", "b"}, v1::BULK_ACTION_TYPE_STOP);
  second.set_confirmation_token(confirmation.token());
  v1::BulkActionResponse applied;
  status = Bulk(server_, second, &applied);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(applied.applied());
  EXPECT_EQ(applied.affected_count(), 3);
  for (const char* id : {"a", "b", "c"}) {
    EXPECT_EQ(Get(id).status(), v1::RECIPIENT_STATUS_STOPPED) << id;
  }
  EXPECT_EQ(Get("d").status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
}

TEST_F(BulkActionsTest, DeleteNeedsDoubleConfirmation) {
  CreateDefault();
  Enroll(server_, kSeq, {"a", "b", "c"});
  MustAct(server_, v1::ACTION_STOP, kSeq, "b");
  const std::vector<std::string> before = LogSnapshot(server_);
  const v1::BulkConfirmation confirmation =
      FirstCall({"a", "b"}, v1::BULK_ACTION_TYPE_DELETE);
  EXPECT_EQ(confirmation.action(), v1::BULK_ACTION_TYPE_DELETE);
  EXPECT_EQ(confirmation.count(), 2);
  EXPECT_EQ(CountsOf(confirmation),
            (std::map<std::string, int>{{"RECIPIENT_STATUS_IN_PROGRESS", 1},
                                        {"RECIPIENT_STATUS_STOPPED", 1}}));
  EXPECT_EQ(LogSnapshot(server_), before);
  EXPECT_EQ(ListIds(server_, kSeq, {}),
            (std::vector<std::string>{"a", "b", "c"}));

  v1::BulkActionRequest second =
      BulkRequest(kSeq, {"b", "a"}, v1::BULK_ACTION_TYPE_DELETE);
  second.set_confirmation_token(confirmation.token());
  v1::BulkActionResponse applied;
  grpc::Status status = Bulk(server_, second, &applied);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(applied.applied());
  EXPECT_EQ(applied.affected_count(), 2);
  v1::Recipient out;
  EXPECT_THAT(GetRecipient(server_, kSeq, "a", &out),
              StatusIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_THAT(GetRecipient(server_, kSeq, "b", &out),
              StatusIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_EQ(ListIds(server_, kSeq, {}), (std::vector<std::string>{"c"}));
}

TEST_F(BulkActionsTest, FirstCallOfStopIsRefusedWhenOneCannotStop) {
  CreateDefault();
  Enroll(server_, kSeq, {"a", "b"});
  MustAct(server_, v1::ACTION_STOP, kSeq, "b");
  const std::vector<std::string> before = LogSnapshot(server_);
  grpc::Status status =
      Bulk(server_, BulkRequest(kSeq, {"a", "b"}, v1::BULK_ACTION_TYPE_STOP),
           nullptr);
  ASSERT_THAT(status, StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(ErrorInfoOf(status).reason(), kRefused);
  std::map<std::string, v1::BulkOffender> offenders = OffendersById(status);
  ASSERT_EQ(offenders.size(), 1u);
  EXPECT_EQ(offenders["b"].status(), v1::RECIPIENT_STATUS_STOPPED);
  EXPECT_EQ(offenders["b"].reason(), "ACTION_NOT_AVAILABLE");
  EXPECT_EQ(LogSnapshot(server_), before);
}

TEST_F(BulkActionsTest, ExpiredTokenIsRefusedAndChangesNothing) {
  CreateDefault();
  Enroll(server_, kSeq, {"a", "b"});
  const v1::BulkConfirmation confirmation =
      FirstCall({"a", "b"}, v1::BULK_ACTION_TYPE_STOP);
  server_.AdvanceTime(absl::Minutes(5) + absl::Seconds(1));
  v1::BulkActionRequest second =
      BulkRequest(kSeq, {"a", "b"}, v1::BULK_ACTION_TYPE_STOP);
  second.set_confirmation_token(confirmation.token());
  ExpectRefusedWritingNothing(second, kTokenInvalid);
  EXPECT_EQ(Get("a").status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  EXPECT_EQ(Get("b").status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
}

TEST_F(BulkActionsTest, TokenIsValidUpToFiveMinutes) {
  CreateDefault();
  Enroll(server_, kSeq, {"a", "b"});
  const v1::BulkConfirmation confirmation =
      FirstCall({"a", "b"}, v1::BULK_ACTION_TYPE_STOP);
  server_.AdvanceTime(absl::Minutes(5) - absl::Seconds(1));
  v1::BulkActionRequest second =
      BulkRequest(kSeq, {"a", "b"}, v1::BULK_ACTION_TYPE_STOP);
  second.set_confirmation_token(confirmation.token());
  v1::BulkActionResponse response;
  grpc::Status status = Bulk(server_, second, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(response.applied());
}

// A used token is refused (CONFIRMATION_INVALID) for a new request.
TEST_F(BulkActionsTest, UsedTokenIsRefused) {
  CreateDefault();
  Enroll(server_, kSeq, {"a", "b", "c"});
  const v1::BulkConfirmation confirmation =
      FirstCall({"a", "b"}, v1::BULK_ACTION_TYPE_DELETE);
  v1::BulkActionRequest second =
      BulkRequest(kSeq, {"a", "b"}, v1::BULK_ACTION_TYPE_DELETE);
  second.set_confirmation_token(confirmation.token());
  ASSERT_TRUE(Bulk(server_, second, nullptr).ok());
  v1::BulkActionRequest again =
      BulkRequest(kSeq, {"a", "b"}, v1::BULK_ACTION_TYPE_DELETE);
  again.set_confirmation_token(confirmation.token());
  ExpectRefusedWritingNothing(again, kTokenInvalid);

  const v1::BulkConfirmation stop_token =
      FirstCall({"c"}, v1::BULK_ACTION_TYPE_STOP);
  v1::BulkActionRequest stop =
      BulkRequest(kSeq, {"c"}, v1::BULK_ACTION_TYPE_STOP);
  stop.set_confirmation_token(stop_token.token());
  ASSERT_TRUE(Bulk(server_, stop, nullptr).ok());
  v1::BulkActionRequest stop_again =
      BulkRequest(kSeq, {"c"}, v1::BULK_ACTION_TYPE_STOP);
  stop_again.set_confirmation_token(stop_token.token());
  ExpectRefusedWritingNothing(stop_again, kTokenInvalid);
}

TEST_F(BulkActionsTest,
       TokenForAnotherSelectionActionSequenceOrTenantIsRefused) {
  CreateDefault();
  Enroll(server_, kSeq, {"a", "b", "c"});
  // The same ids in another sequence and in another tenant's same sequence.
  CreateDefault("seq-other");
  Enroll(server_, "seq-other", {"a", "b"});
  CreateDefault(kSeq, "tenant-b");
  Enroll(server_, kSeq, {"a", "b"}, "tenant-b");

  const v1::BulkConfirmation confirmation =
      FirstCall({"a", "b"}, v1::BULK_ACTION_TYPE_STOP);
  auto with_token = [&](const std::string& seq,
                        const std::vector<std::string>& ids,
                        v1::BulkActionType action) {
    v1::BulkActionRequest request = BulkRequest(seq, ids, action);
    request.set_confirmation_token(confirmation.token());
    return request;
  };
  {
    SCOPED_TRACE("another selection");
    ExpectRefusedWritingNothing(
        with_token(kSeq, {"a", "c"}, v1::BULK_ACTION_TYPE_STOP), kTokenInvalid);
  }
  {
    SCOPED_TRACE("a subset");
    ExpectRefusedWritingNothing(
        with_token(kSeq, {"a"}, v1::BULK_ACTION_TYPE_STOP), kTokenInvalid);
  }
  {
    SCOPED_TRACE("a superset");
    ExpectRefusedWritingNothing(
        with_token(kSeq, {"a", "b", "c"}, v1::BULK_ACTION_TYPE_STOP),
        kTokenInvalid);
  }
  {
    SCOPED_TRACE("another action");
    ExpectRefusedWritingNothing(
        with_token(kSeq, {"a", "b"}, v1::BULK_ACTION_TYPE_DELETE),
        kTokenInvalid);
  }
  {
    SCOPED_TRACE("another sequence");
    ExpectRefusedWritingNothing(
        with_token("seq-other", {"a", "b"}, v1::BULK_ACTION_TYPE_STOP),
        kTokenInvalid);
  }
  {
    SCOPED_TRACE("another tenant");
    ExpectRefusedWritingNothing(
        with_token(kSeq, {"a", "b"}, v1::BULK_ACTION_TYPE_STOP), kTokenInvalid,
        "tenant-b");
  }
  {
    SCOPED_TRACE("an unknown token");
    v1::BulkActionRequest request =
        BulkRequest(kSeq, {"a", "b"}, v1::BULK_ACTION_TYPE_STOP);
    request.set_confirmation_token("no-such-token");
    ExpectRefusedWritingNothing(request, kTokenInvalid);
  }
  for (const char* id : {"a", "b", "c"}) {
    EXPECT_EQ(Get(id).status(), v1::RECIPIENT_STATUS_IN_PROGRESS) << id;
  }
  EXPECT_EQ(Get("a", "seq-other").status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  v1::Recipient other_tenant;
  ASSERT_TRUE(GetRecipient(server_, kSeq, "a", &other_tenant, "tenant-b").ok());
  EXPECT_EQ(other_tenant.status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
}

TEST_F(BulkActionsTest, RefusedAttemptsDoNotUseUpTheToken) {
  CreateDefault();
  Enroll(server_, kSeq, {"a", "b", "c"});
  const v1::BulkConfirmation confirmation =
      FirstCall({"a", "b"}, v1::BULK_ACTION_TYPE_STOP);
  v1::BulkActionRequest wrong =
      BulkRequest(kSeq, {"a", "c"}, v1::BULK_ACTION_TYPE_STOP);
  wrong.set_confirmation_token(confirmation.token());
  ExpectRefusedWritingNothing(wrong, kTokenInvalid);

  v1::BulkActionRequest right =
      BulkRequest(kSeq, {"a", "b"}, v1::BULK_ACTION_TYPE_STOP);
  right.set_confirmation_token(confirmation.token());
  v1::BulkActionResponse response;
  grpc::Status status = Bulk(server_, right, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(response.applied());
}

TEST_F(BulkActionsTest, RepeatedFirstCallsChangeNothing) {
  CreateDefault();
  Enroll(server_, kSeq, {"a"});
  const std::vector<std::string> before = LogSnapshot(server_);
  FirstCall({"a"}, v1::BULK_ACTION_TYPE_STOP);
  FirstCall({"a"}, v1::BULK_ACTION_TYPE_STOP);
  FirstCall({"a"}, v1::BULK_ACTION_TYPE_DELETE);
  EXPECT_EQ(LogSnapshot(server_), before);
  EXPECT_EQ(Get("a").status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
}

// ---- Idempotency.

TEST_F(BulkActionsTest, RetryReturnsTheFirstOutcomeAndWritesNothing) {
  CreateDefault();
  const std::vector<std::string> ids = NumberedIds("r", 50);
  Enroll(server_, kSeq, ids);
  const v1::BulkActionRequest request =
      BulkRequest(kSeq, ids, v1::BULK_ACTION_TYPE_PAUSE);
  v1::BulkActionResponse first;
  ASSERT_TRUE(Bulk(server_, request, &first).ok());
  EXPECT_EQ(first.affected_count(), 50);
  const std::vector<std::string> before = LogSnapshot(server_);

  v1::BulkActionResponse retried;
  grpc::Status status = Bulk(server_, request, &retried);
  ASSERT_TRUE(status.ok()) << status.error_message()
                           << " (a retry must not be refused although every "
                              "recipient is PAUSED now)";
  EXPECT_TRUE(ProtoEquals(first, retried));
  EXPECT_EQ(LogSnapshot(server_), before);

  // The same request id for a different request is INVALID_ARGUMENT.
  v1::BulkActionRequest different = request;
  different.set_action(v1::BULK_ACTION_TYPE_RESUME);
  EXPECT_THAT(Bulk(server_, different, nullptr),
              StatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(LogSnapshot(server_), before);
}

TEST_F(BulkActionsTest, RetryOfAConfirmedStopReturnsTheFirstOutcome) {
  CreateDefault();
  Enroll(server_, kSeq, {"a", "b"});
  const v1::BulkConfirmation confirmation =
      FirstCall({"a", "b"}, v1::BULK_ACTION_TYPE_STOP);
  v1::BulkActionRequest second =
      BulkRequest(kSeq, {"a", "b"}, v1::BULK_ACTION_TYPE_STOP);
  second.set_confirmation_token(confirmation.token());
  v1::BulkActionResponse applied;
  ASSERT_TRUE(Bulk(server_, second, &applied).ok());
  const std::vector<std::string> before = LogSnapshot(server_);
  v1::BulkActionResponse retried;
  grpc::Status status = Bulk(server_, second, &retried);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(ProtoEquals(applied, retried));
  EXPECT_EQ(LogSnapshot(server_), before);
}

TEST_F(BulkActionsTest, RetryOfAFirstCallReturnsTheSameConfirmation) {
  CreateDefault();
  Enroll(server_, kSeq, {"a", "b"});
  const v1::BulkActionRequest request =
      BulkRequest(kSeq, {"a", "b"}, v1::BULK_ACTION_TYPE_DELETE);
  v1::BulkActionResponse first;
  ASSERT_TRUE(Bulk(server_, request, &first).ok());
  v1::BulkActionResponse retried;
  ASSERT_TRUE(Bulk(server_, request, &retried).ok());
  EXPECT_TRUE(ProtoEquals(first, retried));
}

// ---- Bad input and limits.

TEST_F(BulkActionsTest, SelectionLimitsAndBadInputWriteNothing) {
  CreateDefault();
  Enroll(server_, kSeq, {"a", "b"});
  const std::vector<std::string> before = LogSnapshot(server_);
  auto code_of = [&](const v1::BulkActionRequest& request,
                     const std::string& tenant = kTenant) {
    return Bulk(server_, request, nullptr, tenant).error_code();
  };
  EXPECT_EQ(code_of(BulkRequest(kSeq, {}, v1::BULK_ACTION_TYPE_PAUSE)),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(code_of(BulkRequest(kSeq, NumberedIds("x", 10001),
                                v1::BULK_ACTION_TYPE_PAUSE)),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(
      code_of(BulkRequest(kSeq, {"a", "b", "a"}, v1::BULK_ACTION_TYPE_PAUSE)),
      grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(code_of(BulkRequest(kSeq, {"a"}, v1::BULK_ACTION_TYPE_UNSPECIFIED)),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(
      code_of(BulkRequest(kSeq, {"a", "bad id!"}, v1::BULK_ACTION_TYPE_PAUSE)),
      grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(
      code_of(BulkRequest("no-such-seq", {"a"}, v1::BULK_ACTION_TYPE_PAUSE)),
      grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(
      code_of(BulkRequest(kSeq, {"a"}, v1::BULK_ACTION_TYPE_PAUSE), "tenant-b"),
      grpc::StatusCode::NOT_FOUND)
      << "another tenant's sequence does not exist for the caller";
  v1::BulkActionRequest no_request_id =
      BulkRequest(kSeq, {"a"}, v1::BULK_ACTION_TYPE_PAUSE);
  no_request_id.clear_request_id();
  EXPECT_EQ(code_of(no_request_id), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(LogSnapshot(server_), before);
}

// 200 of 300 selected refuse: the refusal still reaches the caller (its
// detail bounded to fit gRPC's trailer limit, saying how many there are), and
// validate_only lists every offender in the response body.
TEST_F(BulkActionsTest,
       RefusalWithManyOffendersReachesTheCallerAndValidateListsAll) {
  CreateDefault();
  const std::vector<std::string> ids = NumberedIds("r", 300);
  Enroll(server_, kSeq, ids);
  const std::vector<std::string> first(ids.begin(), ids.begin() + 200);
  ASSERT_TRUE(Bulk(server_,
                   BulkRequest(kSeq, first, v1::BULK_ACTION_TYPE_PAUSE),
                   nullptr)
                  .ok());
  const std::vector<std::string> before = LogSnapshot(server_);
  grpc::Status status = Bulk(
      server_, BulkRequest(kSeq, ids, v1::BULK_ACTION_TYPE_PAUSE), nullptr);
  ASSERT_THAT(status, StatusIs(grpc::StatusCode::FAILED_PRECONDITION))
      << status.error_message();
  EXPECT_EQ(ErrorInfoOf(status).reason(), kRefused);
  EXPECT_EQ(ErrorInfoOf(status).metadata().at("offenders"), "200");
  const v1::BulkRefusal refusal = BulkRefusalOf(status);
  EXPECT_EQ(refusal.total_offenders(), 200);
  EXPECT_TRUE(refusal.truncated());
  ASSERT_GT(refusal.offenders_size(), 0);
  EXPECT_LT(refusal.offenders_size(), 200);
  for (const auto& offender : refusal.offenders()) {
    EXPECT_EQ(offender.status(), v1::RECIPIENT_STATUS_PAUSED)
        << offender.recipient_id();
  }
  EXPECT_EQ(LogSnapshot(server_), before);

  v1::BulkActionRequest validate =
      BulkRequest(kSeq, ids, v1::BULK_ACTION_TYPE_PAUSE);
  validate.set_validate_only(true);
  v1::BulkActionResponse response;
  ASSERT_TRUE(Bulk(server_, validate, &response).ok());
  EXPECT_FALSE(response.applied());
  std::set<std::string> listed;
  for (const auto& offender : response.offenders()) {
    EXPECT_EQ(offender.status(), v1::RECIPIENT_STATUS_PAUSED);
    EXPECT_EQ(offender.reason(), "BULK_PAUSE_NEEDS_IN_PROGRESS_OR_ERROR");
    listed.insert(offender.recipient_id());
  }
  EXPECT_EQ(listed, std::set<std::string>(first.begin(), first.end()));
  EXPECT_EQ(LogSnapshot(server_), before) << "validate_only writes nothing";
}

TEST_F(BulkActionsTest, RefusalOfAFullSelectionSaysHowManyOffend) {
  CreateDefault();
  Enroll(server_, kSeq, {"a"});
  const std::vector<std::string> before = LogSnapshot(server_);
  // Exactly 10,000 ids is allowed; none is enrolled, so every one offends.
  grpc::Status status = Bulk(
      server_,
      BulkRequest(kSeq, NumberedIds("x", 10000), v1::BULK_ACTION_TYPE_PAUSE),
      nullptr);
  EXPECT_THAT(status, StatusIs(grpc::StatusCode::FAILED_PRECONDITION))
      << status.error_message();
  EXPECT_EQ(ErrorInfoOf(status).reason(), kRefused);
  const v1::BulkRefusal refusal = BulkRefusalOf(status);
  EXPECT_EQ(refusal.total_offenders(), 10000);
  EXPECT_TRUE(refusal.truncated());
  ASSERT_GT(refusal.offenders_size(), 0);
  EXPECT_EQ(refusal.offenders(0).reason(), "NOT_FOUND");
  EXPECT_EQ(LogSnapshot(server_), before);
}

}  // namespace
}  // namespace sequencer::testing
