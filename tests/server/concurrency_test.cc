// Concurrent calls on one recipient through a real server are serialized:
// exactly one of several racing actions wins, the others are refused, and the
// recipient's version moves by exactly one.

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/barrier.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/util/api_helpers.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

constexpr int kThreads = 8;

// Runs `call(i)` on kThreads threads released together; returns the codes.
template <typename Call>
std::vector<grpc::StatusCode> Race(Call call) {
  std::vector<grpc::StatusCode> codes(kThreads, grpc::StatusCode::UNKNOWN);
  absl::Barrier* barrier = new absl::Barrier(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      if (barrier->Block()) delete barrier;
      codes[i] = call(i).error_code();
    });
  }
  for (auto& t : threads) t.join();
  return codes;
}

int Count(const std::vector<grpc::StatusCode>& codes, grpc::StatusCode code) {
  return static_cast<int>(std::count(codes.begin(), codes.end(), code));
}

class ConcurrencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CreateSequence(server_, "s",
                   {EmailStep(absl::Hours(24)), SmsStep(absl::Hours(24)),
                    SmsStep(absl::Hours(24))});
    Enroll(server_, "s", {"r1"});
  }
  TestServer server_;
};

TEST_F(ConcurrencyTest, ExactlyOneOfEightPausesWins) {
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE(round);
    const v1::Recipient before = MustGetRecipient(server_, "s", "r1");
    ASSERT_EQ(before.status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
    const size_t log_before = LogSnapshot(server_).size();
    std::vector<grpc::StatusCode> codes =
        Race([&](int) { return Act(server_, v1::ACTION_PAUSE, "s", "r1"); });
    EXPECT_EQ(Count(codes, grpc::StatusCode::OK), 1);
    EXPECT_EQ(Count(codes, grpc::StatusCode::FAILED_PRECONDITION),
              kThreads - 1);
    const v1::Recipient after = MustGetRecipient(server_, "s", "r1");
    EXPECT_EQ(after.status(), v1::RECIPIENT_STATUS_PAUSED);
    EXPECT_EQ(after.version(), before.version() + 1);
    EXPECT_EQ(LogSnapshot(server_).size(), log_before + 1);
    MustAct(server_, v1::ACTION_RESUME, "s", "r1");
  }
}

TEST_F(ConcurrencyTest, ConcurrentSkipsEachMoveOneStep) {
  // Skips are available until the recipient finishes: three of the eight
  // succeed (one per step), in order, and the rest are refused.
  std::vector<grpc::StatusCode> codes =
      Race([&](int) { return Act(server_, v1::ACTION_SKIP_STEP, "s", "r1"); });
  EXPECT_EQ(Count(codes, grpc::StatusCode::OK), 3);
  EXPECT_EQ(Count(codes, grpc::StatusCode::FAILED_PRECONDITION), kThreads - 3);
  const v1::Recipient after = MustGetRecipient(server_, "s", "r1");
  EXPECT_EQ(after.status(), v1::RECIPIENT_STATUS_FINISHED);
  // Enrolled, three StepSkipped, Finished.
  EXPECT_EQ(after.version(), 5u);
  v1::RecipientContent content;
  ASSERT_TRUE(ViewContent(server_, "s", "r1", &content).ok());
  for (const auto& step : content.steps())
    EXPECT_EQ(step.state(), v1::STEP_STATE_SKIPPED);
}

TEST_F(ConcurrencyTest, SameRequestIdRacingWritesOnce) {
  const v1::RecipientActionRequest request = ActionRequest("s", "r1");
  std::vector<v1::Recipient> outs(kThreads);
  std::vector<grpc::StatusCode> codes = Race([&](int i) {
    return server_.recipients().PauseRecipient(CallAs().get(), request,
                                               &outs[i]);
  });
  EXPECT_EQ(Count(codes, grpc::StatusCode::OK), kThreads);
  for (const auto& out : outs) EXPECT_TRUE(ProtoEquals(out, outs[0]));
  EXPECT_EQ(MustGetRecipient(server_, "s", "r1").version(), 2u);
}

TEST_F(ConcurrencyTest, MixedActionsLeaveAConsistentRecipient) {
  // Pause, stop and signals racing: whatever order they run in, every
  // success wrote exactly one event, and the recipient's version says so.
  std::vector<grpc::StatusCode> codes = Race([&](int i) {
    switch (i % 4) {
      case 0:
        return Act(server_, v1::ACTION_PAUSE, "s", "r1");
      case 1:
        return Act(server_, v1::ACTION_STOP, "s", "r1");
      case 2:
        return Signal(server_, "s", "r1", v1::SIGNAL_TYPE_REPLY);
      default:
        return Act(server_, v1::ACTION_SKIP_STEP, "s", "r1");
    }
  });
  for (auto code : codes) {
    EXPECT_TRUE(code == grpc::StatusCode::OK ||
                code == grpc::StatusCode::FAILED_PRECONDITION)
        << code;
  }
  const v1::Recipient after = MustGetRecipient(server_, "s", "r1");
  v1::RecipientTimeline timeline;
  ASSERT_TRUE(Timeline(server_, "s", "r1", &timeline).ok());
  EXPECT_EQ(after.version(), static_cast<uint64_t>(timeline.entries_size()));
  for (int i = 0; i < timeline.entries_size(); ++i)
    EXPECT_EQ(timeline.entries(i).version(), static_cast<uint64_t>(i + 1));
  // Stop and the reply (stop_on_response on) are both final; at least one
  // of them ran.
  EXPECT_TRUE(after.status() == v1::RECIPIENT_STATUS_STOPPED ||
              after.status() == v1::RECIPIENT_STATUS_RESPONDED)
      << v1::RecipientStatus_Name(after.status());
}

}  // namespace
}  // namespace sequencer::testing
