// Child processes for tests that drive the real binaries (sequencerd,
// sequencerctl): started with posix_spawn (safe in a multi-threaded test), the
// child's stdout on a pipe the test reads with bounded waits, stderr inherited
// (or, when asked, on the same pipe).

#ifndef SEQUENCER_TESTS_UTIL_PROCESS_H_
#define SEQUENCER_TESTS_UTIL_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sequencer::testing {

class ChildProcess {
 public:
  // Runs `argv[0]` (a path) with `argv`. With `merge_stderr`, the child's
  // stderr goes to the same pipe as its stdout. INTERNAL when it cannot be
  // spawned.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      const std::vector<std::string>& argv, bool merge_stderr = false);
  // Kills (SIGKILL) and reaps the child if it still runs.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // The next line of the child's stdout without its '\n'. DEADLINE_EXCEEDED
  // when none arrives within `timeout`; OUT_OF_RANGE at end of output.
  absl::StatusOr<std::string> ReadLine(absl::Duration timeout);
  // Everything the child writes until it closes stdout (usually: exits).
  absl::StatusOr<std::string> ReadAll(absl::Duration timeout);

  // Sends `signal` to the child.
  void Kill(int signal);
  // Waits for the child to end and returns its wait status (WIFEXITED, ...).
  // DEADLINE_EXCEEDED when it still runs after `timeout`.
  absl::StatusOr<int> Wait(absl::Duration timeout);

 private:
  ChildProcess(pid_t pid, int stdout_fd) : pid_(pid), stdout_fd_(stdout_fd) {}
  // Appends what is readable within the deadline to buffer_; false at EOF.
  absl::StatusOr<bool> Fill(absl::Time deadline);

  pid_t pid_;
  int stdout_fd_;
  std::string buffer_;
  bool eof_ = false;
  std::optional<int> wait_status_;
};

struct RunResult {
  // The wait status; see ExitCode.
  int wait_status = 0;
  std::string output;
  // The exit code, or -1 when the process did not exit normally.
  int ExitCode() const;
};

// Runs a command to completion, capturing stdout (and stderr, with
// `merge_stderr`).
absl::StatusOr<RunResult> RunCommand(const std::vector<std::string>& argv,
                                     absl::Duration timeout = absl::Seconds(60),
                                     bool merge_stderr = false);

}  // namespace sequencer::testing

#endif  // SEQUENCER_TESTS_UTIL_PROCESS_H_
