// Metrics and the JSON log of the real sequencerd (server/observability.h):
// after a known workload, GET /metrics on --metrics_listen counts exactly
// the calls made, by method and code, the leases handed out and the
// recipients by status; the log has one line per call, naming method, tenant,
// actor and code, and nothing of the recipients' data.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "app/storage/event_codec.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "tests/util/api_helpers.h"
#include "tests/util/daemon.h"
#include "tests/util/grpc_status_matchers.h"
#include "tests/util/temp_dir.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

constexpr char kSeq[] = "seq";
constexpr char kMarker[] = "mzqk7-contact-w3x9v";

// GET http://127.0.0.1:<port>/metrics; the body, or "" on failure.
std::string Scrape(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
      0) {
    close(fd);
    return "";
  }
  const std::string request =
      "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  (void)!write(fd, request.data(), request.size());
  std::string response;
  char buffer[65536];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, n);
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

// The value of the sample of `name` whose labels include each of `labels`
// (`key="value"` strings); -1 when there is none.
double Sample(const std::string& text, const std::string& name,
              const std::vector<std::string>& labels = {}) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, name)) continue;
    absl::string_view rest = line.substr(name.size());
    if (!rest.empty() && rest[0] != '{' && rest[0] != ' ') continue;
    bool all = true;
    for (const std::string& label : labels) {
      all = all && absl::StrContains(line, label);
    }
    if (!all) continue;
    double value = -1;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) {
      return value;
    }
  }
  return -1;
}

TEST(MetricsTest, CountsWhatWasDoneAndLogsEachCall) {
  TempDir dir;
  Daemon daemon(dir.Sub("data"), /*capture_stderr=*/true);
  daemon.set_extra_flags({"--metrics_listen=127.0.0.1:0", "--log=stderr"});
  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  int port = 0;
  {
    absl::string_view line = daemon.listening_line();
    const size_t at = line.find("metrics http://127.0.0.1:");
    ASSERT_NE(at, absl::string_view::npos) << line;
    line.remove_prefix(at + sizeof("metrics http://127.0.0.1:") - 1);
    ASSERT_TRUE(absl::SimpleAtoi(line.substr(0, line.find('/')), &port))
        << line;
  }
  auto delivery = v1::DeliveryService::NewStub(daemon.channel());
  auto clock = v1::ClockService::NewStub(daemon.channel());

  v1::CreateSequenceRequest create;
  create.set_request_id("create-1");
  create.set_sequence_id(kSeq);
  create.set_name("Outreach");
  *create.add_steps() = SmsStep(absl::ZeroDuration());
  v1::CreateSequenceResponse created;
  ASSERT_TRUE(
      daemon.sequences().CreateSequence(CallAs().get(), create, &created).ok());
  v1::EnrollRecipientsRequest enroll;
  enroll.set_request_id("enroll-1");
  enroll.set_sequence_id(kSeq);
  for (const char* id : {"r1", "r2", "r3"}) {
    v1::RecipientInput* recipient = enroll.add_recipients();
    recipient->set_recipient_id(id);
    recipient->mutable_contact()->set_email(absl::StrCat(kMarker, "@x.com"));
    recipient->mutable_contact()->set_phone("+15550100");
    (*recipient->mutable_variables())["first_name"] = kMarker;
  }
  v1::EnrollRecipientsResponse enrolled;
  ASSERT_TRUE(daemon.recipients()
                  .EnrollRecipients(CallAs().get(), enroll, &enrolled)
                  .ok());
  v1::RecipientActionRequest pause;
  pause.set_request_id("pause-1");
  pause.set_sequence_id(kSeq);
  pause.set_recipient_id("r1");
  v1::Recipient paused;
  ASSERT_TRUE(
      daemon.recipients().PauseRecipient(CallAs().get(), pause, &paused).ok());
  pause.set_request_id("pause-2");  // already paused: refused
  EXPECT_THAT(
      daemon.recipients().PauseRecipient(CallAs().get(), pause, &paused),
      StatusIs(grpc::StatusCode::FAILED_PRECONDITION));
  v1::GetRecipientRequest get;
  get.set_sequence_id(kSeq);
  get.set_recipient_id("nobody");
  v1::Recipient nobody;
  EXPECT_THAT(daemon.recipients().GetRecipient(CallAs().get(), get, &nobody),
              StatusIs(grpc::StatusCode::NOT_FOUND));
  v1::AdvanceTimeRequest advance;
  *advance.mutable_by() = app::ToProtoDuration(absl::ZeroDuration());
  v1::TimeResponse time;
  ASSERT_TRUE(clock->AdvanceTime(CallAs().get(), advance, &time).ok());
  v1::LeaseStepsRequest lease;
  lease.set_channel(v1::STEP_TYPE_SMS);
  lease.set_max_steps(10);
  v1::LeaseStepsResponse leased;
  ASSERT_TRUE(delivery->LeaseSteps(CallAs().get(), lease, &leased).ok());
  ASSERT_EQ(leased.leases_size(), 2);  // r2 and r3; r1 is paused

  const std::string metrics = Scrape(port);
  ASSERT_FALSE(metrics.empty());
  const std::string pause_method =
      "method=\"/sequencer.v1.RecipientService/PauseRecipient\"";
  EXPECT_EQ(
      Sample(metrics, "sequencer_calls_total", {pause_method, "code=\"OK\""}),
      1)
      << metrics;
  EXPECT_EQ(Sample(metrics, "sequencer_calls_total",
                   {pause_method, "code=\"FAILED_PRECONDITION\""}),
            1);
  EXPECT_EQ(Sample(metrics, "sequencer_calls_total",
                   {"method=\"/sequencer.v1.RecipientService/GetRecipient\"",
                    "code=\"NOT_FOUND\""}),
            1);
  EXPECT_EQ(Sample(metrics, "sequencer_call_seconds_count", {pause_method}), 2);
  EXPECT_EQ(Sample(metrics, "sequencer_leases_outstanding"), 2);
  EXPECT_EQ(
      Sample(metrics, "sequencer_recipients",
             {"tenant=\"tenant-a\"", "status=\"RECIPIENT_STATUS_PAUSED\""}),
      1);
  EXPECT_EQ(Sample(metrics, "sequencer_recipients",
                   {"tenant=\"tenant-a\"",
                    "status=\"RECIPIENT_STATUS_IN_PROGRESS\""}),
            2);
  // create, enroll, pause: three commits at least (the start-up's own and
  // the scheduler's come on top), served by no more writes than commits.
  const double commits = Sample(metrics, "sequencer_store_commits_total");
  const double writes = Sample(metrics, "sequencer_store_group_writes_total");
  EXPECT_GE(commits, 3);
  EXPECT_GE(writes, 1);
  EXPECT_LE(writes, commits);
  EXPECT_EQ(Sample(metrics, "sequencer_store_write_seconds_count"), writes);
  EXPECT_EQ(Sample(metrics, "sequencer_store_writable"), 1);
  EXPECT_GT(Sample(metrics, "sequencer_store_disk_bytes"), 0);
  EXPECT_EQ(Sample(metrics, "sequencer_scheduler_lag_seconds"), 0);
  EXPECT_FALSE(absl::StrContains(metrics, kMarker));

  // Every metric the dashboard and the alert rules in deploy/monitoring use
  // is one the server exports.
  for (const char* file : {"grafana-dashboard.json", "alerts.yaml"}) {
    std::ifstream in(
        absl::StrCat(SEQUENCER_SOURCE_DIR, "/deploy/monitoring/", file));
    const std::string text((std::istreambuf_iterator<char>(in)),
                           std::istreambuf_iterator<char>());
    ASSERT_FALSE(text.empty()) << file;
    // Each "sequencer_[a-z_]+" name in the file (no std::regex: GCC 12
    // warns inside it under the sanitizer build's -Werror).
    int used = 0;
    for (size_t at = text.find("sequencer_"); at != std::string::npos;
         at = text.find("sequencer_", at + 1)) {
      size_t end = at + sizeof("sequencer_") - 1;
      while (end < text.size() &&
             ((text[end] >= 'a' && text[end] <= 'z') || text[end] == '_')) {
        ++end;
      }
      if (at > 0 && (std::isalnum(static_cast<unsigned char>(text[at - 1])) ||
                     text[at - 1] == '_' || text[at - 1] == '/')) {
        continue;  // part of a longer word or a path
      }
      const std::string metric = text.substr(at, end - at);
      ++used;
      EXPECT_TRUE(absl::StrContains(metrics, absl::StrCat("\n", metric, " ")) ||
                  absl::StrContains(metrics, absl::StrCat("\n", metric, "{")))
          << file << " uses " << metric << ", which is not exported";
    }
    EXPECT_GT(used, 5) << file;
  }

  // The log: one line per call (the refused pause among them), no data of
  // the recipients.
  std::vector<std::string> lines;
  while (true) {
    auto line = daemon.process().ReadLine(absl::Seconds(5));
    if (!line.ok()) break;
    lines.push_back(*line);
    if (absl::StrContains(*line, "LeaseSteps")) break;
  }
  int refused_pause = 0;
  for (const std::string& line : lines) {
    EXPECT_FALSE(absl::StrContains(line, kMarker)) << line;
    if (absl::StrContains(line, "\"event\":\"call\"") &&
        absl::StrContains(line, "PauseRecipient") &&
        absl::StrContains(line, "\"code\":\"FAILED_PRECONDITION\"") &&
        absl::StrContains(line, "\"tenant\":\"tenant-a\"") &&
        absl::StrContains(line, "\"actor\":") &&
        absl::StrContains(line, "\"request_id\":\"pause-2\"")) {
      ++refused_pause;
    }
  }
  EXPECT_EQ(refused_pause, 1) << absl::StrJoin(lines, "\n");

  // A begun send whose deadline (15 minutes) passes without a report.
  v1::BeginSendRequest begin;
  begin.set_lease_token(leased.leases(0).lease_token());
  begin.set_sequence_id(kSeq);
  begin.set_recipient_id(leased.leases(0).recipient_id());
  v1::BeginSendResponse began;
  ASSERT_TRUE(delivery->BeginSend(CallAs().get(), begin, &began).ok());
  EXPECT_EQ(Sample(metrics, "sequencer_sends_timed_out_total"), 0);
  *advance.mutable_by() = app::ToProtoDuration(absl::Minutes(16));
  ASSERT_TRUE(clock->AdvanceTime(CallAs().get(), advance, &time).ok());
  const std::string later = Scrape(port);
  EXPECT_EQ(Sample(later, "sequencer_sends_timed_out_total"), 1) << later;
  EXPECT_EQ(Sample(later, "sequencer_leases_outstanding"), 0);  // expired

  // SIGTERM: health NOT_SERVING ("stopping"), calls drained, then the purge
  // and the store closed ("stopped"), exit 0.
  daemon.process().Kill(SIGTERM);
  auto rest = daemon.process().ReadAll(absl::Seconds(30));
  ASSERT_TRUE(rest.ok()) << rest.status();
  const size_t stopping = rest->find("\"event\":\"stopping\"");
  const size_t stopped = rest->find("\"event\":\"stopped\"");
  ASSERT_NE(stopping, std::string::npos) << *rest;
  ASSERT_NE(stopped, std::string::npos) << *rest;
  EXPECT_LT(stopping, stopped);
  EXPECT_TRUE(absl::StrContains(*rest, "\"serving\":\"NOT_SERVING\""));
  auto status = daemon.process().Wait(absl::Seconds(30));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

}  // namespace
}  // namespace sequencer::testing

namespace sequencer::testing {
namespace {

// --drain_delay: after SIGTERM, health says NOT_SERVING at once while calls
// are still answered for the delay (balancers move away first); then the
// server stops and exits 0.
TEST(DrainTest, HealthTurnsFirstAndCallsAreServedForTheDelay) {
  TempDir dir;
  Daemon daemon(dir.Sub("data"));
  daemon.set_extra_flags({"--drain_delay=5s"});
  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  ASSERT_EQ(daemon.Health(), grpc::health::v1::HealthCheckResponse::SERVING);

  daemon.process().Kill(SIGTERM);
  while (true) {  // the line main prints when the signal arrives
    auto line = daemon.process().ReadLine(absl::Seconds(30));
    ASSERT_TRUE(line.ok()) << line.status();
    if (absl::StrContains(*line, "shutting down")) break;
  }
  int attempts = 0;
  while (daemon.Health() !=
         grpc::health::v1::HealthCheckResponse::NOT_SERVING) {
    ASSERT_LT(++attempts, 1000) << "health never turned NOT_SERVING";
  }
  v1::ListSequencesRequest list;
  v1::ListSequencesResponse listed;
  grpc::Status status =
      daemon.sequences().ListSequences(CallAs().get(), list, &listed);
  EXPECT_TRUE(status.ok()) << status.error_message();

  auto exited = daemon.process().Wait(absl::Seconds(60));
  ASSERT_TRUE(exited.ok()) << exited.status();
  EXPECT_TRUE(WIFEXITED(*exited) && WEXITSTATUS(*exited) == 0) << *exited;
}

}  // namespace
}  // namespace sequencer::testing
