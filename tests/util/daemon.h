// The real sequencerd binary as a child process, with clients for it: for
// tests of crash recovery and signals. Header-only because the binary's path
// (SEQUENCERD_PATH) is a compile definition of the server tests.

#ifndef SEQUENCER_TESTS_UTIL_DAEMON_H_
#define SEQUENCER_TESTS_UTIL_DAEMON_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "tests/util/process.h"

namespace sequencer::testing {

class Daemon {
 public:
  static constexpr absl::Duration kTimeout = absl::Seconds(30);

  explicit Daemon(std::string data_dir) : data_dir_(std::move(data_dir)) {}

  // Starts the binary (manual clock, a free port) and learns its address from
  // the first stdout line. Use with ASSERT_NO_FATAL_FAILURE.
  void Start() {
    auto child =
        ChildProcess::Start({SEQUENCERD_PATH, "--listen=127.0.0.1:0",
                             "--data_dir=" + data_dir_, "--clock=manual"});
    ASSERT_TRUE(child.ok()) << child.status();
    process_ = *std::move(child);
    auto line = process_->ReadLine(kTimeout);
    ASSERT_TRUE(line.ok()) << line.status();
    absl::string_view rest = *line;
    ASSERT_TRUE(absl::ConsumePrefix(&rest, "sequencerd listening on "))
        << *line;
    address_ = std::string(rest.substr(0, rest.find(' ')));
    ASSERT_FALSE(address_.empty()) << *line;
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
    channel_ = grpc::CreateCustomChannel(
        address_, grpc::InsecureChannelCredentials(), args);
    sequences_ = v1::SequenceService::NewStub(channel_);
    recipients_ = v1::RecipientService::NewStub(channel_);
  }

  // Sends `signal` and returns the wait status.
  int Stop(int signal) {
    process_->Kill(signal);
    auto status = process_->Wait(kTimeout);
    EXPECT_TRUE(status.ok()) << status.status();
    return status.ok() ? *status : -1;
  }

  ChildProcess& process() { return *process_; }
  const std::string& address() const { return address_; }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }
  v1::SequenceService::Stub& sequences() { return *sequences_; }
  v1::RecipientService::Stub& recipients() { return *recipients_; }

 private:
  std::string data_dir_;
  std::unique_ptr<ChildProcess> process_;
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::SequenceService::Stub> sequences_;
  std::unique_ptr<v1::RecipientService::Stub> recipients_;
};

}  // namespace sequencer::testing

#endif  // SEQUENCER_TESTS_UTIL_DAEMON_H_
