// Audit replay and the operator tools against the real sequencerd process
// (manual clock, port 0): a recipient as of several past instants and
// versions (API and `sequencerctl audit`), the tenant's events in log order
// (ReadEvents, `sequencerctl events`), `sequencerctl verify` against a
// running server on a healthy store and on one altered behind the service's
// back, and `sequencerctl backup` of a running server under writes, restored
// by starting a second sequencerd on the copy and comparing its answers.

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "app/runtime/clock.h"
#include "app/storage/event_codec.h"
#include "app/storage/store_layout.h"
#include "eventstore/rocksdb_event_store.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "sequencer/v1/admin.grpc.pb.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "tests/util/api_helpers.h"
#include "tests/util/daemon.h"
#include "tests/util/grpc_status_matchers.h"
#include "tests/util/process.h"
#include "tests/util/temp_dir.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kOtherTenant[] = "tenant-b";
const absl::Time kStart = app::ManualClock::DefaultStart();

// A started Daemon with stubs for every service.
class Client {
 public:
  explicit Client(Daemon& daemon)
      : daemon_(daemon),
        audit_(v1::AuditService::NewStub(daemon.channel())),
        admin_(v1::AdminService::NewStub(daemon.channel())),
        clock_(v1::ClockService::NewStub(daemon.channel())) {}

  Daemon& daemon() { return daemon_; }
  v1::SequenceService::Stub& sequences() { return daemon_.sequences(); }
  v1::RecipientService::Stub& recipients() { return daemon_.recipients(); }
  v1::AuditService::Stub& audit() { return *audit_; }
  v1::AdminService::Stub& admin() { return *admin_; }

  void CreateSequence(const std::string& id,
                      const std::string& tenant = kTenant) {
    v1::CreateSequenceRequest request;
    request.set_request_id(NextRequestId());
    request.set_sequence_id(id);
    request.set_name("Outreach");
    *request.add_steps() = EmailStep(absl::Hours(1));
    *request.add_steps() = TaskStep(absl::Hours(24));
    v1::CreateSequenceResponse response;
    grpc::Status status =
        sequences().CreateSequence(CallAs(tenant).get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  void Enroll(const std::string& sequence_id,
              const std::vector<std::string>& ids,
              const std::string& tenant = kTenant) {
    v1::EnrollRecipientsRequest request;
    request.set_request_id(NextRequestId());
    request.set_sequence_id(sequence_id);
    for (const auto& id : ids) {
      v1::RecipientInput* input = request.add_recipients();
      input->set_recipient_id(id);
      input->mutable_contact()->set_email(absl::StrCat(id, "@example.com"));
      (*input->mutable_variables())["first_name"] = absl::StrCat("Name-", id);
      (*input->mutable_variables())["company"] = "Acme";
    }
    v1::EnrollRecipientsResponse response;
    grpc::Status status =
        recipients().EnrollRecipients(CallAs(tenant).get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // PauseRecipient, ResumeRecipient, ... with a fresh request id.
  template <typename Method>
  grpc::Status Act(Method method, const std::string& sequence_id,
                   const std::string& recipient_id,
                   v1::Recipient* out = nullptr) {
    v1::Recipient ignored;
    return (recipients().*method)(CallAs().get(),
                                  ActionRequest(sequence_id, recipient_id),
                                  out != nullptr ? out : &ignored);
  }

  grpc::Status Edit(const std::string& sequence_id,
                    const std::string& recipient_id, int step_index,
                    const v1::ContentEdit& edit, v1::Recipient* out) {
    v1::EditContentRequest request;
    request.set_request_id(NextRequestId());
    request.set_sequence_id(sequence_id);
    request.set_recipient_id(recipient_id);
    request.set_step_index(step_index);
    *request.mutable_edit() = edit;
    return recipients().EditContent(CallAs().get(), request, out);
  }

  void Advance(absl::Duration by) {
    v1::AdvanceTimeRequest request;
    *request.mutable_by() = app::ToProtoDuration(by);
    v1::TimeResponse response;
    grpc::Status status =
        clock_->AdvanceTime(CallAs().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  grpc::Status Get(const std::string& sequence_id,
                   const std::string& recipient_id, v1::Recipient* out) {
    v1::GetRecipientRequest request;
    request.set_sequence_id(sequence_id);
    request.set_recipient_id(recipient_id);
    return recipients().GetRecipient(CallAs().get(), request, out);
  }

  grpc::Status AsOfTime(const std::string& sequence_id,
                        const std::string& recipient_id, absl::Time as_of,
                        v1::RecipientAsOf* out,
                        const std::string& tenant = kTenant) {
    v1::GetRecipientAsOfRequest request;
    request.set_sequence_id(sequence_id);
    request.set_recipient_id(recipient_id);
    *request.mutable_as_of() = app::ToProtoTime(as_of);
    return audit_->GetRecipientAsOf(CallAs(tenant).get(), request, out);
  }

  grpc::Status AsOfVersion(const std::string& sequence_id,
                           const std::string& recipient_id, uint64_t version,
                           v1::RecipientAsOf* out) {
    v1::GetRecipientAsOfRequest request;
    request.set_sequence_id(sequence_id);
    request.set_recipient_id(recipient_id);
    request.set_version(version);
    return audit_->GetRecipientAsOf(CallAs().get(), request, out);
  }

  // Every event of `tenant` through ReadEvents pages of `limit`.
  std::vector<v1::LoggedEvent> AllEvents(const std::string& tenant = kTenant,
                                         int limit = 0) {
    std::vector<v1::LoggedEvent> events;
    uint64_t from = 0;
    for (int pages = 0; pages < 10000; ++pages) {
      v1::ReadEventsRequest request;
      request.set_from_position(from);
      request.set_limit(limit);
      v1::ReadEventsResponse response;
      grpc::Status status =
          audit_->ReadEvents(CallAs(tenant).get(), request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      events.insert(events.end(), response.events().begin(),
                    response.events().end());
      EXPECT_GT(response.next_position(), from);
      from = response.next_position();
      if (from > response.last_position()) break;
    }
    return events;
  }

  // Every recipient of the sequence, through ListRecipients pages of 7.
  std::vector<v1::Recipient> List(const std::string& sequence_id) {
    std::vector<v1::Recipient> out;
    v1::ListRecipientsRequest request;
    request.set_sequence_id(sequence_id);
    request.set_page_size(7);
    while (true) {
      v1::ListRecipientsResponse response;
      grpc::Status status =
          recipients().ListRecipients(CallAs().get(), request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      out.insert(out.end(), response.recipients().begin(),
                 response.recipients().end());
      if (response.next_page_token().empty()) break;
      request.set_page_token(response.next_page_token());
    }
    return out;
  }

  v1::VerifyStoreResponse Verify() {
    v1::VerifyStoreResponse response;
    grpc::ClientContext context;
    grpc::Status status =
        admin_->VerifyStore(&context, v1::VerifyStoreRequest(), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  grpc::Status Backup(const std::string& directory,
                      v1::BackupResponse* out = nullptr) {
    v1::BackupRequest request;
    request.set_directory(directory);
    v1::BackupResponse ignored;
    grpc::ClientContext context;
    return admin_->Backup(&context, request, out != nullptr ? out : &ignored);
  }

 private:
  Daemon& daemon_;
  std::unique_ptr<v1::AuditService::Stub> audit_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  std::unique_ptr<v1::ClockService::Stub> clock_;
};

std::string Rfc3339(absl::Time time) {
  return absl::FormatTime(absl::RFC3339_full, time, absl::UTCTimeZone());
}

// Every file under `dir` with its size.
std::map<std::string, uintmax_t> Files(const std::string& dir) {
  std::map<std::string, uintmax_t> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    files[entry.path().string()] =
        entry.is_regular_file() ? entry.file_size() : 0;
  }
  return files;
}

// ---- As of ------------------------------------------------------------------

TEST(AuditTest, RecipientAsOfSeveralInstantsAndVersions) {
  TempDir dir;
  Daemon daemon(dir.Sub("data"));
  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  Client c(daemon);
  ASSERT_NO_FATAL_FAILURE(c.CreateSequence("s"));
  ASSERT_NO_FATAL_FAILURE(c.Enroll("s", {"r1"}));  // v1 at 09:00
  v1::Recipient enrolled;
  ASSERT_TRUE(c.Get("s", "r1", &enrolled).ok());

  ASSERT_NO_FATAL_FAILURE(c.Advance(absl::Minutes(10)));
  v1::ContentEdit edit;
  edit.set_details("Call {{first_name}} about the edit");
  v1::Recipient edited;
  ASSERT_TRUE(c.Edit("s", "r1", 1, edit, &edited).ok());

  ASSERT_NO_FATAL_FAILURE(c.Advance(absl::Minutes(20)));  // 09:30
  v1::Recipient paused;
  ASSERT_TRUE(
      c.Act(&v1::RecipientService::Stub::PauseRecipient, "s", "r1", &paused)
          .ok());
  v1::RecipientContent paused_content;
  {
    v1::GetRecipientRequest request;
    request.set_sequence_id("s");
    request.set_recipient_id("r1");
    ASSERT_TRUE(c.recipients()
                    .ViewContent(CallAs().get(), request, &paused_content)
                    .ok());
  }

  ASSERT_NO_FATAL_FAILURE(c.Advance(absl::Hours(1)));  // 10:30
  v1::Recipient resumed;
  ASSERT_TRUE(
      c.Act(&v1::RecipientService::Stub::ResumeRecipient, "s", "r1", &resumed)
          .ok());
  ASSERT_EQ(resumed.version(), 4u);
  EXPECT_EQ(app::FromProtoTime(resumed.next_due_at()), kStart + absl::Hours(2));
  ASSERT_NO_FATAL_FAILURE(c.Advance(absl::Hours(2)));  // the email is due
  v1::Recipient now;
  ASSERT_TRUE(c.Get("s", "r1", &now).ok());
  ASSERT_GT(now.version(), 4u);

  // Before enrollment: no state.
  v1::RecipientAsOf as_of;
  EXPECT_THAT(c.AsOfTime("s", "r1", kStart - absl::Seconds(1), &as_of),
              StatusIs(grpc::StatusCode::NOT_FOUND, HasSubstr("no event")));

  // Each instant shows exactly what GetRecipient answered then.
  struct Instant {
    absl::Time at;
    const v1::Recipient* expected;
  };
  for (const Instant& instant :
       {Instant{kStart, &enrolled},
        Instant{kStart + absl::Minutes(5), &enrolled},
        Instant{kStart + absl::Minutes(10), &edited},
        Instant{kStart + absl::Minutes(29), &edited},
        Instant{kStart + absl::Minutes(30), &paused},
        Instant{kStart + absl::Minutes(89), &paused},
        Instant{kStart + absl::Minutes(90), &resumed}}) {
    SCOPED_TRACE(Rfc3339(instant.at));
    ASSERT_TRUE(c.AsOfTime("s", "r1", instant.at, &as_of).ok());
    EXPECT_TRUE(ProtoEquals(as_of.recipient(), *instant.expected));
    EXPECT_EQ(as_of.version(), instant.expected->version());
    EXPECT_EQ(app::FromProtoTime(as_of.as_of()), instant.at);
    EXPECT_TRUE(
        ProtoEquals(as_of.last_event_at(), instant.expected->updated_at()));
  }

  // Content as of then: the edit shows from 09:10 on, not before.
  ASSERT_TRUE(c.AsOfTime("s", "r1", kStart + absl::Minutes(9), &as_of).ok());
  ASSERT_EQ(as_of.content().steps_size(), 2);
  EXPECT_EQ(as_of.content().steps(1).content().details(), "Call them");
  EXPECT_FALSE(as_of.content().steps(1).overridden());
  ASSERT_TRUE(c.AsOfTime("s", "r1", kStart + absl::Minutes(10), &as_of).ok());
  EXPECT_EQ(as_of.content().steps(1).content().details(),
            "Call Name-r1 about the edit");
  EXPECT_TRUE(as_of.content().steps(1).overridden());
  // While paused, as-of content is what ViewContent showed then.
  ASSERT_TRUE(c.AsOfTime("s", "r1", kStart + absl::Minutes(30), &as_of).ok());
  EXPECT_TRUE(ProtoEquals(as_of.content(), paused_content));
  EXPECT_EQ(as_of.recipient().status(), v1::RECIPIENT_STATUS_PAUSED);
  EXPECT_EQ(as_of.recipient().remaining_delay().seconds(), 30 * 60);

  // By version: the same states, described at their own time.
  ASSERT_TRUE(c.AsOfVersion("s", "r1", 3, &as_of).ok());
  EXPECT_TRUE(ProtoEquals(as_of.recipient(), paused));
  EXPECT_EQ(app::FromProtoTime(as_of.as_of()), kStart + absl::Minutes(30));
  ASSERT_TRUE(c.AsOfVersion("s", "r1", 1, &as_of).ok());
  EXPECT_TRUE(ProtoEquals(as_of.recipient(), enrolled));
  ASSERT_TRUE(c.AsOfVersion("s", "r1", now.version(), &as_of).ok());
  EXPECT_TRUE(ProtoEquals(as_of.recipient(), now));
  EXPECT_THAT(c.AsOfVersion("s", "r1", now.version() + 1, &as_of),
              StatusIs(grpc::StatusCode::NOT_FOUND, HasSubstr("no version")));
  EXPECT_THAT(c.AsOfVersion("s", "r1", 0, &as_of),
              StatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                       HasSubstr("version: must be at least 1")));
  // Neither: now.
  {
    v1::GetRecipientAsOfRequest request;
    request.set_sequence_id("s");
    request.set_recipient_id("r1");
    ASSERT_TRUE(
        c.audit().GetRecipientAsOf(CallAs().get(), request, &as_of).ok());
    EXPECT_TRUE(ProtoEquals(as_of.recipient(), now));
  }

  // Unknown, other tenant's, bad input.
  EXPECT_THAT(c.AsOfTime("s", "nobody", kStart + absl::Hours(5), &as_of),
              StatusIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_THAT(c.AsOfTime("other", "r1", kStart + absl::Hours(5), &as_of),
              StatusIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_THAT(
      c.AsOfTime("s", "r1", kStart + absl::Hours(5), &as_of, kOtherTenant),
      StatusIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_THAT(
      c.AsOfTime("s", "bad id!", kStart, &as_of),
      StatusIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("recipient_id")));
  {
    v1::GetRecipientAsOfRequest request;
    request.set_sequence_id("s");
    request.set_recipient_id("r1");
    request.mutable_as_of()->set_seconds(1767603600);
    request.mutable_as_of()->set_nanos(-1);
    EXPECT_THAT(c.audit().GetRecipientAsOf(CallAs().get(), request, &as_of),
                StatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                         HasSubstr("as_of: not a valid timestamp")));
  }

  // A deleted recipient's history is gone for audit too.
  v1::DeleteRecipientResponse deleted;
  ASSERT_TRUE(
      c.recipients()
          .DeleteRecipient(CallAs().get(), ActionRequest("s", "r1"), &deleted)
          .ok());
  EXPECT_THAT(c.AsOfTime("s", "r1", kStart + absl::Minutes(30), &as_of),
              StatusIs(grpc::StatusCode::NOT_FOUND));
}

TEST(AuditTest, SequencerctlAuditPrintsTheStateAsOfATimeOrVersion) {
  TempDir dir;
  Daemon daemon(dir.Sub("data"));
  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  Client c(daemon);
  ASSERT_NO_FATAL_FAILURE(c.CreateSequence("s"));
  ASSERT_NO_FATAL_FAILURE(c.Enroll("s", {"r1"}));
  ASSERT_NO_FATAL_FAILURE(c.Advance(absl::Minutes(30)));
  ASSERT_TRUE(
      c.Act(&v1::RecipientService::Stub::PauseRecipient, "s", "r1").ok());

  const std::vector<std::string> common = {"--server=" + daemon.address(),
                                           std::string("--tenant=") + kTenant};
  auto audit = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"audit", "s", "r1"});
    args.insert(args.end(), common.begin(), common.end());
    return Ctl(args, /*merge_stderr=*/true);
  };
  RunResult before = audit({"--as-of=" + Rfc3339(kStart + absl::Minutes(29))});
  EXPECT_EQ(before.ExitCode(), 0) << before.output;
  EXPECT_TRUE(absl::StrContains(before.output, "IN_PROGRESS\tstep 0/2\tv1"))
      << before.output;
  EXPECT_TRUE(absl::StrContains(before.output, "step 1\tTASK\tUPCOMING"))
      << before.output;

  RunResult after = audit({"--as_of=" + Rfc3339(kStart + absl::Minutes(30))});
  EXPECT_EQ(after.ExitCode(), 0) << after.output;
  EXPECT_TRUE(absl::StrContains(after.output, "PAUSED\tstep 0/2\tv2"))
      << after.output;

  RunResult by_version = audit({"--version=1", "--json"});
  EXPECT_EQ(by_version.ExitCode(), 0) << by_version.output;
  v1::RecipientAsOf parsed;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(by_version.output, &parsed)
          .ok())
      << by_version.output;
  EXPECT_EQ(parsed.recipient().status(), v1::RECIPIENT_STATUS_IN_PROGRESS);
  EXPECT_EQ(parsed.version(), 1u);

  RunResult too_early =
      audit({"--as-of=" + Rfc3339(kStart - absl::Minutes(1))});
  EXPECT_EQ(too_early.ExitCode(), 2);
  EXPECT_TRUE(absl::StrContains(too_early.output, "NOT_FOUND"))
      << too_early.output;
  RunResult not_a_time = audit({"--as-of=yesterday"});
  EXPECT_EQ(not_a_time.ExitCode(), 2);
  EXPECT_TRUE(absl::StrContains(not_a_time.output, "RFC 3339"))
      << not_a_time.output;
}

// ---- Events -----------------------------------------------------------------

TEST(AuditTest, ReadEventsPagesThroughTheTenantsEventsOnly) {
  TempDir dir;
  Daemon daemon(dir.Sub("data"));
  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  Client c(daemon);
  ASSERT_NO_FATAL_FAILURE(c.CreateSequence("s"));
  ASSERT_NO_FATAL_FAILURE(c.CreateSequence("s", kOtherTenant));
  ASSERT_NO_FATAL_FAILURE(c.Enroll("s", {"a1", "a2", "a3"}));
  ASSERT_NO_FATAL_FAILURE(c.Enroll("s", {"b1", "b2"}, kOtherTenant));
  ASSERT_NO_FATAL_FAILURE(c.Enroll("s", {"a4", "a5"}));
  ASSERT_TRUE(
      c.Act(&v1::RecipientService::Stub::PauseRecipient, "s", "a2").ok());

  const std::vector<v1::LoggedEvent> whole = c.AllEvents();
  ASSERT_EQ(whole.size(), 1u + 5u + 1u);
  for (int limit : {1, 2, 3, 1000}) {
    SCOPED_TRACE(limit);
    const std::vector<v1::LoggedEvent> paged = c.AllEvents(kTenant, limit);
    ASSERT_EQ(paged.size(), whole.size());
    for (size_t i = 0; i < paged.size(); ++i) {
      EXPECT_TRUE(ProtoEquals(paged[i], whole[i]));
    }
  }
  std::set<uint64_t> positions;
  uint64_t previous = 0;
  for (const v1::LoggedEvent& event : whole) {
    EXPECT_GT(event.position(), previous);
    previous = event.position();
    positions.insert(event.position());
    EXPECT_EQ(event.event().metadata().tenant_id(), kTenant);
    EXPECT_TRUE(absl::StrContains(event.stream(), kTenant)) << event.stream();
    EXPECT_EQ(event.sequence_id(), "s");
  }
  EXPECT_TRUE(whole[0].event().has_sequence_created());
  EXPECT_EQ(whole[0].recipient_id(), "");
  EXPECT_EQ(whole.back().recipient_id(), "a2");
  EXPECT_TRUE(whole.back().event().has_paused());
  EXPECT_EQ(whole.back().version(), 2u);
  EXPECT_EQ(whole.back().event().metadata().actor(), kActor);
  EXPECT_FALSE(whole.back().event().metadata().request_id().empty());

  // The other tenant's events are exactly the remaining positions.
  const std::vector<v1::LoggedEvent> other = c.AllEvents(kOtherTenant, 2);
  ASSERT_EQ(other.size(), 1u + 2u);
  for (const v1::LoggedEvent& event : other) {
    EXPECT_EQ(event.event().metadata().tenant_id(), kOtherTenant);
    EXPECT_TRUE(positions.insert(event.position()).second);
  }
  EXPECT_EQ(positions.size(), 10u);
  EXPECT_EQ(*positions.rbegin(), 10u);

  // From the middle, and past the end.
  v1::ReadEventsRequest request;
  request.set_from_position(whole[3].position());
  v1::ReadEventsResponse response;
  ASSERT_TRUE(c.audit().ReadEvents(CallAs().get(), request, &response).ok());
  ASSERT_EQ(response.events_size(), 4);
  EXPECT_TRUE(ProtoEquals(response.events(0), whole[3]));
  EXPECT_EQ(response.last_position(), 10u);
  EXPECT_EQ(response.next_position(), 11u);
  request.set_from_position(11);
  v1::ReadEventsResponse past;
  ASSERT_TRUE(c.audit().ReadEvents(CallAs().get(), request, &past).ok());
  EXPECT_EQ(past.events_size(), 0);
  EXPECT_EQ(past.next_position(), 11u);

  for (int bad : {-1, 1001}) {
    request.set_limit(bad);
    v1::ReadEventsResponse refused;
    EXPECT_THAT(c.audit().ReadEvents(CallAs().get(), request, &refused),
                StatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                         HasSubstr("limit: must be between 0 and 1000")));
  }
  {
    grpc::ClientContext anonymous;
    v1::ReadEventsResponse refused;
    EXPECT_THAT(
        c.audit().ReadEvents(&anonymous, v1::ReadEventsRequest(), &refused),
        StatusIs(grpc::StatusCode::UNAUTHENTICATED));
  }

  // sequencerctl events: one line per event, from a position.
  RunResult all = Ctl({"events", "--server=" + daemon.address(),
                       std::string("--tenant=") + kTenant},
                      /*merge_stderr=*/true);
  EXPECT_EQ(all.ExitCode(), 0) << all.output;
  std::vector<std::string> lines =
      absl::StrSplit(all.output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), whole.size()) << all.output;
  EXPECT_TRUE(absl::StartsWith(
      lines.back(), absl::StrCat(whole.back().position(), "\t",
                                 whole.back().stream(), "\tv2\tPaused\t")))
      << lines.back();
  RunResult json =
      Ctl({"events", "--from=" + absl::StrCat(whole[5].position()), "--json",
           "--server=" + daemon.address(), std::string("--tenant=") + kTenant},
          /*merge_stderr=*/true);
  EXPECT_EQ(json.ExitCode(), 0) << json.output;
  lines = absl::StrSplit(json.output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << json.output;
  v1::LoggedEvent parsed;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(lines[1], &parsed).ok())
      << lines[1];
  EXPECT_TRUE(ProtoEquals(parsed, whole.back()));
  RunResult limited =
      Ctl({"events", "--limit=2", "--server=" + daemon.address(),
           std::string("--tenant=") + kTenant},
          /*merge_stderr=*/true);
  EXPECT_EQ(limited.ExitCode(), 0) << limited.output;
  lines = absl::StrSplit(limited.output, '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), 2u) << limited.output;
}

// ---- Verify -----------------------------------------------------------------

TEST(AdminTest, OnlineVerifyIsCleanThenNamesWhatWasAlteredBehindItsBack) {
  TempDir dir;
  const std::string data_dir = dir.Sub("data");
  Daemon daemon(data_dir);
  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  {
    Client c(daemon);
    ASSERT_NO_FATAL_FAILURE(c.CreateSequence("s"));
    ASSERT_NO_FATAL_FAILURE(c.Enroll("s", {"r1", "r2", "r3"}));
    ASSERT_TRUE(
        c.Act(&v1::RecipientService::Stub::PauseRecipient, "s", "r2").ok());

    RunResult healthy =
        Ctl({"verify", "--server=" + daemon.address()}, /*merge_stderr=*/true);
    EXPECT_EQ(healthy.ExitCode(), 0) << healthy.output;
    EXPECT_TRUE(absl::StrContains(healthy.output, "recipients: 3 listed"))
        << healthy.output;
    EXPECT_TRUE(absl::StrContains(healthy.output, "OK")) << healthy.output;
    const v1::VerifyStoreResponse response = c.Verify();
    EXPECT_TRUE(response.ok());
    EXPECT_EQ(response.recipients(), 3u);
    EXPECT_EQ(response.events(), response.last_position());
    EXPECT_EQ(response.recipients_by_status().at("RECIPIENT_STATUS_PAUSED"),
              1u);
    // The temporary snapshot is gone.
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                            std::filesystem::directory_iterator()),
              1)
        << "only the data directory is left";
  }
  EXPECT_EQ(daemon.Stop(SIGTERM), 0);

  // Behind the service's back: r2's status entry removed, a ghost's added.
  {
    auto store = eventstore::RocksDbEventStore::Open(data_dir);
    ASSERT_TRUE(store.ok()) << store.status();
    eventstore::CommitBatch batch;
    batch.index_writes.push_back(
        {app::layout::StatusIndexKey(kTenant, "s", "PAUSED", "r2"),
         std::nullopt});
    batch.index_writes.push_back(
        {app::layout::StatusIndexKey(kTenant, "s", "IN_PROGRESS", "ghost"),
         std::string()});
    ASSERT_TRUE((*store)->Commit(batch).ok());
  }

  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  Client c(daemon);
  RunResult altered =
      Ctl({"verify", "--server=" + daemon.address()}, /*merge_stderr=*/true);
  EXPECT_EQ(altered.ExitCode(), 1) << altered.output;
  EXPECT_TRUE(absl::StrContains(
      altered.output,
      absl::StrCat("missing index entry \"",
                   app::layout::StatusIndexKey(kTenant, "s", "PAUSED", "r2"),
                   "\"")))
      << altered.output;
  EXPECT_TRUE(absl::StrContains(
      altered.output, absl::StrCat("unexpected index entry \"",
                                   app::layout::StatusIndexKey(
                                       kTenant, "s", "IN_PROGRESS", "ghost"),
                                   "\"")))
      << altered.output;
  const v1::VerifyStoreResponse response = c.Verify();
  EXPECT_FALSE(response.ok());
  EXPECT_EQ(response.discrepancy_count(), 2u);
  EXPECT_EQ(response.discrepancies_size(), 2);
  EXPECT_EQ(response.summary(), altered.output);
}

// ---- Backup -----------------------------------------------------------------

// Every answer a client can get about the tenant's sequence `s`, as text.
std::string EveryAnswer(Client& c) {
  std::string out;
  v1::GetSequenceRequest sequence_request;
  sequence_request.set_sequence_id("s");
  v1::Sequence sequence;
  grpc::Status status =
      c.sequences().GetSequence(CallAs().get(), sequence_request, &sequence);
  absl::StrAppend(&out, "sequence ", status.error_code(), " ",
                  sequence.ShortDebugString(), "\n");
  for (const v1::Recipient& listed : c.List("s")) {
    absl::StrAppend(&out, "listed ", listed.ShortDebugString(), "\n");
    v1::GetRecipientRequest request;
    request.set_sequence_id("s");
    request.set_recipient_id(listed.recipient_id());
    v1::Recipient got;
    status = c.recipients().GetRecipient(CallAs().get(), request, &got);
    absl::StrAppend(&out, "get ", status.error_code(), " ",
                    got.ShortDebugString(), "\n");
    v1::RecipientTimeline timeline;
    status =
        c.recipients().GetRecipientTimeline(CallAs().get(), request, &timeline);
    absl::StrAppend(&out, "timeline ", status.error_code(), " ",
                    timeline.ShortDebugString(), "\n");
    v1::RecipientContent content;
    status = c.recipients().ViewContent(CallAs().get(), request, &content);
    absl::StrAppend(&out, "content ", status.error_code(), " ",
                    status.error_message(), " ", content.ShortDebugString(),
                    "\n");
  }
  return out;
}

TEST(AdminTest, BackupUnderWritesRestoresToAServerThatAnswersTheSame) {
  TempDir dir;
  Daemon original(dir.Sub("data"));
  ASSERT_NO_FATAL_FAILURE(original.Start());
  Client a(original);
  ASSERT_NO_FATAL_FAILURE(a.CreateSequence("s"));
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(absl::StrCat("r", 100 + i));
  ASSERT_NO_FATAL_FAILURE(a.Enroll("s", ids));
  ASSERT_NO_FATAL_FAILURE(a.Advance(absl::Minutes(10)));

  // Writers: pause and resume recipients, and enroll new ones, until told.
  std::atomic<bool> stop{false};
  std::atomic<int> writes{0};
  std::thread pauser([&] {
    for (int round = 0; !stop; ++round) {
      for (const std::string& id : ids) {
        a.Act(round % 2 == 0 ? &v1::RecipientService::Stub::PauseRecipient
                             : &v1::RecipientService::Stub::ResumeRecipient,
              "s", id);
        ++writes;
        if (stop) break;
      }
    }
  });
  std::thread enroller([&] {
    for (int i = 0; !stop; ++i) {
      a.Enroll("s", {absl::StrCat("new", i)});
      ++writes;
    }
  });
  // Bounded waits for the writers' progress (they commit as fast as they
  // can; nothing waits for time).
  auto await_writes = [&](int count) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (writes < count && absl::Now() < deadline) {
      std::this_thread::yield();
    }
    EXPECT_GE(writes, count);
  };
  await_writes(30);
  v1::BackupResponse backup;
  const grpc::Status backed_up = a.Backup(dir.Sub("backup"), &backup);
  await_writes(writes + 30);
  stop = true;
  pauser.join();
  enroller.join();
  ASSERT_TRUE(backed_up.ok()) << backed_up.error_message();
  EXPECT_EQ(backup.directory(), dir.Sub("backup"));
  ASSERT_GT(backup.last_position(), 0u);

  // A second sequencerd starts from the copy.
  Daemon restored(dir.Sub("backup"));
  ASSERT_NO_FATAL_FAILURE(restored.Start());
  Client b(restored);
  RunResult verify =
      Ctl({"verify", "--server=" + restored.address()}, /*merge_stderr=*/true);
  EXPECT_EQ(verify.ExitCode(), 0) << verify.output;

  // It holds exactly the log up to the backup's position.
  const std::vector<v1::LoggedEvent> copied = b.AllEvents();
  const std::vector<v1::LoggedEvent> live = a.AllEvents();
  ASSERT_LT(copied.size(), live.size()) << "writes went on after the backup";
  ASSERT_FALSE(copied.empty());
  EXPECT_EQ(copied.back().position(), backup.last_position());
  for (size_t i = 0; i < copied.size(); ++i) {
    ASSERT_TRUE(ProtoEquals(copied[i], live[i])) << i;
  }
  // Every recipient answers as the original's did at that moment: its state
  // at the copied version, and only those enrolled by then are listed.
  std::set<std::string> enrolled_by_then;
  for (const v1::LoggedEvent& event : copied) {
    if (event.event().has_recipient_enrolled()) {
      enrolled_by_then.insert(event.recipient_id());
    }
  }
  std::set<std::string> listed;
  for (const v1::Recipient& recipient : b.List("s")) {
    SCOPED_TRACE(recipient.recipient_id());
    listed.insert(recipient.recipient_id());
    v1::Recipient got;
    ASSERT_TRUE(b.Get("s", recipient.recipient_id(), &got).ok());
    EXPECT_TRUE(ProtoEquals(got, recipient));
    v1::RecipientAsOf then;
    ASSERT_TRUE(
        a.AsOfVersion("s", recipient.recipient_id(), got.version(), &then)
            .ok());
    EXPECT_TRUE(ProtoEquals(got, then.recipient()));
  }
  EXPECT_EQ(listed, enrolled_by_then);

  // Quiescent: a backup answers every question exactly as the original.
  ASSERT_TRUE(a.Backup(dir.Sub("backup2")).ok());
  Daemon second(dir.Sub("backup2"));
  ASSERT_NO_FATAL_FAILURE(second.Start());
  Client c(second);
  // The copy's server starts at the manual clock's start; content views are
  // computed at the current time, so it is moved to the original's time.
  ASSERT_NO_FATAL_FAILURE(c.Advance(absl::Minutes(10)));
  const std::string expected = EveryAnswer(a);
  EXPECT_GT(std::count(expected.begin(), expected.end(), '\n'), 4 * 20);
  EXPECT_EQ(EveryAnswer(c), expected);
  EXPECT_EQ(c.AllEvents().size(), a.AllEvents().size());
}

TEST(AdminTest, BackupRefusesAnExistingOrBadDirectoryAndWritesNothing) {
  TempDir dir;
  Daemon daemon(dir.Sub("data"));
  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  Client c(daemon);
  ASSERT_NO_FATAL_FAILURE(c.CreateSequence("s"));

  RunResult made =
      Ctl({"backup", dir.Sub("copy"), "--server=" + daemon.address()},
          /*merge_stderr=*/true);
  EXPECT_EQ(made.ExitCode(), 0) << made.output;
  EXPECT_TRUE(absl::StrContains(made.output, "up to position 1"))
      << made.output;
  const auto before = Files(dir.Sub("copy"));
  ASSERT_FALSE(before.empty());

  ASSERT_NO_FATAL_FAILURE(c.Enroll("s", {"r1"}));
  RunResult again =
      Ctl({"backup", dir.Sub("copy"), "--server=" + daemon.address()},
          /*merge_stderr=*/true);
  EXPECT_EQ(again.ExitCode(), 2) << again.output;
  EXPECT_TRUE(absl::StrContains(again.output, "ALREADY_EXISTS"))
      << again.output;
  EXPECT_EQ(Files(dir.Sub("copy")), before) << "nothing written";

  EXPECT_THAT(c.Backup(""), StatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                                     HasSubstr("directory")));
  EXPECT_THAT(c.Backup("relative/copy"),
              StatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                       HasSubstr("directory: must be an absolute path")));
  EXPECT_THAT(c.Backup(dir.Sub("missing/copy")),
              StatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                       HasSubstr("is not a directory")));
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("missing")));
  std::vector<std::string> entries;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    entries.push_back(entry.path().filename().string());
  }
  std::sort(entries.begin(), entries.end());
  EXPECT_EQ(entries, (std::vector<std::string>{"copy", "data"}));
}

}  // namespace
}  // namespace sequencer::testing
