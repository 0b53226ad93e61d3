// The action-by-status table of the product contract
// (../shared/spec/product.md), checked through a real server: for every status
// reachable through the API, GetRecipient's `actions` list matches the table,
// and each of the seven actions, when actually called, either succeeds with the
// expected new status or is refused with FAILED_PRECONDITION /
// ACTION_NOT_AVAILABLE (metadata status and action) and writes nothing.
//
// ERROR is reached the way production reaches it: the first step comes due
// (ClockService/AdvanceTime), a worker leases it, begins the send and reports
// it FAILED through the DeliveryService.

#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/util/api_helpers.h"
#include "tests/util/grpc_status_matchers.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

// The seven actions of the table, in the order of its columns.
constexpr v1::Action kTableActions[] = {
    v1::ACTION_PAUSE,        v1::ACTION_RESUME,       v1::ACTION_SKIP_STEP,
    v1::ACTION_EDIT_CONTENT, v1::ACTION_VIEW_CONTENT, v1::ACTION_STOP,
    v1::ACTION_DELETE,
};

// One row of the table, with how to reach it through the API.
struct Row {
  std::string name;
  v1::RecipientStatus status = v1::RECIPIENT_STATUS_UNSPECIFIED;
  // The sequence the recipient is enrolled in.
  std::vector<v1::StepDefinition> steps;
  bool stop_on_response = true;
  // Actions, applied after enrollment, that bring the recipient to `status`.
  std::vector<v1::Action> via_actions;
  // A signal applied after `via_actions` (UNSPECIFIED: none).
  v1::SignalType via_signal = v1::SIGNAL_TYPE_UNSPECIFIED;
  bool stopped_by_rule = false;
  // The first step comes due and its delivery is reported FAILED.
  bool via_failed_delivery = false;
  // Columns: Pause, Resume, Skip, Edit, View, Stop, Delete.
  std::map<v1::Action, bool> available;
};

// Names the parameter in test names (instead of a byte dump).
void PrintTo(const Row& row, std::ostream* os) { *os << row.name; }

std::vector<v1::StepDefinition> EmailSmsTask() {
  return {EmailStep(absl::Hours(24)), SmsStep(absl::Hours(48)),
          TaskStep(absl::Hours(0))};
}

std::map<v1::Action, bool> Columns(bool pause, bool resume, bool skip,
                                   bool edit, bool view, bool stop, bool del) {
  return {{v1::ACTION_PAUSE, pause},       {v1::ACTION_RESUME, resume},
          {v1::ACTION_SKIP_STEP, skip},    {v1::ACTION_EDIT_CONTENT, edit},
          {v1::ACTION_VIEW_CONTENT, view}, {v1::ACTION_STOP, stop},
          {v1::ACTION_DELETE, del}};
}

std::vector<Row> Rows() {
  std::vector<Row> rows;
  {
    Row row;
    row.name = "InProgress";
    row.status = v1::RECIPIENT_STATUS_IN_PROGRESS;
    row.steps = EmailSmsTask();
    row.available = Columns(true, false, true, true, false, true, true);
    rows.push_back(row);
  }
  {
    Row row;
    row.name = "PendingAction";
    row.status = v1::RECIPIENT_STATUS_PENDING_ACTION;
    row.steps = {TaskStep(absl::ZeroDuration()), EmailStep(absl::Hours(24))};
    row.available = Columns(true, false, true, true, false, true, true);
    rows.push_back(row);
  }
  {
    Row row;
    row.name = "Error";
    row.status = v1::RECIPIENT_STATUS_ERROR;
    row.steps = EmailSmsTask();
    row.via_failed_delivery = true;
    row.available = Columns(true, false, true, true, false, true, true);
    rows.push_back(row);
  }
  {
    Row row;
    row.name = "Paused";
    row.status = v1::RECIPIENT_STATUS_PAUSED;
    row.steps = EmailSmsTask();
    row.via_actions = {v1::ACTION_PAUSE};
    row.available = Columns(false, true, false, false, true, true, true);
    rows.push_back(row);
  }
  {
    Row row;
    row.name = "Finished";
    row.status = v1::RECIPIENT_STATUS_FINISHED;
    row.steps = {EmailStep(absl::Hours(24)), SmsStep(absl::Hours(24))};
    row.via_actions = {v1::ACTION_SKIP_STEP, v1::ACTION_SKIP_STEP};
    row.available = Columns(false, false, false, false, true, false, true);
    rows.push_back(row);
  }
  {
    Row row;
    row.name = "RespondedStoppedByRule";
    row.status = v1::RECIPIENT_STATUS_RESPONDED;
    row.steps = EmailSmsTask();
    row.via_signal = v1::SIGNAL_TYPE_REPLY;
    row.stopped_by_rule = true;
    row.available = Columns(false, false, false, false, true, false, true);
    rows.push_back(row);
  }
  {
    Row row;
    row.name = "MeetingBookedStoppedByRule";
    row.status = v1::RECIPIENT_STATUS_MEETING_BOOKED;
    row.steps = EmailSmsTask();
    row.via_signal = v1::SIGNAL_TYPE_MEETING_BOOKED;
    row.stopped_by_rule = true;
    row.available = Columns(false, false, false, false, true, false, true);
    rows.push_back(row);
  }
  {
    Row row;
    row.name = "RespondedStillRunning";
    row.status = v1::RECIPIENT_STATUS_RESPONDED;
    row.steps = EmailSmsTask();
    row.stop_on_response = false;
    row.via_signal = v1::SIGNAL_TYPE_REPLY;
    row.available = Columns(true, false, true, true, true, true, true);
    rows.push_back(row);
  }
  {
    Row row;
    row.name = "MeetingBookedStillRunning";
    row.status = v1::RECIPIENT_STATUS_MEETING_BOOKED;
    row.steps = EmailSmsTask();
    row.stop_on_response = false;
    row.via_signal = v1::SIGNAL_TYPE_MEETING_BOOKED;
    row.available = Columns(true, false, true, true, true, true, true);
    rows.push_back(row);
  }
  {
    Row row;
    row.name = "Bounced";
    row.status = v1::RECIPIENT_STATUS_BOUNCED;
    row.steps = EmailSmsTask();
    row.via_signal = v1::SIGNAL_TYPE_BOUNCE;
    row.available = Columns(false, false, false, false, true, false, true);
    rows.push_back(row);
  }
  {
    Row row;
    row.name = "Stopped";
    row.status = v1::RECIPIENT_STATUS_STOPPED;
    row.steps = EmailSmsTask();
    row.via_actions = {v1::ACTION_STOP};
    row.available = Columns(false, false, false, false, true, false, true);
    rows.push_back(row);
  }
  {
    Row row;
    row.name = "Unsubscribed";
    row.status = v1::RECIPIENT_STATUS_UNSUBSCRIBED;
    row.steps = EmailSmsTask();
    row.via_signal = v1::SIGNAL_TYPE_UNSUBSCRIBE;
    row.available = Columns(false, false, false, false, true, false, true);
    rows.push_back(row);
  }
  return rows;
}

class ActionsByStatusTest : public ::testing::TestWithParam<Row> {
 protected:
  static constexpr char kSeq[] = "seq-table";

  void SetUp() override {
    CreateSequence(server_, kSeq, GetParam().steps,
                   GetParam().stop_on_response);
  }

  // Enrolls `id` and brings it to the row's status; returns it.
  v1::Recipient Prepare(const std::string& id) {
    const Row& row = GetParam();
    Enroll(server_, kSeq, {id});
    if (row.via_failed_delivery) FailFirstDelivery(id);
    for (v1::Action action : row.via_actions) {
      MustAct(server_, action, kSeq, id);
    }
    if (row.via_signal != v1::SIGNAL_TYPE_UNSPECIFIED) {
      grpc::Status status = Signal(server_, kSeq, id, row.via_signal);
      EXPECT_TRUE(status.ok()) << status.error_message();
    }
    v1::Recipient r = MustGetRecipient(server_, kSeq, id);
    EXPECT_EQ(r.status(), row.status) << v1::RecipientStatus_Name(r.status());
    EXPECT_EQ(r.stopped_by_rule(), row.stopped_by_rule);
    return r;
  }

  // Brings `id`'s first (email) step due, leases it, begins the send and
  // reports it FAILED, as a delivery worker would.
  void FailFirstDelivery(const std::string& id) {
    server_.AdvanceTime(GetParam().steps[0].delay().seconds() *
                        absl::Seconds(1));
    v1::LeaseStepsRequest lease_request;
    lease_request.set_channel(v1::STEP_TYPE_EMAIL);
    lease_request.set_max_steps(100);
    v1::LeaseStepsResponse leases;
    grpc::Status status =
        server_.delivery().LeaseSteps(CallAs().get(), lease_request, &leases);
    ASSERT_TRUE(status.ok()) << status.error_message();
    const v1::DeliveryLease* lease = nullptr;
    for (const auto& candidate : leases.leases()) {
      if (candidate.recipient_id() == id) lease = &candidate;
    }
    ASSERT_NE(lease, nullptr) << "no lease for " << id;
    v1::BeginSendRequest begin;
    begin.set_lease_token(lease->lease_token());
    begin.set_sequence_id(kSeq);
    begin.set_recipient_id(id);
    v1::BeginSendResponse began;
    status = server_.delivery().BeginSend(CallAs().get(), begin, &began);
    ASSERT_TRUE(status.ok()) << status.error_message();
    v1::ReportDeliveryRequest report;
    report.set_lease_token(lease->lease_token());
    report.set_sequence_id(kSeq);
    report.set_recipient_id(id);
    report.set_outcome(v1::DELIVERY_OUTCOME_FAILED);
    report.set_error_message("mailbox unavailable");
    v1::Recipient failed;
    status = server_.delivery().ReportDelivery(CallAs().get(), report, &failed);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // Calls `action` on `id` the way a caller would; an edit targets the
  // current step (or step 0 when none is left) with a field of its type.
  grpc::Status Call(v1::Action action, const std::string& id,
                    const v1::Recipient& before, v1::Recipient* out) {
    if (action != v1::ACTION_EDIT_CONTENT)
      return Act(server_, action, kSeq, id, out);
    const int step =
        before.current_step() < before.step_count() ? before.current_step() : 0;
    v1::ContentEdit edit;
    switch (GetParam().steps[step].type()) {
      case v1::STEP_TYPE_EMAIL:
        edit.set_subject("Edited for {{first_name}}");
        break;
      case v1::STEP_TYPE_SMS:
        edit.set_body("Edited text");
        break;
      case v1::STEP_TYPE_TASK:
        edit.set_details("Edited task");
        break;
      default:
        edit.set_message("Edited message");
        break;
    }
    return EditContent(server_, kSeq, id, step, edit, out);
  }

  TestServer server_;
};

TEST_P(ActionsByStatusTest, ActionsListMatchesTheTable) {
  const Row& row = GetParam();
  const v1::Recipient r = Prepare("r-list");
  ASSERT_EQ(r.actions_size(), 8);
  for (v1::Action action : kTableActions) {
    const v1::ActionAvailability a = FindAction(r, action);
    ASSERT_EQ(a.action(), action) << "missing " << v1::Action_Name(action);
    EXPECT_EQ(a.available(), row.available.at(action))
        << row.name << " " << v1::Action_Name(action);
    if (a.available()) {
      EXPECT_TRUE(a.reason().empty()) << v1::Action_Name(action);
    } else {
      EXPECT_EQ(a.reason(), "ACTION_NOT_AVAILABLE") << v1::Action_Name(action);
      EXPECT_FALSE(a.message().empty()) << v1::Action_Name(action);
    }
  }
  // Complete manual step is only offered while a manual step waits.
  EXPECT_EQ(FindAction(r, v1::ACTION_COMPLETE_MANUAL_STEP).available(),
            row.status == v1::RECIPIENT_STATUS_PENDING_ACTION);
}

TEST_P(ActionsByStatusTest, EachActionSucceedsOrIsRefusedAsTheTableSays) {
  const Row& row = GetParam();
  for (v1::Action action : kTableActions) {
    SCOPED_TRACE(absl::StrCat(row.name, " ", v1::Action_Name(action)));
    const std::string id =
        absl::StrCat("r-", absl::AsciiStrToLower(ShortName(action)));
    const v1::Recipient before = Prepare(id);
    const std::vector<std::string> log_before = LogSnapshot(server_);
    v1::Recipient out;
    grpc::Status status = Call(action, id, before, &out);

    if (!row.available.at(action)) {
      EXPECT_THAT(status, StatusIs(grpc::StatusCode::FAILED_PRECONDITION))
          << status.error_message();
      const google::rpc::ErrorInfo info = ErrorInfoOf(status);
      EXPECT_EQ(info.reason(), "ACTION_NOT_AVAILABLE");
      EXPECT_EQ(info.domain(), "sequencer.v1");
      EXPECT_EQ(
          info.metadata().count("status") ? info.metadata().at("status") : "",
          v1::RecipientStatus_Name(row.status));
      EXPECT_EQ(
          info.metadata().count("action") ? info.metadata().at("action") : "",
          v1::Action_Name(action));
      EXPECT_EQ(LogSnapshot(server_), log_before);
      EXPECT_TRUE(ProtoEquals(MustGetRecipient(server_, kSeq, id), before));
      continue;
    }

    ASSERT_TRUE(status.ok()) << status.error_message();
    v1::Recipient after;
    grpc::Status read = GetRecipient(server_, kSeq, id, &after);
    switch (action) {
      case v1::ACTION_PAUSE:
        EXPECT_EQ(out.status(), v1::RECIPIENT_STATUS_PAUSED);
        EXPECT_EQ(out.paused_from(), row.status);
        EXPECT_EQ(out.version(), before.version() + 1);
        break;
      case v1::ACTION_RESUME:
        EXPECT_EQ(out.status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
        EXPECT_EQ(out.version(), before.version() + 1);
        break;
      case v1::ACTION_SKIP_STEP:
        // Skipping moves on to the next step; the recipient keeps running
        // and keeps showing a reply/meeting.
        EXPECT_EQ(out.current_step(), before.current_step() + 1);
        EXPECT_EQ(out.status(),
                  row.status == v1::RECIPIENT_STATUS_PENDING_ACTION ||
                          row.status == v1::RECIPIENT_STATUS_ERROR
                      ? v1::RECIPIENT_STATUS_IN_PROGRESS
                      : row.status);
        break;
      case v1::ACTION_EDIT_CONTENT:
        // Editing the step that failed queues it again.
        EXPECT_EQ(out.status(), row.status == v1::RECIPIENT_STATUS_ERROR
                                    ? v1::RECIPIENT_STATUS_IN_PROGRESS
                                    : row.status);
        EXPECT_EQ(out.version(), before.version() + 1);
        break;
      case v1::ACTION_VIEW_CONTENT:
        // A read: nothing written.
        EXPECT_EQ(LogSnapshot(server_), log_before);
        EXPECT_TRUE(ProtoEquals(after, before));
        break;
      case v1::ACTION_STOP:
        EXPECT_EQ(out.status(), v1::RECIPIENT_STATUS_STOPPED);
        EXPECT_EQ(out.version(), before.version() + 1);
        break;
      case v1::ACTION_DELETE:
        EXPECT_THAT(read, StatusIs(grpc::StatusCode::NOT_FOUND));
        break;
      default:
        break;
    }
    if (action != v1::ACTION_DELETE) {
      ASSERT_TRUE(read.ok()) << read.error_message();
      EXPECT_EQ(after.status(),
                action == v1::ACTION_VIEW_CONTENT ? row.status : out.status());
    }
    if (action != v1::ACTION_VIEW_CONTENT) {
      EXPECT_NE(LogSnapshot(server_), log_before) << "the change was logged";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllReachableStatuses, ActionsByStatusTest,
                         ::testing::ValuesIn(Rows()),
                         [](const ::testing::TestParamInfo<Row>& info) {
                           return info.param.name;
                         });

// Complete manual step, outside the table's columns: offered only while a
// manual step is pending; otherwise refused and nothing is written.
TEST(ActionsByStatusExtraTest, CompleteManualStepOnlyWhenPending) {
  TestServer server;
  CreateSequence(server, "seq-m",
                 {TaskStep(absl::ZeroDuration()), EmailStep(absl::Hours(5))});
  Enroll(server, "seq-m", {"r1"});
  // Skip the task: now IN_PROGRESS waiting for the email.
  MustAct(server, v1::ACTION_SKIP_STEP, "seq-m", "r1");
  const std::vector<std::string> before = LogSnapshot(server);
  grpc::Status status =
      Act(server, v1::ACTION_COMPLETE_MANUAL_STEP, "seq-m", "r1");
  EXPECT_THAT(status, StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_FALSE(ErrorInfoOf(status).reason().empty());
  EXPECT_EQ(LogSnapshot(server), before);
}

}  // namespace
}  // namespace sequencer::testing
