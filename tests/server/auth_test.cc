// Authentication, roles, tenants and rate limits (issue 13), through the real
// sequencerd: --auth=principals with bearer tokens, --auth=dev, the
// principals file and its reload on SIGHUP. TLS and mTLS: tls_test.cc.

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/text_format.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "sequencer/v1/admin.grpc.pb.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "sequencer/v1/subscriptions.grpc.pb.h"
#include "server/access_control.h"
#include "server/principals.h"
#include "server/status_conversion.h"
#include "tests/util/api_helpers.h"
#include "tests/util/daemon.h"
#include "tests/util/temp_dir.h"

namespace sequencer::testing {
namespace {

using google::protobuf::DescriptorPool;
using google::protobuf::MethodDescriptor;
using google::protobuf::ServiceDescriptor;

constexpr const char* kServices[] = {
    "sequencer.v1.SequenceService", "sequencer.v1.RecipientService",
    "sequencer.v1.DeliveryService", "sequencer.v1.ClockService",
    "sequencer.v1.AuditService",    "sequencer.v1.AdminService"};

std::vector<const MethodDescriptor*> AllMethods() {
  std::vector<const MethodDescriptor*> methods;
  for (const char* name : kServices) {
    const ServiceDescriptor* service =
        DescriptorPool::generated_pool()->FindServiceByName(name);
    EXPECT_NE(service, nullptr) << name;
    if (service == nullptr) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      methods.push_back(service->method(i));
    }
  }
  return methods;
}

// ---- The table itself ------------------------------------------------------

TEST(MethodPermissionTest, EveryMethodOfEveryServiceHasAnEntry) {
  // A new RPC without an entry would be refused to everyone: add it to
  // kMethodPermissions in server/principals.cc.
  for (const char* name : kServices) {
    const ServiceDescriptor* service =
        DescriptorPool::generated_pool()->FindServiceByName(name);
    ASSERT_NE(service, nullptr) << name;
  }
  // Every service of the API's files, not only those listed above.
  for (const char* file :
       {"sequencer/v1/sequencer.proto", "sequencer/v1/admin.proto",
        "sequencer/v1/subscriptions.proto"}) {
    const auto* descriptor =
        DescriptorPool::generated_pool()->FindFileByName(file);
    ASSERT_NE(descriptor, nullptr) << file;
    for (int s = 0; s < descriptor->service_count(); ++s) {
      const ServiceDescriptor* service = descriptor->service(s);
      for (int m = 0; m < service->method_count(); ++m) {
        EXPECT_TRUE(server::RequiredPermission(service->method(m)->full_name())
                        .has_value())
            << service->method(m)->full_name();
      }
    }
  }
}

// ---- The principals file ---------------------------------------------------

TEST(PrincipalsFileTest, ParsesPrincipalsAndFindsThemByTokenAndCertificate) {
  const std::string hash_a = server::HexOf(server::Sha256Of("token-a"));
  const std::string hash_b = server::HexOf(server::Sha256Of("token-b"));
  auto set = server::PrincipalSet::Parse(
      absl::StrCat(
          "# comment\n\n",
          "name=crm role=operator tenants=acme,globex token_sha256=", hash_a,
          " token_sha256=", hash_b, " may_act_for=true  # rotating\n",
          "name=worker-1 role=worker,auditor tenants=* "
          "cert_cn=worker-1\n",
          "name=ops role=admin cert_cn=ops\n"),
      "p.txt");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ((*set)->size(), 3u);
  const server::Principal* crm = (*set)->ByToken("token-a");
  ASSERT_NE(crm, nullptr);
  EXPECT_EQ(crm->name, "crm");
  EXPECT_EQ((*set)->ByToken("token-b"), crm);
  EXPECT_EQ((*set)->ByToken("token-c"), nullptr);
  EXPECT_TRUE(crm->may_act_for);
  EXPECT_TRUE(crm->MayUseTenant("globex"));
  EXPECT_FALSE(crm->MayUseTenant("initech"));
  const server::Principal* worker = (*set)->ByCertCommonName("worker-1");
  ASSERT_NE(worker, nullptr);
  EXPECT_TRUE(worker->MayUseTenant("anything"));
  EXPECT_TRUE(worker->Grants(server::Permission::kAudit));
  EXPECT_FALSE(worker->Grants(server::Permission::kWrite));
  EXPECT_EQ((*set)->ByCertCommonName("nobody"), nullptr);
}

TEST(PrincipalsFileTest, CertificatesMatchBySubjectAltNameOrCommonName) {
  auto set = server::PrincipalSet::Parse(
      "name=cn role=worker tenants=x cert_cn=worker-1\n"
      "name=dns role=worker tenants=x cert_dns=Mailer.Acme.Internal "
      "cert_dns=mailer2.acme.internal\n"
      "name=spiffe role=worker tenants=x "
      "cert_uri=spiffe://example.org/ns/x/sa/worker\n",
      "p");
  ASSERT_TRUE(set.ok()) << set.status();
  auto names = [&](server::CertificateIdentity certificate) {
    std::string out;
    for (const server::Principal* p : (*set)->ByCertificate(certificate)) {
      absl::StrAppend(&out, out.empty() ? "" : ",", p->name);
    }
    return out;
  };
  EXPECT_EQ(names({"worker-1", {}, {}}), "cn");
  EXPECT_EQ(names({"other", {"x.acme.internal", "MAILER.acme.internal"}, {}}),
            "dns");
  EXPECT_EQ(names({"", {"mailer2.acme.internal"}, {}}), "dns");
  EXPECT_EQ(names({"", {}, {"spiffe://example.org/ns/x/sa/worker"}}), "spiffe");
  // URIs are compared exactly.
  EXPECT_EQ(names({"", {}, {"spiffe://example.org/ns/x/sa/Worker"}}), "");
  // Names given to two principals: both are found (the caller refuses).
  EXPECT_EQ(names({"worker-1", {"mailer.acme.internal"}, {}}), "cn,dns");
  EXPECT_EQ(names({"nobody", {}, {}}), "");
}

TEST(PrincipalsFileTest, ABadLineIsRefusedNamingItsLine) {
  const std::string hash = server::HexOf(server::Sha256Of("t"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"name=a role=operator cert_cn=a", "p:1: tenants is missing"},
      {"name=a role=boss tenants=x cert_cn=a", "p:1: unknown role 'boss'"},
      {"role=worker tenants=x cert_cn=a", "p:1: name is missing"},
      {"name=a role=worker tenants=x", "p:1: a principal needs a cert_cn"},
      {"name=a role=worker tenants=x token_sha256=abc",
       "p:1: token_sha256 must be 64 hexadecimal digits"},
      {"\nname=a role=worker tenants=x cert_cn=a\n"
       "name=a role=worker tenants=x cert_cn=b",
       "p:3: principal 'a' is named twice"},
      {"name=a role=worker tenants=x cert_cn=a\n"
       "name=b role=worker tenants=x cert_cn=a",
       "p:2: cert_cn 'a' is given to two principals"},
      {absl::StrCat("name=a role=worker tenants=x token_sha256=", hash,
                    "\nname=b role=worker tenants=x token_sha256=", hash),
       "p:2: this token_sha256 is given to another principal"},
      {"name=a role=worker tenants=x cert_cn=a colour=blue",
       "p:1: unknown key 'colour'"},
      {"name=a role=worker tenants=bad/tenant cert_cn=a", "p:1: tenants:"},
      {"name=a role=worker tenants=x cert_cn=a may_act_for=yes",
       "p:1: may_act_for must be true or false"},
      {"name=a role=worker tenants=x cert_uri=no-scheme",
       "p:1: cert_uri must be a URI with a scheme"},
      {"name=a role=worker tenants=x cert_dns=", "p:1: cert_dns is empty"},
      {"name=a role=worker tenants=x cert_dns=a.x cert_dns=A.x",
       "p:1: cert_dns 'a.x' is given twice"},
      {"name=a role=worker tenants=x cert_uri=spiffe://t/a\n"
       "name=b role=worker tenants=x cert_uri=spiffe://t/a",
       "p:2: cert_uri 'spiffe://t/a' is given to two principals"},
  };
  for (const auto& [text, message] : cases) {
    auto set = server::PrincipalSet::Parse(text, "p");
    ASSERT_FALSE(set.ok()) << text;
    EXPECT_TRUE(absl::StartsWith(set.status().message(), message))
        << set.status() << " for " << text;
  }
}

// ---- Through the real server -----------------------------------------------

constexpr char kTenantA[] = "acme";
constexpr char kTenantB[] = "globex";

struct Caller {
  Caller(std::string token, std::string tenant, std::string on_behalf_of = "",
         std::string actor = "")
      : token(std::move(token)),
        tenant(std::move(tenant)),
        on_behalf_of(std::move(on_behalf_of)),
        actor(std::move(actor)) {}
  std::string token;         // empty: none
  std::string tenant;        // empty: no x-tenant-id
  std::string on_behalf_of;  // empty: none
  std::string actor;         // x-actor (ignored in principals mode)
};

std::string TokenHash(const std::string& token) {
  return server::HexOf(server::Sha256Of(token));
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

std::string PrincipalsText() {
  return absl::StrCat(
      "name=crm role=operator tenants=acme may_act_for=true token_sha256=",
      TokenHash("operator-a"), "\n",
      "name=crm-b role=operator tenants=globex token_sha256=",
      TokenHash("operator-b"), "\n",
      "name=worker-a role=worker tenants=acme token_sha256=",
      TokenHash("worker-a"), "\n",
      "name=auditor-a role=auditor tenants=acme token_sha256=",
      TokenHash("auditor-a"), "\n",
      "name=ops role=admin token_sha256=", TokenHash("admin"), "\n",
      "name=clock role=clock token_sha256=", TokenHash("clock"), "\n");
}

class AuthDaemonTest : public ::testing::Test {
 protected:
  void StartWith(std::vector<std::string> flags,
                 const std::string& principals = PrincipalsText()) {
    principals_file_ = dir_.Sub("principals.txt");
    WriteFile(principals_file_, principals);
    flags.insert(flags.begin(), {"--auth=principals",
                                 "--principals_file=" + principals_file_});
    daemon_.set_extra_flags(flags);
    ASSERT_NO_FATAL_FAILURE(daemon_.Start());
  }

  std::unique_ptr<grpc::ClientContext> ContextOf(const Caller& caller) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(30));
    if (!caller.token.empty()) {
      context->AddMetadata("authorization", "Bearer " + caller.token);
    }
    if (!caller.tenant.empty()) {
      context->AddMetadata("x-tenant-id", caller.tenant);
    }
    if (!caller.on_behalf_of.empty()) {
      context->AddMetadata("x-on-behalf-of", caller.on_behalf_of);
    }
    if (!caller.actor.empty()) context->AddMetadata("x-actor", caller.actor);
    return context;
  }

  // Calls "/service/method" with `request` (serialized) as `caller`.
  // `response`, when given, receives the response's bytes.
  grpc::Status Call(const MethodDescriptor* method, const Caller& caller,
                    const std::string& request_bytes = "",
                    grpc::ByteBuffer* response = nullptr) {
    grpc::GenericStub stub(daemon_.channel());
    grpc::Slice slice(request_bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer ignored;
    auto context = ContextOf(caller);
    std::promise<grpc::Status> done;
    stub.UnaryCall(
        context.get(),
        absl::StrCat("/", method->service()->full_name(), "/", method->name()),
        grpc::StubOptions(), &request,
        response == nullptr ? &ignored : response,
        [&done](grpc::Status status) { done.set_value(status); });
    return done.get_future().get();
  }

  void CreateSequenceAs(const Caller& caller, const std::string& id) {
    v1::CreateSequenceRequest request;
    request.set_request_id(NextRequestId());
    request.set_sequence_id(id);
    request.set_name("Outreach");
    *request.add_steps() = EmailStep(absl::ZeroDuration());
    *request.add_steps() = TaskStep(absl::Hours(1));
    v1::CreateSequenceResponse response;
    auto context = ContextOf(caller);
    grpc::Status status =
        daemon_.sequences().CreateSequence(context.get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  void EnrollAs(const Caller& caller, const std::string& sequence,
                const std::string& recipient) {
    v1::EnrollRecipientsRequest request;
    request.set_request_id(NextRequestId());
    request.set_sequence_id(sequence);
    v1::RecipientInput* input = request.add_recipients();
    input->set_recipient_id(recipient);
    input->mutable_contact()->set_email(recipient + "@example.com");
    (*input->mutable_variables())["first_name"] = "Ada";
    (*input->mutable_variables())["company"] = "Acme";
    v1::EnrollRecipientsResponse response;
    auto context = ContextOf(caller);
    grpc::Status status = daemon_.recipients().EnrollRecipients(
        context.get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // Waits (up to 30 s, no fixed sleep) until `call` answers `code`.
  template <typename Call>
  void WaitFor(grpc::StatusCode code, Call call) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    grpc::Status status;
    do {
      status = call();
      if (status.error_code() == code) return;
      absl::SleepFor(absl::Milliseconds(20));
    } while (absl::Now() < deadline);
    FAIL() << "still " << status.error_code() << " " << status.error_message();
  }

  TempDir dir_;
  std::string principals_file_;
  Daemon daemon_{dir_.Sub("data"), /*capture_stderr=*/true};
};

const MethodDescriptor* Method(const std::string& full_name) {
  const MethodDescriptor* method =
      DescriptorPool::generated_pool()->FindMethodByName(full_name);
  EXPECT_NE(method, nullptr) << full_name;
  return method;
}

TEST_F(AuthDaemonTest, MissingOrWrongCredentialsAreUnauthenticated) {
  ASSERT_NO_FATAL_FAILURE(StartWith({}));
  for (const MethodDescriptor* method : AllMethods()) {
    SCOPED_TRACE(method->full_name());
    // The development headers alone are not credentials.
    grpc::Status none = Call(method, {"", kTenantA, "", "alice@acme"});
    EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << none.error_message();
    grpc::Status wrong = Call(method, {"not-a-token", kTenantA});
    EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << wrong.error_message();
  }
  // Health and reflection stay open to probes.
  EXPECT_EQ(daemon_.Health(), grpc::health::v1::HealthCheckResponse::SERVING);
  // Reflection (v1) too: it lists the services without credentials.
  {
    auto reflection =
        grpc::reflection::v1::ServerReflection::NewStub(daemon_.channel());
    grpc::ClientContext reflection_context;
    reflection_context.set_deadline(std::chrono::system_clock::now() +
                                    std::chrono::seconds(30));
    auto stream = reflection->ServerReflectionInfo(&reflection_context);
    grpc::reflection::v1::ServerReflectionRequest list;
    list.set_list_services("*");
    ASSERT_TRUE(stream->Write(list));
    grpc::reflection::v1::ServerReflectionResponse listed;
    ASSERT_TRUE(stream->Read(&listed));
    stream->WritesDone();
    EXPECT_GT(listed.list_services_response().service_size(), 3)
        << listed.DebugString();
    EXPECT_TRUE(stream->Finish().ok());
  }
  // Not development mode: its health entry is absent.
  auto health = grpc::health::v1::Health::NewStub(daemon_.channel());
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(server::kDevelopmentModeHealthService);
  grpc::health::v1::HealthCheckResponse response;
  EXPECT_EQ(health->Check(&context, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// Which roles may call a method, stated here independently of the server's
// table (server/principals.cc).
std::set<std::string> RolesAllowed(const MethodDescriptor* method) {
  const std::string service = method->service()->name();
  const std::string name = method->name();
  if (service == "AdminService") return {"admin"};
  if (service == "AuditService") return {"operator", "auditor"};
  if (service == "DeliveryService") return {"operator", "worker"};
  if (name == "AdvanceTime") return {"clock"};
  if (absl::StartsWith(name, "Get") || absl::StartsWith(name, "List") ||
      absl::StartsWith(name, "View") || absl::StartsWith(name, "Preview")) {
    return {"operator", "worker", "auditor"};
  }
  return {"operator"};
}

TEST_F(AuthDaemonTest, EveryRoleAgainstEveryMethod) {
  ASSERT_NO_FATAL_FAILURE(StartWith({}));
  const std::map<std::string, std::string> tokens = {{"operator", "operator-a"},
                                                     {"worker", "worker-a"},
                                                     {"auditor", "auditor-a"},
                                                     {"admin", "admin"},
                                                     {"clock", "clock"}};
  for (const auto& [role, token] : tokens) {
    for (const MethodDescriptor* method : AllMethods()) {
      SCOPED_TRACE(absl::StrCat(role, " calls ", method->full_name()));
      // An empty request: allowed calls get past admission and are answered
      // by the method itself (OK, INVALID_ARGUMENT, NOT_FOUND of an id...).
      grpc::Status status = Call(method, {token, kTenantA});
      if (RolesAllowed(method).count(role) > 0) {
        EXPECT_NE(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
            << status.error_message();
        EXPECT_NE(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
            << status.error_message();
        EXPECT_FALSE(absl::StrContains(status.error_message(), "tenant acme"))
            << status.error_message();
      } else {
        EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
            << status.error_message();
        const google::rpc::ErrorInfo info = ErrorInfoOf(status);
        EXPECT_EQ(info.reason(), "ROLE_FORBIDS");
        EXPECT_EQ(info.metadata().at("role"), role);
        EXPECT_EQ(info.metadata().at("method"), method->full_name());
      }
    }
  }
}

TEST_F(AuthDaemonTest, AnotherTenantIsNotFoundForEveryTenantMethod) {
  ASSERT_NO_FATAL_FAILURE(StartWith({}));
  const Caller a{"operator-a", kTenantA};
  ASSERT_NO_FATAL_FAILURE(CreateSequenceAs(a, "s1"));
  ASSERT_NO_FATAL_FAILURE(EnrollAs(a, "s1", "r1"));
  for (const MethodDescriptor* method : AllMethods()) {
    const auto permission = server::RequiredPermission(method->full_name());
    ASSERT_TRUE(permission.has_value());
    if (!server::IsTenantScoped(*permission)) continue;
    SCOPED_TRACE(method->full_name());
    // Operator of B names tenant A, which exists...
    grpc::Status existing = Call(method, {"operator-b", kTenantA});
    EXPECT_EQ(existing.error_code(), grpc::StatusCode::NOT_FOUND)
        << existing.error_message();
    // ... and a tenant that does not: the same answer.
    grpc::Status missing = Call(method, {"operator-b", "initech"});
    EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(existing.error_message(),
              absl::StrCat("tenant ", kTenantA, " not found"));
    EXPECT_EQ(missing.error_message(), "tenant initech not found");
  }
}

TEST_F(AuthDaemonTest, TenantAsIdsAreNotFoundFromTenantB) {
  ASSERT_NO_FATAL_FAILURE(StartWith({}));
  const Caller a{"operator-a", kTenantA};
  ASSERT_NO_FATAL_FAILURE(CreateSequenceAs(a, "s1"));
  ASSERT_NO_FATAL_FAILURE(EnrollAs(a, "s1", "r1"));
  // A's worker leases the first step (due now once the scheduler runs).
  v1::AdvanceTimeRequest advance;
  advance.mutable_by()->set_seconds(1);
  v1::TimeResponse now;
  auto clock_context = ContextOf({"clock", ""});
  ASSERT_TRUE(v1::ClockService::NewStub(daemon_.channel())
                  ->AdvanceTime(clock_context.get(), advance, &now)
                  .ok());
  v1::LeaseStepsRequest lease;
  lease.set_channel(v1::STEP_TYPE_EMAIL);
  v1::LeaseStepsResponse leased;
  auto lease_context = ContextOf({"worker-a", kTenantA});
  ASSERT_TRUE(v1::DeliveryService::NewStub(daemon_.channel())
                  ->LeaseSteps(lease_context.get(), lease, &leased)
                  .ok());
  ASSERT_EQ(leased.leases_size(), 1);
  const std::string token = leased.leases(0).lease_token();
  // B's own sequence with the same id does not exist; B acts in its tenant
  // with A's ids.
  const Caller b{"operator-b", kTenantB};
  // B's worker tries A's lease.
  const std::string send = absl::StrCat(
      R"(lease_token: ")", token, R"(" sequence_id: "s1" recipient_id: "r1")");
  const std::string report =
      absl::StrCat(send, " outcome: DELIVERY_OUTCOME_SENT");
  const std::map<std::string, std::string> deliveries = {
      {"DeliveryService.BeginSend", send},
      {"DeliveryService.ReportDelivery", report},
      {"DeliveryService.BeginSends", absl::StrCat("sends { ", send, " }")},
      {"DeliveryService.ReportDeliveries",
       absl::StrCat("reports { ", report, " }")},
  };
  for (const auto& [name, text] : deliveries) {
    SCOPED_TRACE(name);
    const MethodDescriptor* method = Method("sequencer.v1." + name);
    google::protobuf::DynamicMessageFactory factory;
    std::unique_ptr<google::protobuf::Message> request(
        factory.GetPrototype(method->input_type())->New());
    ASSERT_TRUE(
        google::protobuf::TextFormat::ParseFromString(text, request.get()));
    grpc::ByteBuffer response_bytes;
    const grpc::Status status =
        Call(method, b, request->SerializeAsString(), &response_bytes);
    // BeginSend: A's lease is, for B, a lease like any unknown one (the lease
    // table is per tenant); ReportDelivery: the recipient is not found.
    const bool begin = absl::StrContains(name, "BeginSend");
    const grpc::StatusCode expected =
        begin ? grpc::StatusCode::FAILED_PRECONDITION
              : grpc::StatusCode::NOT_FOUND;
    if (name == "DeliveryService.BeginSend" ||
        name == "DeliveryService.ReportDelivery") {
      EXPECT_EQ(status.error_code(), expected) << status.error_message();
      if (begin) {
        EXPECT_TRUE(
            absl::StrContains(status.error_message(), "unknown or expired"))
            << status.error_message();
      }
      continue;
    }
    // The batch forms answer per item, as the single call would.
    ASSERT_TRUE(status.ok()) << status.error_message();
    std::unique_ptr<google::protobuf::Message> response(
        factory.GetPrototype(method->output_type())->New());
    std::vector<grpc::Slice> slices;
    ASSERT_TRUE(response_bytes.Dump(&slices).ok());
    std::string flat;
    for (const grpc::Slice& piece : slices) {
      flat.append(reinterpret_cast<const char*>(piece.begin()), piece.size());
    }
    ASSERT_TRUE(response->ParseFromString(flat));
    std::string printed;
    google::protobuf::TextFormat::PrintToString(*response, &printed);
    EXPECT_TRUE(absl::StrContains(
        printed, absl::StrCat("code: ", static_cast<int>(expected))))
        << printed;
  }
  // Every method that takes a sequence or recipient id, with A's ids.
  const std::map<std::string, std::string> requests = {
      {"SequenceService.GetSequence", R"(sequence_id: "s1")"},
      {"SequenceService.PauseSequence",
       R"(request_id: "x1" sequence_id: "s1")"},
      {"SequenceService.ResumeSequence",
       R"(request_id: "x2" sequence_id: "s1")"},
      {"SequenceService.GetSequenceReport", R"(sequence_id: "s1")"},
      {"RecipientService.EnrollRecipients",
       R"(request_id: "x3" sequence_id: "s1"
          recipients { recipient_id: "r2" contact { email: "r2@x.com" } })"},
      {"RecipientService.GetRecipient",
       R"(sequence_id: "s1" recipient_id: "r1")"},
      {"RecipientService.ListRecipients", R"(sequence_id: "s1")"},
      {"RecipientService.PauseRecipient",
       R"(request_id: "x4" sequence_id: "s1" recipient_id: "r1")"},
      {"RecipientService.ResumeRecipient",
       R"(request_id: "x5" sequence_id: "s1" recipient_id: "r1")"},
      {"RecipientService.PreviewSkipStep",
       R"(sequence_id: "s1" recipient_id: "r1")"},
      {"RecipientService.SkipStep",
       R"(request_id: "x6" sequence_id: "s1" recipient_id: "r1")"},
      {"RecipientService.EditContent",
       R"(request_id: "x7" sequence_id: "s1" recipient_id: "r1"
          step_index: 0 edit { subject: "New" })"},
      {"RecipientService.ViewContent",
       R"(sequence_id: "s1" recipient_id: "r1")"},
      {"RecipientService.StopRecipient",
       R"(request_id: "x8" sequence_id: "s1" recipient_id: "r1")"},
      {"RecipientService.DeleteRecipient",
       R"(request_id: "x9" sequence_id: "s1" recipient_id: "r1")"},
      {"RecipientService.CompleteManualStep",
       R"(request_id: "x10" sequence_id: "s1" recipient_id: "r1")"},
      {"RecipientService.RecordSignal",
       R"(request_id: "x11" sequence_id: "s1" recipient_id: "r1"
          signal: SIGNAL_TYPE_REPLY)"},
      {"RecipientService.GetRecipientTimeline",
       R"(sequence_id: "s1" recipient_id: "r1")"},
      {"RecipientService.BulkAction",
       R"(request_id: "x12" sequence_id: "s1" recipient_ids: "r1"
          action: BULK_ACTION_TYPE_PAUSE)"},
      {"AuditService.GetRecipientAsOf",
       R"(sequence_id: "s1" recipient_id: "r1" version: 1)"},
  };
  for (const auto& [name, text] : requests) {
    SCOPED_TRACE(name);
    const MethodDescriptor* method = Method("sequencer.v1." + name);
    ASSERT_NE(method, nullptr);
    google::protobuf::DynamicMessageFactory factory;
    std::unique_ptr<google::protobuf::Message> request(
        factory.GetPrototype(method->input_type())->New());
    ASSERT_TRUE(
        google::protobuf::TextFormat::ParseFromString(text, request.get()));
    grpc::Status status = Call(method, b, request->SerializeAsString());
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND)
        << status.error_message();
  }
  // Lists and the log of B show nothing of A's.
  v1::ListSequencesResponse sequences;
  auto context = ContextOf(b);
  ASSERT_TRUE(
      daemon_.sequences().ListSequences(context.get(), {}, &sequences).ok());
  EXPECT_EQ(sequences.sequences_size(), 0);
  auto audit = v1::AuditService::NewStub(daemon_.channel());
  v1::ReadEventsResponse events;
  context = ContextOf(b);
  ASSERT_TRUE(audit->ReadEvents(context.get(), {}, &events).ok());
  EXPECT_EQ(events.events_size(), 0);
  // A still has its recipient, untouched.
  v1::GetRecipientRequest get;
  get.set_sequence_id("s1");
  get.set_recipient_id("r1");
  v1::Recipient recipient;
  context = ContextOf(a);
  ASSERT_TRUE(
      daemon_.recipients().GetRecipient(context.get(), get, &recipient).ok());
  // The lease is still A's: A's worker begins the send.
  v1::BeginSendRequest begin;
  begin.set_lease_token(token);
  begin.set_sequence_id("s1");
  begin.set_recipient_id("r1");
  v1::BeginSendResponse begun;
  context = ContextOf({"worker-a", kTenantA});
  EXPECT_TRUE(v1::DeliveryService::NewStub(daemon_.channel())
                  ->BeginSend(context.get(), begin, &begun)
                  .ok());
}

TEST_F(AuthDaemonTest, TheRecordedActorIsThePrincipal) {
  ASSERT_NO_FATAL_FAILURE(StartWith({}));
  // x-actor is not believed.
  ASSERT_NO_FATAL_FAILURE(
      CreateSequenceAs({"operator-a", kTenantA, "", "mallory"}, "s1"));
  ASSERT_NO_FATAL_FAILURE(EnrollAs(
      {"operator-a", kTenantA, "alice@acme.com", "mallory"}, "s1", "r1"));
  v1::RecipientActionRequest pause;
  pause.set_request_id(NextRequestId());
  pause.set_sequence_id("s1");
  pause.set_recipient_id("r1");
  v1::Recipient recipient;
  auto context = ContextOf({"operator-a", kTenantA, "", "mallory"});
  ASSERT_TRUE(daemon_.recipients()
                  .PauseRecipient(context.get(), pause, &recipient)
                  .ok());
  v1::GetRecipientRequest get;
  get.set_sequence_id("s1");
  get.set_recipient_id("r1");
  v1::RecipientTimeline timeline;
  context = ContextOf({"auditor-a", kTenantA});
  ASSERT_TRUE(daemon_.recipients()
                  .GetRecipientTimeline(context.get(), get, &timeline)
                  .ok());
  std::vector<std::string> actors;
  for (const auto& entry : timeline.entries()) {
    if (entry.event().metadata().actor() != "system") {
      actors.push_back(entry.event().metadata().actor());
    }
  }
  EXPECT_THAT(actors,
              ::testing::ElementsAre("crm (for alice@acme.com)", "crm"));

  // A principal that may not act for others may not say it does.
  grpc::Status status =
      Call(Method("sequencer.v1.SequenceService.ListSequences"),
           {"worker-a", kTenantA, "bob@acme.com"});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ErrorInfoOf(status).reason(), "ACT_FOR_FORBIDDEN");
}

// SubscribeEvents and SubscribeEventBatches (server streaming, not
// DecodingService unary calls) are admitted by the same access control: the
// tenant's auditor follows its events; a worker's role forbids it; another
// tenant's operator is told the tenant does not exist; no token is
// UNAUTHENTICATED.
TEST_F(AuthDaemonTest, SubscriptionsAreAdmittedLikeEveryCall) {
  ASSERT_NO_FATAL_FAILURE(StartWith({}));
  const Caller operator_a("operator-a", "acme");
  ASSERT_NO_FATAL_FAILURE(CreateSequenceAs(operator_a, "s"));
  auto stub = v1::SubscriptionService::NewStub(daemon_.channel());
  v1::SubscribeEventsRequest request;
  request.set_from_start(true);

  auto context = ContextOf(Caller("auditor-a", "acme"));
  auto reader = stub->SubscribeEvents(context.get(), request);
  v1::SubscribedEvent first;
  ASSERT_TRUE(reader->Read(&first));
  EXPECT_EQ(first.position(), 1u);
  context->TryCancel();
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);

  struct Refused {
    Caller caller;
    grpc::StatusCode code;
  };
  for (const Refused& refused :
       {Refused{Caller("worker-a", "acme"),
                grpc::StatusCode::PERMISSION_DENIED},
        Refused{Caller("operator-b", "acme"), grpc::StatusCode::NOT_FOUND},
        Refused{Caller("", "acme"), grpc::StatusCode::UNAUTHENTICATED}}) {
    auto refused_context = ContextOf(refused.caller);
    auto refused_reader = stub->SubscribeEvents(refused_context.get(), request);
    v1::SubscribedEvent none;
    EXPECT_FALSE(refused_reader->Read(&none)) << refused.caller.token;
    EXPECT_EQ(refused_reader->Finish().error_code(), refused.code)
        << refused.caller.token;
    // The batched form: the same permission.
    auto batch_context = ContextOf(refused.caller);
    auto batch_reader =
        stub->SubscribeEventBatches(batch_context.get(), request);
    v1::SubscribedEventBatch no_batch;
    EXPECT_FALSE(batch_reader->Read(&no_batch)) << refused.caller.token;
    EXPECT_EQ(batch_reader->Finish().error_code(), refused.code)
        << refused.caller.token;
  }
  auto batch_context = ContextOf(Caller("auditor-a", "acme"));
  auto batch_reader = stub->SubscribeEventBatches(batch_context.get(), request);
  v1::SubscribedEventBatch batch;
  ASSERT_TRUE(batch_reader->Read(&batch));
  ASSERT_GE(batch.events_size(), 1);
  EXPECT_EQ(batch.events(0).position(), 1u);
  batch_context->TryCancel();
  EXPECT_EQ(batch_reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(AuthDaemonTest, TokensRotateOnSighupAndABadFileKeepsThePrincipals) {
  // SIGHUP only: the file is not watched.
  ASSERT_NO_FATAL_FAILURE(StartWith({"--principals_refresh=0"}));
  const MethodDescriptor* list =
      Method("sequencer.v1.SequenceService.ListSequences");
  auto call_with = [&](const std::string& token) {
    return [this, list, token] { return Call(list, {token, kTenantA}); };
  };
  EXPECT_TRUE(call_with("operator-a")().ok());
  EXPECT_EQ(call_with("operator-a-2")().error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  // The overlap: both tokens of crm.
  const std::string rest =
      PrincipalsText().substr(PrincipalsText().find('\n') + 1);
  WriteFile(principals_file_,
            absl::StrCat("name=crm role=operator tenants=acme token_sha256=",
                         TokenHash("operator-a"), " token_sha256=",
                         TokenHash("operator-a-2"), "\n", rest));
  daemon_.process().Kill(SIGHUP);
  ASSERT_NO_FATAL_FAILURE(
      WaitFor(grpc::StatusCode::OK, call_with("operator-a-2")));
  EXPECT_TRUE(call_with("operator-a")().ok());

  // The old token is removed.
  WriteFile(principals_file_,
            absl::StrCat("name=crm role=operator tenants=acme token_sha256=",
                         TokenHash("operator-a-2"), "\n", rest));
  daemon_.process().Kill(SIGHUP);
  ASSERT_NO_FATAL_FAILURE(
      WaitFor(grpc::StatusCode::UNAUTHENTICATED, call_with("operator-a")));
  EXPECT_TRUE(call_with("operator-a-2")().ok());

  // A file that does not parse is refused; the principals in use stay.
  WriteFile(principals_file_, "name=crm role=boss\n");
  daemon_.process().Kill(SIGHUP);
  absl::StatusOr<std::string> line =
      daemon_.process().ReadLine(Daemon::kTimeout);
  // After the lines of the two reloads before, this one's.
  while (line.ok() && !absl::StrContains(*line, "refused")) {
    line = daemon_.process().ReadLine(Daemon::kTimeout);
  }
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_TRUE(absl::StrContains(*line, "unknown role 'boss'")) << *line;
  EXPECT_TRUE(call_with("operator-a-2")().ok());
}

TEST_F(AuthDaemonTest, AChangedPrincipalsFileIsReloadedWithoutASignal) {
  ASSERT_NO_FATAL_FAILURE(StartWith({"--principals_refresh=1s"}));
  const MethodDescriptor* list =
      Method("sequencer.v1.SequenceService.ListSequences");
  auto call_with = [&](const std::string& token) {
    return [this, list, token] { return Call(list, {token, kTenantA}); };
  };
  const std::string rest =
      PrincipalsText().substr(PrincipalsText().find('\n') + 1);
  // Written to a new file moved over the old one, as editors and
  // configuration tools do.
  const std::string next = principals_file_ + ".next";
  WriteFile(next,
            absl::StrCat("name=crm role=operator tenants=acme token_sha256=",
                         TokenHash("operator-a-3"), "\n", rest));
  std::filesystem::rename(next, principals_file_);
  ASSERT_NO_FATAL_FAILURE(
      WaitFor(grpc::StatusCode::OK, call_with("operator-a-3")));
  EXPECT_EQ(call_with("operator-a")().error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // A change that does not parse is refused and logged; the principals stay.
  WriteFile(next, "name=crm role=boss\n");
  std::filesystem::rename(next, principals_file_);
  absl::StatusOr<std::string> line =
      daemon_.process().ReadLine(Daemon::kTimeout);
  while (line.ok() && !absl::StrContains(*line, "refused")) {
    line = daemon_.process().ReadLine(Daemon::kTimeout);
  }
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_TRUE(absl::StrContains(*line, "unknown role 'boss'")) << *line;
  EXPECT_TRUE(call_with("operator-a-3")().ok());
}

TEST_F(AuthDaemonTest, ABadPrincipalsFileOrFlagStopsTheStartWithExit2) {
  const std::string data_dir = dir_.Sub("never");
  const std::string bad = dir_.Sub("bad.txt");
  WriteFile(bad, "name=a role=operator\n");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--auth=principals"}, "--auth=principals needs --principals_file"},
      {{"--auth=principals", "--principals_file=" + bad},
       "bad.txt:1: tenants is missing"},
      {{"--auth=principals", "--principals_file=" + dir_.Sub("none.txt")},
       "cannot read"},
      {{"--auth=open"}, "--auth must be 'dev' or 'principals'"},
      // Development mode is never the default: no --auth, no start.
      {{}, "--auth is required: --auth=principals"},
      {{"--auth="}, "--auth is required: --auth=principals"},
      {{"--tls_cert=x.pem", "--tls_key=x.key"}, "--auth is required"},
      {{"--auth=dev", "--principals_file=" + bad},
       "--principals_file needs --auth"},
      {{"--auth=dev", "--tls_cert=x.pem"},
       "--tls_cert and --tls_key go together"},
      {{"--auth=dev", "--tls_client_ca=ca.pem"},
       "--tls_client_ca needs --tls_cert"},
      {{"--auth=dev", "--tls_cert=" + bad, "--tls_key=" + bad}, "--tls_cert: "},
      {{"--auth=dev", "--tls_crl_file=crl.pem"},
       "--tls_crl_file needs --tls_client_ca"},
      {{"--auth=dev", "--tls_refresh=-1s"}, "--tls_refresh must be 0 or more"},
      {{"--auth=dev", "--tenant_rate=-1"}, "--tenant_rate must be 0 or more"},
      {{"--auth=dev", "--tenant_burst=0"}, "--tenant_burst must be 1 or more"},
  };
  for (const auto& [flags, message] : cases) {
    SCOPED_TRACE(message);
    std::vector<std::string> argv = {SEQUENCERD_PATH, "--listen=127.0.0.1:0",
                                     "--data_dir=" + data_dir};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto child = ChildProcess::Start(argv, /*merge_stderr=*/true);
    ASSERT_TRUE(child.ok()) << child.status();
    absl::StatusOr<std::string> output = (*child)->ReadAll(absl::Seconds(30));
    ASSERT_TRUE(output.ok()) << output.status();
    absl::StatusOr<int> status = (*child)->Wait(absl::Seconds(30));
    ASSERT_TRUE(status.ok()) << status.status();
    ASSERT_TRUE(WIFEXITED(*status));
    EXPECT_EQ(WEXITSTATUS(*status), 2) << *output;
    EXPECT_TRUE(absl::StrContains(*output, message)) << *output;
    EXPECT_FALSE(std::filesystem::exists(data_dir));
  }
}

TEST_F(AuthDaemonTest, DevelopmentModeKeepsHeadersAndSaysSoLoudly) {
  daemon_.set_extra_flags({"--auth=dev"});
  ASSERT_NO_FATAL_FAILURE(daemon_.Start());
  std::string startup;
  for (const auto& line : daemon_.startup_lines()) {
    absl::StrAppend(&startup, line, "\n");
  }
  EXPECT_TRUE(absl::StrContains(startup, "WARNING: development mode"))
      << startup;
  auto health = grpc::health::v1::Health::NewStub(daemon_.channel());
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(server::kDevelopmentModeHealthService);
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(&context, request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  // Headers as given: the actor is x-actor.
  const Caller dev{"", kTenantA, "", "alice@example.com"};
  ASSERT_NO_FATAL_FAILURE(CreateSequenceAs(dev, "s1"));
  ASSERT_NO_FATAL_FAILURE(EnrollAs(dev, "s1", "r1"));
  v1::GetRecipientRequest get;
  get.set_sequence_id("s1");
  get.set_recipient_id("r1");
  v1::RecipientTimeline timeline;
  auto call = ContextOf(dev);
  ASSERT_TRUE(daemon_.recipients()
                  .GetRecipientTimeline(call.get(), get, &timeline)
                  .ok());
  ASSERT_GT(timeline.entries_size(), 0);
  EXPECT_EQ(timeline.entries(0).event().metadata().actor(),
            "alice@example.com");
}

TEST_F(AuthDaemonTest, ATenantOverItsRateIsToldWhenToRetry) {
  ASSERT_NO_FATAL_FAILURE(StartWith({"--tenant_rate=2", "--tenant_burst=3"}));
  const MethodDescriptor* list =
      Method("sequencer.v1.SequenceService.ListSequences");
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(Call(list, {"operator-a", kTenantA}).ok()) << i;
  }
  grpc::Status limited = Call(list, {"auditor-a", kTenantA});
  EXPECT_EQ(limited.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << limited.error_message();
  std::optional<google::rpc::RetryInfo> retry =
      server::RetryInfoFromGrpcStatus(limited);
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->retry_delay().seconds(), 0);
  EXPECT_EQ(retry->retry_delay().nanos(), 500000000);
  EXPECT_EQ(ErrorInfoOf(limited).reason(), "RATE_LIMITED");
  // Another tenant has its own bucket.
  EXPECT_TRUE(Call(list, {"operator-b", kTenantB}).ok());
  // Time moves (manual clock, through the clock principal: ClockService is
  // not limited): a token is back, one only.
  v1::AdvanceTimeRequest advance;
  advance.mutable_by()->set_nanos(500000000);
  v1::TimeResponse now;
  auto clock = v1::ClockService::NewStub(daemon_.channel());
  auto context = ContextOf({"clock", ""});
  ASSERT_TRUE(clock->AdvanceTime(context.get(), advance, &now).ok());
  EXPECT_TRUE(Call(list, {"operator-a", kTenantA}).ok());
  EXPECT_EQ(Call(list, {"operator-a", kTenantA}).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

}  // namespace
}  // namespace sequencer::testing
