// sequencerctl: the operator's command-line tool. See kUsage for the commands.
//
// Offline commands open the data directory read-only (RocksDbEventStore's
// read_only: nothing in it is written, not even RocksDB's info log), except
// compact, and take RocksDB's LOCK, which refuses a directory that a running
// sequencerd holds: stop the server first. Online commands call a running
// server; `verify` without --data_dir and `backup` use
// sequencer.v1.AdminService, `audit` and `events` sequencer.v1.AuditService
// (proto/sequencer/v1/admin.proto).

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "app/storage/event_codec.h"
#include "app/storage/projection_verifier.h"
#include "eventstore/rocksdb_event_store.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "sequencer/v1/admin.grpc.pb.h"
#include "sequencer/v1/events.pb.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "sequencer/v1/subscriptions.grpc.pb.h"
#include "server/principals.h"
#include "server/status_conversion.h"

ABSL_FLAG(std::string, data_dir, "",
          "offline commands: the data directory of a stopped sequencerd "
          "(verify without it asks the running server at --server)");
ABSL_FLAG(int, threads, 2,
          "verify: threads that scan the log and compare the indexes (the "
          "findings do not depend on it)");
ABSL_FLAG(uint64_t, from, 1, "log, events: the first global position to print");
ABSL_FLAG(uint64_t, limit, 0,
          "log, events: print at most this many events (0: all)");
ABSL_FLAG(bool, json, false,
          "events: one sequencer.v1.LoggedEvent as JSON per line; audit: the "
          "whole sequencer.v1.RecipientAsOf as JSON");
ABSL_FLAG(std::string, as_of, "",
          "audit: the instant, RFC 3339 (e.g. 2026-01-05T10:00:00Z); also "
          "spelled --as-of");
ABSL_FLAG(uint64_t, version, 0,
          "audit: the recipient's version instead of a time (0: not used)");
ABSL_FLAG(std::string, format, "json",
          "log: the event as 'json' or 'text' (protobuf text format)");
ABSL_FLAG(std::string, server, "127.0.0.1:50051",
          "online commands: host:port of sequencerd");
ABSL_FLAG(std::string, tls_ca, "",
          "online commands: PEM CA that signed the server's certificate; "
          "connects over TLS");
ABSL_FLAG(std::string, tls_cert, "",
          "online commands: PEM client certificate (mTLS; with --tls_key)");
ABSL_FLAG(std::string, tls_key, "",
          "online commands: PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_server_name, "",
          "online commands: the name to check the server's certificate "
          "against, when not the host of --server");
ABSL_FLAG(std::string, token, "",
          "online commands: bearer token (sequencerd --auth=principals); the "
          "SEQUENCER_TOKEN environment variable is read when this is empty "
          "(and keeps the token out of the process list)");
ABSL_FLAG(std::string, tenant, "",
          "online commands: the tenant (x-tenant-id); required except for "
          "health");
ABSL_FLAG(std::string, actor, "sequencerctl",
          "online commands: the caller's identity (x-actor)");
ABSL_FLAG(std::string, status, "",
          "list: only these statuses, comma-separated (e.g. PAUSED,STOPPED)");
ABSL_FLAG(std::string, service, "", "health: the service name to check");
ABSL_FLAG(std::string, channel, "EMAIL",
          "deliver: EMAIL, SMS or SOCIAL_MESSAGE");
ABSL_FLAG(bool, once, false, "deliver: poll once, deliver, and exit");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10),
          "online commands: deadline of each call (follow: none)");
ABSL_FLAG(std::string, sequence, "", "follow: only this sequence's events");
ABSL_FLAG(std::string, recipient, "",
          "follow: only this recipient's events (needs --sequence)");
ABSL_FLAG(std::string, type, "",
          "follow: only these event types, comma-separated (e.g. "
          "Paused,ReplyReceived,Deleted)");
ABSL_FLAG(std::string, checkpoint, "",
          "follow: a file holding the last position processed: read at start "
          "(follow resumes after it) and rewritten (temporary file + rename) "
          "after each event printed and each heartbeat");
ABSL_FLAG(bool, from_start, false,
          "follow: without a saved position, start at the beginning of the "
          "log instead of now");

namespace {

using sequencer::v1::Event;

constexpr char kUsage[] =
    R"(sequencerctl COMMAND [ARGS] [FLAGS]: operate a sequencer service.

Offline, on the data directory of a STOPPED sequencerd (RocksDB's lock refuses
a directory a running server holds). They open it read-only and never write to
it (compact excepted); a damaged write-ahead log is reported (exit 2), not
repaired:
  verify --data_dir=DIR [--threads=N]
      Replay the whole log, rebuild every sequence and recipient, and compare
      the projection indexes (sq/, rl/, rs/, due/, ready/, rp/) with the
      stored ones (a directory last written by a sequencerd older than the
      sequence report lacks rp/ entries until the next start backfills them);
      also checks the log is contiguous and every event decodes. Prints a
      summary; exit 1 when anything differs. --threads (2) splits the work; 1
      runs it all on one core.
  compact --data_dir=DIR
      The one offline command that writes: flushes and compacts the whole
      store down to its last level, so that no file keeps anything deleted or
      erased (sequencerd purges what deletions erased by itself, soon after
      each delete and when it stops; this is for the cautious, and after
      deletions made before sequencerd erased them). Prints the size of the
      directory before and after.
  log --data_dir=DIR [--from=N] [--limit=N] [--format=json|text]
      Print events in log order, one per line:
      POSITION  STREAM  vVERSION  TYPE  EVENT

Online, against a running sequencerd (--server=HOST:PORT --tenant=T
[--actor=A] [--timeout=10s]; over TLS with --tls_ca=CA.pem [--tls_cert=C.pem
--tls_key=C.key] [--tls_server_name=NAME]; authenticated with --token=T or
SEQUENCER_TOKEN, or with the client certificate; --actor is only believed by a
server in development mode):
  timeline SEQUENCE RECIPIENT
      The recipient's history, one line per event:
      vVERSION  TIME  ACTOR  TYPE  REQUEST_ID  DETAILS(JSON)
  status SEQUENCE RECIPIENT
      GetRecipient, as JSON.
  list SEQUENCE [--status=PAUSED,STOPPED]
      Recipients of a sequence: RECIPIENT  STATUS  step I/N  vVERSION  NEXT_DUE
  report SEQUENCE
      GetSequenceReport: the recipients (deleted ones not counted), one line
      per status (zeros included), then one line per step and the signals
      before any send and the totals:
      STEP  CHANNEL  WAITING  DUE  SENT  SKIPPED  FAILED  BOUNCED  REPLIES
      MEETINGS
  audit SEQUENCE RECIPIENT [--as_of=TIME | --version=N] [--json]
      The recipient as it was at TIME (RFC 3339, e.g. 2026-01-05T10:00:00Z;
      --as-of works too) or at its version N, computed from the log: status,
      step, version, then each step's state and content as of then. Without
      either: now. --json prints the whole sequencer.v1.RecipientAsOf.
  events [--from=POSITION] [--limit=N] [--json]
      The tenant's events in log order from POSITION (positions may have
      holes), one per line: POSITION  STREAM  vVERSION  TYPE  EVENT(JSON);
      with --json, each line a sequencer.v1.LoggedEvent. Reads to the end of
      the log, or N events.
  hash-token
      Reads a bearer token from stdin and prints its SHA-256 (hex), the
      token_sha256 of a principal in sequencerd's --principals_file.
  health [--service=NAME]
      grpc.health.v1.Health/Check; prints the serving status.
  advance DURATION
      Manual clock only (sequencerd --clock=manual): move time forward (e.g.
      90m, 2h, 48h) and run the scheduler; prints the new time.
  follow [--sequence=S [--recipient=R]] [--type=T1,T2] [--checkpoint=FILE]
         [--from_start]
      A checkpointed consumer of SubscribeEventBatches (SubscribeEvents,
      many events per message): prints one line per event as it commits
      (after catching up from the log):
      POSITION  STREAM  vVERSION  TYPE  TIME  ACTOR  REQUEST_ID  EVENT(JSON)
      With --checkpoint, starts after the position saved in FILE (else now,
      or the start with --from_start) and saves the position after each
      event printed (at-least-once: an event printed just before a crash may
      be printed again). Reconnects after the server went away (UNAVAILABLE);
      stops on SIGINT/SIGTERM after saving.
  deliver --channel=EMAIL|SMS|SOCIAL_MESSAGE [--once]
      A demonstration delivery worker: leases due steps of the channel,
      begins each send, prints it, and reports it SENT. Long-polls until
      interrupted, or stops after one poll with --once.

Operator calls on a running sequencerd (--server=HOST:PORT; no --tenant;
not authenticated yet, see admin.proto):
  verify --server=HOST:PORT
      Without --data_dir: the same check as offline verify, on a consistent
      snapshot of the running store (a temporary checkpoint the server makes
      next to its data directory and removes). Same output and exit status.
  backup DIR
      A consistent copy of the running store (a RocksDB checkpoint) into DIR,
      an absolute path on the server's machine that must not exist yet. Start
      a server from it with sequencerd --data_dir=DIR. Prints the last log
      position the copy holds.

Exit status: 0 success; 1 verify found discrepancies or health is not
SERVING; 2 bad usage, an unreadable data directory, or a failed call (the gRPC
code and message are printed).)";

int UsageError(const std::string& message) {
  std::cerr << "sequencerctl: " << message
            << "\nRun 'sequencerctl --help' for the commands." << std::endl;
  return 2;
}

int Fail(const absl::Status& status) {
  std::cerr << "sequencerctl: " << status << std::endl;
  return 2;
}

int Fail(const grpc::Status& status) {
  std::cerr << "sequencerctl: "
            << absl::StatusCodeToString(
                   static_cast<absl::StatusCode>(status.error_code()))
            << ": " << status.error_message();
  if (auto info = sequencer::server::ErrorInfoFromGrpcStatus(status)) {
    std::cerr << " (reason " << info->reason() << ")";
  }
  std::cerr << std::endl;
  return 2;
}

std::string ToJson(const google::protobuf::Message& message,
                   bool pretty = false) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = pretty;
  std::string json;
  auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) return absl::StrCat("<", status.ToString(), ">");
  if (!json.empty() && json.back() == '\n') json.pop_back();
  return json;
}

std::string ToText(const google::protobuf::Message& message) {
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  std::string text;
  printer.PrintToString(message, &text);
  absl::StripTrailingAsciiWhitespace(&text);
  return text;
}

// The payload of an event (the oneof's message), or the event itself.
const google::protobuf::Message& Payload(const Event& event) {
  const auto* oneof = Event::descriptor()->FindOneofByName("payload");
  const auto* field =
      event.GetReflection()->GetOneofFieldDescriptor(event, oneof);
  if (field == nullptr) return event;
  return event.GetReflection()->GetMessage(event, field);
}

std::string Time(const google::protobuf::Timestamp& time) {
  return google::protobuf::util::TimeUtil::ToString(time);
}

std::string ShortStatus(sequencer::v1::RecipientStatus status) {
  return std::string(absl::StripPrefix(
      sequencer::v1::RecipientStatus_Name(status), "RECIPIENT_STATUS_"));
}

// ---- offline
// ------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<sequencer::eventstore::RocksDbEventStore>>
OpenStore() {
  const std::string dir = absl::GetFlag(FLAGS_data_dir);
  if (dir.empty()) return absl::InvalidArgumentError("--data_dir is required");
  sequencer::eventstore::RocksDbEventStore::Options options;
  options.create_if_missing = false;
  options.read_only = true;
  auto store = sequencer::eventstore::RocksDbEventStore::Open(dir, options);
  if (store.ok() && !(*store)->RecoveryNote().empty()) {
    std::cerr << "sequencerctl: note: " << (*store)->RecoveryNote()
              << std::endl;
  }
  return store;
}

int Verify() {
  auto store = OpenStore();
  if (!store.ok()) return Fail(store.status());
  sequencer::app::ProjectionVerifier::Options options;
  options.threads = absl::GetFlag(FLAGS_threads);
  sequencer::app::ProjectionVerifier verifier(store->get(), options);
  auto result = verifier.Verify();
  if (!result.ok()) return Fail(result.status());
  std::cout << result->Summary() << std::flush;
  return result->ok() ? 0 : 1;
}

uint64_t DirectoryBytes(const std::string& dir) {
  uint64_t bytes = 0;
  std::error_code error;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(dir, error)) {
    if (entry.is_regular_file(error)) bytes += entry.file_size(error);
  }
  return bytes;
}

int Compact() {
  const std::string dir = absl::GetFlag(FLAGS_data_dir);
  if (dir.empty()) return UsageError("compact needs --data_dir");
  if (!std::filesystem::exists(std::filesystem::path(dir) / "CURRENT")) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat(dir, " holds no sequencerd data directory")));
  }
  const uint64_t before = DirectoryBytes(dir);
  sequencer::eventstore::RocksDbEventStore::Options options;
  options.create_if_missing = false;
  auto store = sequencer::eventstore::RocksDbEventStore::Open(dir, options);
  if (!store.ok()) return Fail(store.status());
  if (absl::Status compacted = (*store)->CompactAll(); !compacted.ok()) {
    return Fail(compacted);
  }
  store->reset();
  std::cout << "compacted " << dir << ": " << before << " bytes before, "
            << DirectoryBytes(dir) << " after" << std::endl;
  return 0;
}

int Log() {
  const std::string format = absl::GetFlag(FLAGS_format);
  if (format != "json" && format != "text") {
    return UsageError("--format must be 'json' or 'text'");
  }
  auto store = OpenStore();
  if (!store.ok()) return Fail(store.status());
  const uint64_t limit = absl::GetFlag(FLAGS_limit);
  uint64_t position = std::max<uint64_t>(1, absl::GetFlag(FLAGS_from));
  uint64_t printed = 0;
  while (limit == 0 || printed < limit) {
    size_t chunk = 1000;
    if (limit != 0) chunk = std::min<uint64_t>(chunk, limit - printed);
    auto events = (*store)->ReadAll(position, chunk);
    if (!events.ok()) return Fail(events.status());
    if (events->empty()) break;
    for (const auto& stored : *events) {
      Event event;
      std::string body;
      if (!event.ParseFromString(stored.data)) {
        body = absl::StrCat("<undecodable: ", stored.data.size(), " bytes>");
      } else {
        body = format == "json" ? ToJson(event) : ToText(event);
      }
      std::cout << stored.position << "\t" << stored.stream << "\tv"
                << stored.version << "\t" << stored.type << "\t" << body
                << "\n";
      ++printed;
      position = stored.position + 1;
    }
  }
  std::cout << std::flush;
  return 0;
}

// ---- online
// -------------------------------------------------------------------------------

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "sequencerctl: cannot read " << path << std::endl;
    std::exit(2);
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::shared_ptr<grpc::Channel> Channel() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  const std::string ca = absl::GetFlag(FLAGS_tls_ca);
  const std::string cert = absl::GetFlag(FLAGS_tls_cert);
  const std::string key = absl::GetFlag(FLAGS_tls_key);
  if (cert.empty() != key.empty()) {
    std::cerr << "sequencerctl: --tls_cert and --tls_key go together"
              << std::endl;
    std::exit(2);
  }
  if (!ca.empty() || !cert.empty()) {
    grpc::SslCredentialsOptions ssl;
    if (!ca.empty()) ssl.pem_root_certs = ReadWholeFile(ca);
    if (!cert.empty()) {
      ssl.pem_cert_chain = ReadWholeFile(cert);
      ssl.pem_private_key = ReadWholeFile(key);
    }
    credentials = grpc::SslCredentials(ssl);
    if (!absl::GetFlag(FLAGS_tls_server_name).empty()) {
      args.SetSslTargetNameOverride(absl::GetFlag(FLAGS_tls_server_name));
    }
  }
  return grpc::CreateCustomChannel(absl::GetFlag(FLAGS_server), credentials,
                                   args);
}

std::string Token() {
  std::string token = absl::GetFlag(FLAGS_token);
  if (token.empty()) {
    if (const char* env = std::getenv("SEQUENCER_TOKEN"); env != nullptr) {
      token = env;
    }
  }
  return token;
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(
      absl::ToChronoTime(absl::Now() + absl::GetFlag(FLAGS_timeout)));
  const std::string tenant = absl::GetFlag(FLAGS_tenant);
  if (!tenant.empty()) context->AddMetadata("x-tenant-id", tenant);
  context->AddMetadata("x-actor", absl::GetFlag(FLAGS_actor));
  if (const std::string token = Token(); !token.empty()) {
    context->AddMetadata("authorization", "Bearer " + token);
  }
  return context;
}

int Timeline(const std::string& sequence_id, const std::string& recipient_id) {
  auto stub = sequencer::v1::RecipientService::NewStub(Channel());
  sequencer::v1::GetRecipientRequest request;
  request.set_sequence_id(sequence_id);
  request.set_recipient_id(recipient_id);
  sequencer::v1::RecipientTimeline timeline;
  grpc::Status status =
      stub->GetRecipientTimeline(Context().get(), request, &timeline);
  if (!status.ok()) return Fail(status);
  for (const auto& entry : timeline.entries()) {
    const Event& event = entry.event();
    std::cout << "v" << entry.version() << "\t"
              << Time(event.metadata().occurred_at()) << "\t"
              << event.metadata().actor() << "\t"
              << sequencer::app::EventTypeName(event) << "\t"
              << event.metadata().request_id() << "\t" << ToJson(Payload(event))
              << "\n";
  }
  std::cout << std::flush;
  return 0;
}

int Status(const std::string& sequence_id, const std::string& recipient_id) {
  auto stub = sequencer::v1::RecipientService::NewStub(Channel());
  sequencer::v1::GetRecipientRequest request;
  request.set_sequence_id(sequence_id);
  request.set_recipient_id(recipient_id);
  sequencer::v1::Recipient recipient;
  grpc::Status status =
      stub->GetRecipient(Context().get(), request, &recipient);
  if (!status.ok()) return Fail(status);
  std::cout << ToJson(recipient, /*pretty=*/true) << std::endl;
  return 0;
}

int List(const std::string& sequence_id) {
  sequencer::v1::ListRecipientsRequest request;
  request.set_sequence_id(sequence_id);
  request.set_page_size(1000);
  for (absl::string_view name :
       absl::StrSplit(absl::GetFlag(FLAGS_status), ',', absl::SkipEmpty())) {
    std::string full = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(name));
    if (!absl::StartsWith(full, "RECIPIENT_STATUS_")) {
      full = absl::StrCat("RECIPIENT_STATUS_", full);
    }
    sequencer::v1::RecipientStatus status;
    if (!sequencer::v1::RecipientStatus_Parse(full, &status)) {
      return UsageError(absl::StrCat("unknown status '", name, "'"));
    }
    request.add_statuses(status);
  }
  auto stub = sequencer::v1::RecipientService::NewStub(Channel());
  while (true) {
    sequencer::v1::ListRecipientsResponse response;
    grpc::Status status =
        stub->ListRecipients(Context().get(), request, &response);
    if (!status.ok()) return Fail(status);
    for (const auto& r : response.recipients()) {
      std::cout << r.recipient_id() << "\t" << ShortStatus(r.status())
                << "\tstep " << r.current_step() << "/" << r.step_count()
                << "\tv" << r.version() << "\t"
                << (r.has_next_due_at() ? Time(r.next_due_at()) : "-") << "\n";
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  std::cout << std::flush;
  return 0;
}

std::string Counters(const sequencer::v1::StepCounters& c) {
  return absl::StrCat(c.waiting(), "\t", c.due(), "\t", c.sent(), "\t",
                      c.skipped(), "\t", c.failed(), "\t", c.bounced(), "\t",
                      c.replies(), "\t", c.meetings());
}

int Report(const std::string& sequence_id) {
  auto stub = sequencer::v1::SequenceService::NewStub(Channel());
  sequencer::v1::GetSequenceReportRequest request;
  request.set_sequence_id(sequence_id);
  sequencer::v1::SequenceReport report;
  grpc::Status status =
      stub->GetSequenceReport(Context().get(), request, &report);
  if (!status.ok()) return Fail(status);
  std::cout << "sequence\t" << report.sequence_id() << "\nrecipients\t"
            << report.recipients() << "\n";
  for (const auto& count : report.by_status()) {
    std::cout << ShortStatus(count.status()) << "\t" << count.count() << "\n";
  }
  std::cout << "STEP\tCHANNEL\tWAITING\tDUE\tSENT\tSKIPPED\tFAILED\tBOUNCED\t"
               "REPLIES\tMEETINGS\n";
  for (const auto& step : report.steps()) {
    std::cout << step.index() << "\t"
              << absl::StripPrefix(sequencer::v1::StepType_Name(step.channel()),
                                   "STEP_TYPE_")
              << "\t" << Counters(step.counters()) << "\n";
  }
  std::cout << "-\tBEFORE_FIRST_SEND\t" << Counters(report.before_first_send())
            << "\n";
  std::cout << "-\tTOTAL\t" << Counters(report.totals()) << std::endl;
  return 0;
}

int Health() {
  auto stub = grpc::health::v1::Health::NewStub(Channel());
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(absl::GetFlag(FLAGS_service));
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(Context().get(), request, &response);
  if (!status.ok()) return Fail(status);
  std::cout << grpc::health::v1::HealthCheckResponse_ServingStatus_Name(
                   response.status())
            << std::endl;
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING
             ? 0
             : 1;
}

int Advance(const std::string& duration) {
  absl::Duration by;
  if (!absl::ParseDuration(duration, &by)) {
    return UsageError(absl::StrCat("not a duration: '", duration, "'"));
  }
  auto stub = sequencer::v1::ClockService::NewStub(Channel());
  sequencer::v1::AdvanceTimeRequest request;
  *request.mutable_by() = sequencer::app::ToProtoDuration(by);
  sequencer::v1::TimeResponse response;
  grpc::Status status = stub->AdvanceTime(Context().get(), request, &response);
  if (!status.ok()) return Fail(status);
  std::cout << Time(response.now()) << std::endl;
  return 0;
}

int Deliver() {
  sequencer::v1::StepType channel;
  if (!sequencer::v1::StepType_Parse(
          absl::StrCat("STEP_TYPE_", absl::GetFlag(FLAGS_channel)), &channel)) {
    return UsageError(
        absl::StrCat("unknown --channel ", absl::GetFlag(FLAGS_channel)));
  }
  auto stub = sequencer::v1::DeliveryService::NewStub(Channel());
  const bool once = absl::GetFlag(FLAGS_once);
  do {
    sequencer::v1::LeaseStepsRequest lease_request;
    lease_request.set_channel(channel);
    lease_request.set_max_steps(10);
    if (!once) lease_request.mutable_wait()->set_seconds(10);
    sequencer::v1::LeaseStepsResponse leases;
    auto context = Context();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(40));
    grpc::Status status =
        stub->LeaseSteps(context.get(), lease_request, &leases);
    if (!status.ok()) return Fail(status);
    for (const auto& lease : leases.leases()) {
      sequencer::v1::BeginSendRequest begin;
      begin.set_lease_token(lease.lease_token());
      begin.set_sequence_id(lease.sequence_id());
      begin.set_recipient_id(lease.recipient_id());
      sequencer::v1::BeginSendResponse begun;
      status = stub->BeginSend(Context().get(), begin, &begun);
      if (!status.ok()) {
        std::cout << "skip " << lease.sequence_id() << "/"
                  << lease.recipient_id() << ": " << status.error_message()
                  << std::endl;
        continue;
      }
      std::cout << "send " << absl::GetFlag(FLAGS_channel) << " to "
                << lease.sequence_id() << "/" << lease.recipient_id()
                << " step " << lease.step_index() << ": "
                << ToJson(begun.content()) << std::endl;
      sequencer::v1::ReportDeliveryRequest report;
      report.set_lease_token(lease.lease_token());
      report.set_sequence_id(lease.sequence_id());
      report.set_recipient_id(lease.recipient_id());
      report.set_outcome(sequencer::v1::DELIVERY_OUTCOME_SENT);
      report.set_provider_message_id(
          absl::StrCat("demo-", lease.lease_token().substr(0, 8)));
      sequencer::v1::Recipient after;
      status = stub->ReportDelivery(Context().get(), report, &after);
      if (!status.ok()) return Fail(status);
    }
  } while (!once);
  return 0;
}

// A context for the operator calls, which may run long (verify replays the
// whole log): --timeout, but at least 30 minutes.
std::unique_ptr<grpc::ClientContext> AdminContext() {
  auto context = Context();
  context->set_deadline(absl::ToChronoTime(
      absl::Now() + std::max(absl::GetFlag(FLAGS_timeout), absl::Minutes(30))));
  return context;
}

int VerifyOnline() {
  auto stub = sequencer::v1::AdminService::NewStub(Channel());
  sequencer::v1::VerifyStoreRequest request;
  sequencer::v1::VerifyStoreResponse response;
  grpc::Status status =
      stub->VerifyStore(AdminContext().get(), request, &response);
  if (!status.ok()) return Fail(status);
  std::cout << response.summary() << std::flush;
  return response.ok() ? 0 : 1;
}

int Backup(const std::string& directory) {
  auto stub = sequencer::v1::AdminService::NewStub(Channel());
  sequencer::v1::BackupRequest request;
  request.set_directory(directory);
  sequencer::v1::BackupResponse response;
  grpc::Status status = stub->Backup(AdminContext().get(), request, &response);
  if (!status.ok()) return Fail(status);
  std::cout << "backup in " << response.directory() << " holds the log up to "
            << "position " << response.last_position() << std::endl;
  return 0;
}

std::string StepLine(const sequencer::v1::StepView& step) {
  std::string line = absl::StrCat(
      "step ", step.step_index(), "\t",
      absl::StripPrefix(sequencer::v1::StepType_Name(step.type()),
                        "STEP_TYPE_"),
      "\t",
      absl::StripPrefix(sequencer::v1::StepState_Name(step.state()),
                        "STEP_STATE_"));
  if (step.has_completed_at()) {
    absl::StrAppend(&line, "\tdone ", Time(step.completed_at()));
  } else if (step.has_due_at()) {
    absl::StrAppend(&line, "\tdue ", Time(step.due_at()));
  } else {
    absl::StrAppend(&line, "\t-");
  }
  absl::StrAppend(&line, "\t", ToJson(step.content()));
  if (step.overridden()) absl::StrAppend(&line, "\t(edited)");
  return line;
}

int Audit(const std::string& sequence_id, const std::string& recipient_id) {
  sequencer::v1::GetRecipientAsOfRequest request;
  request.set_sequence_id(sequence_id);
  request.set_recipient_id(recipient_id);
  const std::string as_of = absl::GetFlag(FLAGS_as_of);
  const uint64_t version = absl::GetFlag(FLAGS_version);
  if (!as_of.empty() && version != 0) {
    return UsageError("give --as_of or --version, not both");
  }
  if (!as_of.empty()) {
    absl::Time time;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, as_of, &time, &error)) {
      return UsageError(absl::StrCat("--as_of: not an RFC 3339 time: '", as_of,
                                     "' (", error, ")"));
    }
    *request.mutable_as_of() = sequencer::app::ToProtoTime(time);
  } else if (version != 0) {
    request.set_version(version);
  }
  auto stub = sequencer::v1::AuditService::NewStub(Channel());
  sequencer::v1::RecipientAsOf response;
  grpc::Status status =
      stub->GetRecipientAsOf(Context().get(), request, &response);
  if (!status.ok()) return Fail(status);
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << ToJson(response, /*pretty=*/true) << std::endl;
    return 0;
  }
  const sequencer::v1::Recipient& r = response.recipient();
  std::cout << "as of " << Time(response.as_of()) << ": version "
            << response.version() << ", last event at "
            << Time(response.last_event_at()) << "\n"
            << ShortStatus(r.status()) << "\tstep " << r.current_step() << "/"
            << r.step_count() << "\tv" << r.version() << "\t"
            << (r.has_next_due_at() ? Time(r.next_due_at()) : "-") << "\n";
  for (const auto& step : response.content().steps()) {
    std::cout << StepLine(step) << "\n";
  }
  std::cout << std::flush;
  return 0;
}

int Events() {
  auto stub = sequencer::v1::AuditService::NewStub(Channel());
  const bool json = absl::GetFlag(FLAGS_json);
  const uint64_t limit = absl::GetFlag(FLAGS_limit);
  uint64_t position = std::max<uint64_t>(1, absl::GetFlag(FLAGS_from));
  uint64_t printed = 0;
  while (limit == 0 || printed < limit) {
    sequencer::v1::ReadEventsRequest request;
    request.set_from_position(position);
    request.set_limit(static_cast<int>(
        limit == 0 ? 1000 : std::min<uint64_t>(1000, limit - printed)));
    sequencer::v1::ReadEventsResponse response;
    grpc::Status status = stub->ReadEvents(Context().get(), request, &response);
    if (!status.ok()) return Fail(status);
    for (const auto& logged : response.events()) {
      if (json) {
        std::cout << ToJson(logged) << "\n";
      } else {
        std::cout << logged.position() << "\t" << logged.stream() << "\tv"
                  << logged.version() << "\t"
                  << sequencer::app::EventTypeName(logged.event()) << "\t"
                  << ToJson(logged.event()) << "\n";
      }
      ++printed;
    }
    if (response.next_position() <= position) break;  // no progress
    position = response.next_position();
    if (position > response.last_position()) break;  // caught up
  }
  std::cout << std::flush;
  return 0;
}

// The position saved in `path`; nullopt when the file does not exist.
absl::StatusOr<std::optional<uint64_t>> ReadCheckpoint(
    const std::string& path) {
  std::ifstream in(path);
  if (!in.is_open()) {
    if (!std::filesystem::exists(path)) return std::optional<uint64_t>();
    return absl::NotFoundError(absl::StrCat("cannot read ", path));
  }
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  uint64_t position = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &position)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " holds no position: '", text, "'"));
  }
  return std::optional<uint64_t>(position);
}

// Writes `position` to `path` atomically: a reader (or a crash) sees the old
// position or the new one, never a torn file.
absl::Status WriteCheckpoint(const std::string& path, uint64_t position) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << position << "\n";
    out.flush();
    if (!out)
      return absl::InternalError(absl::StrCat("cannot write ", temporary));
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot rename ", temporary, ": ", error.message()));
  }
  return absl::OkStatus();
}

int Follow() {
  const std::string checkpoint = absl::GetFlag(FLAGS_checkpoint);
  std::optional<uint64_t> position;
  if (!checkpoint.empty()) {
    absl::StatusOr<std::optional<uint64_t>> saved = ReadCheckpoint(checkpoint);
    if (!saved.ok()) return Fail(saved.status());
    position = *saved;
  }
  sequencer::v1::SubscribeEventsRequest base;
  base.set_sequence_id(absl::GetFlag(FLAGS_sequence));
  base.set_recipient_id(absl::GetFlag(FLAGS_recipient));
  for (absl::string_view type :
       absl::StrSplit(absl::GetFlag(FLAGS_type), ',', absl::SkipEmpty())) {
    base.add_event_types(std::string(absl::StripAsciiWhitespace(type)));
  }

  // SIGINT/SIGTERM cancel the call under way; the loop below finishes the
  // event in hand (printed and saved) and stops. Blocked before gRPC starts
  // its threads, so that only the waiter below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  absl::Mutex mu;
  bool stopping = false;
  grpc::ClientContext* current = nullptr;
  absl::Notification stopped;
  std::thread([&] {
    int received = 0;
    sigwait(&stop_signals, &received);
    absl::MutexLock lock(&mu);
    stopping = true;
    if (current != nullptr) current->TryCancel();
    stopped.Notify();
  }).detach();

  auto stub = sequencer::v1::SubscriptionService::NewStub(Channel());
  while (true) {
    sequencer::v1::SubscribeEventsRequest request = base;
    if (position.has_value()) {
      request.set_after_position(*position);
    } else if (absl::GetFlag(FLAGS_from_start)) {
      request.set_from_start(true);
    } else {
      request.set_from_now(true);
    }
    auto context = Context();
    context->set_deadline(std::chrono::system_clock::time_point::max());
    {
      absl::MutexLock lock(&mu);
      if (stopping) return 0;
      current = context.get();
    }
    // The batched form: one message per batch of events.
    auto reader = stub->SubscribeEventBatches(context.get(), request);
    sequencer::v1::SubscribedEventBatch batch;
    while (reader->Read(&batch)) {
      for (const sequencer::v1::SubscribedEvent& message : batch.events()) {
        if (message.has_fell_behind()) {
          std::cerr << "fell behind after position " << message.position()
                    << " (the log is at "
                    << message.fell_behind().last_position()
                    << "): reading from the log" << std::endl;
        } else if (!message.has_caught_up()) {
          const Event& event = message.event();
          std::cout << message.position() << "\t" << message.stream() << "\tv"
                    << message.version() << "\t" << message.type() << "\t"
                    << Time(event.metadata().occurred_at()) << "\t"
                    << event.metadata().actor() << "\t"
                    << event.metadata().request_id() << "\t"
                    << ToJson(Payload(event)) << std::endl;
        }
        position = message.position();
        if (!checkpoint.empty()) {
          if (absl::Status saved = WriteCheckpoint(checkpoint, *position);
              !saved.ok()) {
            return Fail(saved);
          }
        }
      }
    }
    grpc::Status status = reader->Finish();
    {
      absl::MutexLock lock(&mu);
      current = nullptr;
      if (stopping) return 0;
    }
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE) {
      return Fail(status);
    }
    std::cerr << "sequencerctl: " << status.error_message() << "; reconnecting"
              << std::endl;
    if (stopped.WaitForNotificationWithTimeout(absl::Seconds(1))) return 0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view path) {
    return absl::EndsWith(path, "tools/sequencerctl.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  // The issue spells it --as-of; absl flags use underscores.
  std::vector<std::string> spelled(argv, argv + argc);
  std::vector<char*> arguments;
  for (std::string& argument : spelled) {
    if (absl::StartsWith(argument, "--as-of")) argument[4] = '_';
    arguments.push_back(argument.data());
  }
  std::vector<char*> positional = absl::ParseCommandLine(
      static_cast<int>(arguments.size()), arguments.data());

  std::vector<std::string> args(positional.begin() + 1, positional.end());
  if (args.empty()) return UsageError("no command given");
  const std::string command = args[0];
  auto expect_args = [&](size_t count, const char* form) -> bool {
    if (args.size() == count + 1) return true;
    UsageError(absl::StrCat("usage: sequencerctl ", form));
    return false;
  };
  auto need_tenant = [&]() -> bool {
    if (!absl::GetFlag(FLAGS_tenant).empty()) return true;
    UsageError(absl::StrCat(command, " needs --tenant"));
    return false;
  };

  if (command == "help") {
    std::cout << kUsage << std::endl;
    return 0;
  }
  if (command == "hash-token") {
    if (!expect_args(0, "hash-token < TOKEN")) return 2;
    std::string token;
    std::getline(std::cin, token);
    token = std::string(absl::StripAsciiWhitespace(token));
    if (token.empty()) return UsageError("hash-token: no token on stdin");
    std::cout << sequencer::server::HexOf(sequencer::server::Sha256Of(token))
              << std::endl;
    return 0;
  }
  if (command == "verify") {
    if (!expect_args(0, "verify --data_dir=DIR | --server=HOST:PORT")) return 2;
    return absl::GetFlag(FLAGS_data_dir).empty() ? VerifyOnline() : Verify();
  }
  if (command == "backup") {
    return expect_args(1, "backup DIR") ? Backup(args[1]) : 2;
  }
  if (command == "audit") {
    if (!expect_args(2, "audit SEQUENCE RECIPIENT [--as_of=TIME]") ||
        !need_tenant()) {
      return 2;
    }
    return Audit(args[1], args[2]);
  }
  if (command == "events") {
    if (!expect_args(0, "events [--from=POSITION] [--limit=N] [--json]") ||
        !need_tenant()) {
      return 2;
    }
    return Events();
  }
  if (command == "compact") {
    return expect_args(0, "compact --data_dir=DIR") ? Compact() : 2;
  }
  if (command == "log") {
    return expect_args(0, "log --data_dir=DIR [--from=N] [--limit=N]") ? Log()
                                                                       : 2;
  }
  if (command == "timeline") {
    if (!expect_args(2, "timeline SEQUENCE RECIPIENT") || !need_tenant()) {
      return 2;
    }
    return Timeline(args[1], args[2]);
  }
  if (command == "status") {
    if (!expect_args(2, "status SEQUENCE RECIPIENT") || !need_tenant()) {
      return 2;
    }
    return Status(args[1], args[2]);
  }
  if (command == "list") {
    if (!expect_args(1, "list SEQUENCE [--status=S1,S2]") || !need_tenant()) {
      return 2;
    }
    return List(args[1]);
  }
  if (command == "report") {
    if (!expect_args(1, "report SEQUENCE") || !need_tenant()) return 2;
    return Report(args[1]);
  }
  if (command == "advance") {
    if (!expect_args(1, "advance DURATION") || !need_tenant()) return 2;
    return Advance(args[1]);
  }
  if (command == "deliver") {
    if (!expect_args(0, "deliver --channel=EMAIL [--once]") || !need_tenant()) {
      return 2;
    }
    return Deliver();
  }
  if (command == "follow") {
    if (!expect_args(0,
                     "follow [--sequence=S] [--type=T,..] [--checkpoint=F]") ||
        !need_tenant()) {
      return 2;
    }
    return Follow();
  }
  if (command == "health") {
    return expect_args(0, "health [--service=NAME]") ? Health() : 2;
  }
  return UsageError(absl::StrCat("unknown command '", command, "'"));
}
