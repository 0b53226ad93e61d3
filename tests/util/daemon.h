// The real sequencerd binary as a child process, with clients for it: for
// tests of crash recovery and signals. Header-only because the binary's path
// (SEQUENCERD_PATH) is a compile definition of the server tests.

#ifndef SEQUENCER_TESTS_UTIL_DAEMON_H_
#define SEQUENCER_TESTS_UTIL_DAEMON_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "tests/util/process.h"

namespace sequencer::testing {

class Daemon {
 public:
  static constexpr absl::Duration kTimeout = absl::Seconds(30);

  // With `capture_stderr`, the daemon's stderr is read with its stdout: lines
  // before the "listening" line are kept in startup_lines().
  explicit Daemon(std::string data_dir, bool capture_stderr = false)
      : data_dir_(std::move(data_dir)), capture_stderr_(capture_stderr) {}

  // Flags added to the command line of the next Start.
  void set_extra_flags(std::vector<std::string> flags) {
    extra_flags_ = std::move(flags);
  }

  // The command line Start runs: --auth=dev (sequencerd requires an --auth)
  // unless the extra flags give their own --auth.
  std::vector<std::string> Argv() const {
    std::vector<std::string> argv = {SEQUENCERD_PATH, "--listen=127.0.0.1:0",
                                     "--data_dir=" + data_dir_,
                                     "--clock=manual", "--log=none"};
    bool own_auth = false;
    for (const std::string& flag : extra_flags_) {
      own_auth = own_auth || absl::StartsWith(flag, "--auth=");
    }
    if (!own_auth) argv.push_back("--auth=dev");
    argv.insert(argv.end(), extra_flags_.begin(), extra_flags_.end());
    return argv;
  }

  // Starts the binary (manual clock, a free port) and learns its address from
  // its "listening" line. Use with ASSERT_NO_FATAL_FAILURE.
  void Start() {
    auto child = ChildProcess::Start(Argv(), capture_stderr_);
    ASSERT_TRUE(child.ok()) << child.status();
    process_ = *std::move(child);
    startup_lines_.clear();
    absl::StatusOr<std::string> line;
    absl::string_view rest;
    while (true) {
      line = process_->ReadLine(kTimeout);
      ASSERT_TRUE(line.ok()) << line.status();
      rest = *line;
      if (absl::ConsumePrefix(&rest, "sequencerd listening on ")) break;
      ASSERT_TRUE(capture_stderr_) << *line;
      startup_lines_.push_back(*line);
    }
    listening_line_ = *line;
    address_ = std::string(rest.substr(0, rest.find(' ')));
    ASSERT_FALSE(address_.empty()) << *line;
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
    channel_ = grpc::CreateCustomChannel(
        address_, grpc::InsecureChannelCredentials(), args);
    sequences_ = v1::SequenceService::NewStub(channel_);
    recipients_ = v1::RecipientService::NewStub(channel_);
  }

  // The serving status the health service reports for the whole server, or
  // UNKNOWN when the call fails.
  grpc::health::v1::HealthCheckResponse::ServingStatus Health() {
    auto stub = grpc::health::v1::Health::NewStub(channel_);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kTimeout));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    if (!stub->Check(&context, request, &response).ok()) {
      return grpc::health::v1::HealthCheckResponse::UNKNOWN;
    }
    return response.status();
  }

  // Sends `signal` and returns the wait status.
  int Stop(int signal) {
    process_->Kill(signal);
    auto status = process_->Wait(kTimeout);
    EXPECT_TRUE(status.ok()) << status.status();
    return status.ok() ? *status : -1;
  }

  ChildProcess& process() { return *process_; }
  const std::vector<std::string>& startup_lines() const {
    return startup_lines_;
  }
  const std::string& address() const { return address_; }
  // The whole "sequencerd listening on ..." line of the last Start.
  const std::string& listening_line() const { return listening_line_; }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }
  v1::SequenceService::Stub& sequences() { return *sequences_; }
  v1::RecipientService::Stub& recipients() { return *recipients_; }

 private:
  std::string data_dir_;
  std::vector<std::string> extra_flags_;
  bool capture_stderr_ = false;
  std::vector<std::string> startup_lines_;
  std::unique_ptr<ChildProcess> process_;
  std::string address_;
  std::string listening_line_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::SequenceService::Stub> sequences_;
  std::unique_ptr<v1::RecipientService::Stub> recipients_;
};

#ifdef SEQUENCERCTL_PATH
// Runs the real sequencerctl with `args` to completion (at most 60 s); its
// stdout, and its stderr too with `merge_stderr`. A failure to run it fails
// the test and returns exit code -1.
inline RunResult Ctl(std::vector<std::string> args, bool merge_stderr = false) {
  args.insert(args.begin(), SEQUENCERCTL_PATH);
  auto result = RunCommand(args, absl::Seconds(60), merge_stderr);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : RunResult{-1, ""};
}
#endif

}  // namespace sequencer::testing

#endif  // SEQUENCER_TESTS_UTIL_DAEMON_H_
