// Memory of the real sequencerd under a burst of large requests: eight
// concurrent EnrollRecipients near the 16 MiB request limit (10,000 recipients
// each), then idle. Reports, for the daemon with its default request budget
// and without one (--max_inflight_request_mib=0) in the same run: RSS idle,
// peak RSS during the burst (VmHWM), RSS a few seconds after it, and how many
// requests were refused as busy. Targets: peak <= 1 GiB, back under 256 MiB.
//
//   build/memory_burst_bench [--requests=8] [--settle_seconds=5]

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "tests/util/process.h"

ABSL_FLAG(int, requests, 8, "concurrent near-limit enrollments");
ABSL_FLAG(int, settle_seconds, 5, "idle time before the settled RSS");

namespace {

namespace v1 = sequencer::v1;
using sequencer::testing::ChildProcess;

constexpr int kRecipients = 10000;

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("x-tenant-id", "bench");
  context->AddMetadata("x-actor", "bench");
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::minutes(5));
  return context;
}

// A /proc/<pid>/status field in MiB ("VmRSS", "VmHWM").
double StatusMib(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, field + ":")) continue;
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, " kB");
    double kb = 0;
    if (absl::SimpleAtod(rest, &kb)) return kb / 1024;
  }
  return -1;
}

v1::EnrollRecipientsRequest NearLimitEnrollment(int batch) {
  v1::EnrollRecipientsRequest request;
  request.set_request_id(absl::StrCat("enroll-", batch));
  request.set_sequence_id("burst");
  const std::string note(1500, 'n');
  for (int i = 0; i < kRecipients; ++i) {
    v1::RecipientInput* input = request.add_recipients();
    input->set_recipient_id(absl::StrCat("b", batch, "-", i));
    input->mutable_contact()->set_email(absl::StrCat("r", i, "@example.com"));
    (*input->mutable_variables())["first_name"] = "Name";
    (*input->mutable_variables())["aira.opening_line"] = note;
  }
  return request;
}

struct Figures {
  double idle_mib = 0, peak_mib = 0, settled_mib = 0;
  int ok = 0, busy = 0, other = 0;
  double seconds = 0;
};

Figures Run(const std::string& data_dir, const std::string& budget_flag) {
  auto child = ChildProcess::Start({SEQUENCERD_PATH, "--listen=127.0.0.1:0",
                                    "--data_dir=" + data_dir, "--auth=dev",
                                    "--clock=manual", budget_flag});
  if (!child.ok()) {
    std::fprintf(stderr, "%s\n", child.status().ToString().c_str());
    std::exit(1);
  }
  auto line = (*child)->ReadLine(absl::Seconds(120));
  const std::string text = line.ok() ? *line : std::string();
  absl::string_view rest = text;
  if (!absl::ConsumePrefix(&rest, "sequencerd listening on ")) {
    std::fprintf(stderr, "sequencerd did not start: %s\n",
                 line.ok() ? line->c_str() : line.status().ToString().c_str());
    (*child)->Kill(SIGKILL);
    std::exit(1);
  }
  const std::string address(rest.substr(0, rest.find(' ')));
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(
      address, grpc::InsecureChannelCredentials(), args);
  auto sequences = v1::SequenceService::NewStub(channel);
  auto recipients = v1::RecipientService::NewStub(channel);

  v1::CreateSequenceRequest create;
  create.set_request_id("create");
  create.set_sequence_id("burst");
  create.set_name("Burst");
  v1::StepDefinition* step = create.add_steps();
  step->set_type(v1::STEP_TYPE_EMAIL);
  step->mutable_delay()->set_seconds(86400);
  step->mutable_content()->set_subject("Hi {{first_name}}");
  step->mutable_content()->set_body("{{aira.opening_line}}");
  v1::CreateSequenceResponse created;
  if (!sequences->CreateSequence(Ctx().get(), create, &created).ok()) {
    std::fprintf(stderr, "CreateSequence failed\n");
    std::exit(1);
  }

  const int n = absl::GetFlag(FLAGS_requests);
  std::vector<v1::EnrollRecipientsRequest> requests;
  for (int i = 0; i < n; ++i) requests.push_back(NearLimitEnrollment(i));
  std::fprintf(stderr, "request size %.1f MiB\n",
               requests[0].ByteSizeLong() / 1048576.0);

  Figures figures;
  const pid_t pid = (*child)->pid();
  figures.idle_mib = StatusMib(pid, "VmRSS");
  std::vector<grpc::Status> statuses(n);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      v1::EnrollRecipientsResponse response;
      statuses[i] =
          recipients->EnrollRecipients(Ctx().get(), requests[i], &response);
    });
  }
  for (auto& t : threads) t.join();
  figures.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  for (const grpc::Status& status : statuses) {
    if (status.ok()) {
      ++figures.ok;
    } else if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++figures.busy;
    } else {
      ++figures.other;
      std::fprintf(stderr, "enroll: %s\n", status.error_message().c_str());
    }
  }
  figures.peak_mib = StatusMib(pid, "VmHWM");
  std::this_thread::sleep_for(
      std::chrono::seconds(absl::GetFlag(FLAGS_settle_seconds)));
  figures.settled_mib = StatusMib(pid, "VmRSS");
  (*child)->Kill(SIGTERM);
  (void)(*child)->Wait(absl::Seconds(30));
  return figures;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  char pattern[] = "/tmp/memory_burst_benchXXXXXX";
  const std::string root = mkdtemp(pattern);
  struct Config {
    const char* name;
    const char* flag;
  } configs[] = {{"default budget (64 MiB)", "--max_inflight_request_mib=64"},
                 {"no budget", "--max_inflight_request_mib=0"}};
  std::printf("%-24s %9s %9s %9s %6s %6s %8s %10s %10s\n", "daemon", "idle MiB",
              "peak MiB", "after MiB", "ok", "busy", "seconds", "peak/1GiB",
              "after/256M");
  for (const Config& config : configs) {
    const std::string dir = absl::StrCat(root, "/", config.flag + 2);
    const Figures f = Run(dir, config.flag);
    std::printf("%-24s %9.0f %9.0f %9.0f %6d %6d %8.1f %10.2f %10.2f\n",
                config.name, f.idle_mib, f.peak_mib, f.settled_mib, f.ok,
                f.busy, f.seconds, f.peak_mib / 1024, f.settled_mib / 256);
    std::fflush(stdout);
  }
  std::filesystem::remove_all(root);
  return 0;
}
