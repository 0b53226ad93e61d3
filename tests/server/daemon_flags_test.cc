// sequencerd's command line: a bad flag value ends the process with a message
// naming the flag, before the data directory is created or touched.

#include <sys/wait.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/util/process.h"
#include "tests/util/temp_dir.h"

namespace sequencer::testing {
namespace {

struct BadFlag {
  std::string flag;
  std::string message;
};

TEST(DaemonFlagsTest, ABadValueIsRefusedBeforeTheDataDirectoryIsTouched) {
  const std::vector<BadFlag> cases = {
      {"--worker_threads=0", "--worker_threads must be 1 to 1024"},
      {"--worker_threads=1025", "--worker_threads must be 1 to 1024"},
      {"--send_deadline=0s", "--send_deadline must be positive"},
      {"--max_inflight_request_mib=-1",
       "--max_inflight_request_mib must be 0 or more"},
      {"--malloc_arenas=-1", "--malloc_arenas must be 0 or more"},
      {"--clock=wall", "--clock must be 'system' or 'manual', got 'wall'"},
      {"--subscription_round=-1ms", "--subscription_round must be 0 to 1s"},
      {"--subscription_round=2s", "--subscription_round must be 0 to 1s"},
  };
  TempDir dir;
  for (const BadFlag& bad : cases) {
    SCOPED_TRACE(bad.flag);
    const std::string data_dir = dir.Sub("data");
    auto child =
        ChildProcess::Start({SEQUENCERD_PATH, "--listen=127.0.0.1:0",
                             "--data_dir=" + data_dir, "--auth=dev", bad.flag},
                            /*merge_stderr=*/true);
    ASSERT_TRUE(child.ok()) << child.status();
    absl::StatusOr<std::string> output = (*child)->ReadAll(absl::Seconds(30));
    ASSERT_TRUE(output.ok()) << output.status();
    absl::StatusOr<int> status = (*child)->Wait(absl::Seconds(30));
    ASSERT_TRUE(status.ok()) << status.status();
    ASSERT_TRUE(WIFEXITED(*status));
    EXPECT_EQ(WEXITSTATUS(*status), 1);
    EXPECT_TRUE(absl::StrContains(*output, "sequencerd: " + bad.message))
        << *output;
    EXPECT_FALSE(std::filesystem::exists(data_dir));
  }
}

}  // namespace
}  // namespace sequencer::testing
