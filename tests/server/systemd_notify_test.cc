// sequencerd under systemd's Type=notify (deploy/systemd/sequencerd.service):
// the real binary, started with NOTIFY_SOCKET set to a datagram socket of the
// test, says READY=1 once it serves (after its "listening" line) and
// STOPPING=1 when SIGTERM begins the drain, then exits 0.

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/util/process.h"
#include "tests/util/temp_dir.h"

namespace sequencer::testing {
namespace {

// A datagram socket bound to `path`, as systemd's notify socket is.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address = {};
    address.sun_family = AF_UNIX;
    path.copy(address.sun_path, sizeof(address.sun_path) - 1);
    bound_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&address),
                              sizeof(address)) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) close(fd_);
    unlink(path_.c_str());
  }
  bool bound() const { return bound_; }

  // The next message, or "" when none arrives within `timeout`.
  std::string Receive(absl::Duration timeout) {
    timeval tv = {};
    tv.tv_sec = absl::ToInt64Seconds(timeout);
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buffer[4096];
    const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    return n > 0 ? std::string(buffer, n) : std::string();
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

TEST(SystemdNotifyTest, ReadyAfterServingAndStoppingOnSigterm) {
  TempDir dir;
  NotifySocket notify(dir.Sub("notify"));
  ASSERT_TRUE(notify.bound());
  auto child = ChildProcess::Start(
      {"/usr/bin/env", absl::StrCat("NOTIFY_SOCKET=", dir.Sub("notify")),
       SEQUENCERD_PATH, "--listen=127.0.0.1:0", "--auth=dev",
       "--data_dir=" + dir.Sub("data")});
  ASSERT_TRUE(child.ok()) << child.status();
  auto line = (*child)->ReadLine(absl::Seconds(30));
  ASSERT_TRUE(line.ok()) << line.status();
  ASSERT_TRUE(absl::StartsWith(*line, "sequencerd listening on ")) << *line;
  const std::string address =
      line->substr(sizeof("sequencerd listening on ") - 1,
                   line->find(' ', sizeof("sequencerd listening on ") - 1) -
                       (sizeof("sequencerd listening on ") - 1));

  const std::string ready = notify.Receive(absl::Seconds(30));
  EXPECT_TRUE(absl::StrContains(ready, "READY=1")) << ready;
  EXPECT_TRUE(absl::StrContains(ready, absl::StrCat("serving on ", address)))
      << ready;
  EXPECT_TRUE(absl::StrContains(
      ready, absl::StrCat("MAINPID=", static_cast<long>((*child)->pid()))))
      << ready;

  (*child)->Kill(SIGTERM);
  const std::string stopping = notify.Receive(absl::Seconds(30));
  EXPECT_TRUE(absl::StrContains(stopping, "STOPPING=1")) << stopping;
  auto status = (*child)->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

}  // namespace
}  // namespace sequencer::testing
