// sequencerctl's runtime commands against a real server: `advance` moves the
// manual clock and runs the scheduler; `deliver --once` is a working delivery
// worker (lease, begin, report).

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/util/api_helpers.h"
#include "tests/util/process.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

RunResult Ctl(TestServer& server, std::vector<std::string> args) {
  args.insert(args.begin(), SEQUENCERCTL_PATH);
  args.push_back("--server=" + server.address());
  args.push_back(std::string("--tenant=") + kTenant);
  auto result = RunCommand(args, absl::Seconds(60));
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : RunResult{-1, ""};
}

TEST(CtlRuntimeTest, AdvanceRunsTheSchedulerAndDeliverSendsWhatIsDue) {
  TestServer server;
  CreateSequence(server, "s", {EmailStep(absl::Hours(1))});
  Enroll(server, "s", {"r1", "r2"});

  RunResult nothing = Ctl(server, {"deliver", "--channel=EMAIL", "--once"});
  EXPECT_EQ(nothing.ExitCode(), 0);
  EXPECT_EQ(nothing.output, "") << "nothing is due yet";

  RunResult advanced = Ctl(server, {"advance", "1h"});
  EXPECT_EQ(advanced.ExitCode(), 0) << advanced.output;
  EXPECT_TRUE(absl::StrContains(advanced.output, "2026-01-05T10:00:00Z"))
      << advanced.output;

  RunResult delivered = Ctl(server, {"deliver", "--channel=EMAIL", "--once"});
  EXPECT_EQ(delivered.ExitCode(), 0);
  std::vector<std::string> lines =
      absl::StrSplit(delivered.output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << delivered.output;
  EXPECT_TRUE(absl::StrContains(lines[0], "send EMAIL to s/r1 step 0"))
      << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[0], "Hi Name-r1")) << lines[0];
  for (const char* id : {"r1", "r2"}) {
    EXPECT_EQ(MustGetRecipient(server, "s", id).status(),
              v1::RECIPIENT_STATUS_FINISHED)
        << id;
  }
}

TEST(CtlRuntimeTest, AdvanceRejectsWhatIsNotADuration) {
  TestServer server;
  RunResult result = Ctl(server, {"advance", "soon"});
  EXPECT_EQ(result.ExitCode(), 2);
  EXPECT_EQ(server.clock().Now(), app::ManualClock::DefaultStart());
}

}  // namespace
}  // namespace sequencer::testing
