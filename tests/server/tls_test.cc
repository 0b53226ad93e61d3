// TLS and mTLS through the real sequencerd (issue 13): a throwaway CA and
// certificates made with the openssl CLI in a temporary directory; the
// handshake, client certificates naming principals (common name, DNS and URI
// subjectAltNames), expired, wrong-CA, missing and revoked client
// certificates, and the server certificate reloaded when its files change or
// on SIGHUP.

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/grpc_security_constants.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "server/principals.h"
#include "tests/util/api_helpers.h"
#include "tests/util/daemon.h"
#include "tests/util/process.h"
#include "tests/util/temp_dir.h"

namespace sequencer::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

// A CA and certificates made with the openssl CLI (EC P-256 keys).
class Pki {
 public:
  explicit Pki(std::string dir) : dir_(std::move(dir)) {}

  std::string Path(const std::string& file) const { return dir_ + "/" + file; }

  // <name>.pem, <name>.key: a self-signed CA.
  void MakeCa(const std::string& name) {
    ASSERT_NO_FATAL_FAILURE(Run(absl::StrCat(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
        "-nodes -keyout ",
        Path(name + ".key"), " -out ", Path(name + ".pem"), " -subj /CN=", name,
        " -days 2")));
  }

  // <name>.pem, <name>.key: a certificate for `cn` signed by `ca`, valid for
  // `days` (-1: expired since yesterday), with `san` (e.g.
  // "DNS:localhost,IP:127.0.0.1") when not empty.
  void MakeCert(const std::string& ca, const std::string& name,
                const std::string& cn, int days = 2,
                const std::string& san = "") {
    ASSERT_NO_FATAL_FAILURE(Run(absl::StrCat(
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout ",
        Path(name + ".key"), " -out ", Path(name + ".csr"),
        " -subj /CN=", cn)));
    std::string ext;
    if (!san.empty()) {
      WriteFile(Path(name + ".ext"), "subjectAltName=" + san + "\n");
      ext = " -extfile " + Path(name + ".ext");
    }
    ASSERT_NO_FATAL_FAILURE(Run(absl::StrCat(
        "openssl x509 -req -in ", Path(name + ".csr"), " -CA ",
        Path(ca + ".pem"), " -CAkey ", Path(ca + ".key"),
        " -CAcreateserial -out ", Path(name + ".pem"), " -days ", days, ext)));
  }

  // Revokes <name>.pem in `ca`'s database (openssl ca -revoke), then writes
  // `ca`'s CRL to `crl` (openssl ca -gencrl). With `name` empty, only the
  // CRL (revoking nothing new).
  void RevokeAndPublish(const std::string& ca, const std::string& name,
                        const std::string& crl) {
    const std::string config = Path(ca + "-db.cnf");
    if (!std::filesystem::exists(config)) {
      WriteFile(Path(ca + "-index.txt"), "");
      WriteFile(Path(ca + "-crlnumber"), "01\n");
      WriteFile(config, absl::StrCat("[ca]\ndefault_ca=d\n[d]\ndatabase=",
                                     Path(ca + "-index.txt"),
                                     "\ncrlnumber=", Path(ca + "-crlnumber"),
                                     "\ndefault_md=sha256\n"
                                     "default_crl_days=2\n"));
    }
    const std::string common =
        absl::StrCat("openssl ca -config ", config, " -keyfile ",
                     Path(ca + ".key"), " -cert ", Path(ca + ".pem"));
    if (!name.empty()) {
      ASSERT_NO_FATAL_FAILURE(
          Run(absl::StrCat(common, " -revoke ", Path(name + ".pem"))));
    }
    ASSERT_NO_FATAL_FAILURE(
        Run(absl::StrCat(common, " -gencrl -out ", Path(crl + ".new"))));
    std::filesystem::rename(Path(crl + ".new"), Path(crl));
  }

  std::string Pem(const std::string& name) const {
    return ReadFile(Path(name + ".pem"));
  }
  std::string Key(const std::string& name) const {
    return ReadFile(Path(name + ".key"));
  }

 private:
  static void Run(const std::string& command) {
    const std::string quiet = command + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(quiet.c_str()), 0) << command;
  }

  std::string dir_;
};

constexpr char kTenantA[] = "acme";

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.Sub("pki"));
    ASSERT_NO_FATAL_FAILURE(pki_.MakeCa("ca"));
    ASSERT_NO_FATAL_FAILURE(pki_.MakeCa("other-ca"));
    ASSERT_NO_FATAL_FAILURE(pki_.MakeCert("ca", "server", "sequencerd", 2,
                                          "DNS:localhost,IP:127.0.0.1"));
    ASSERT_NO_FATAL_FAILURE(pki_.MakeCert("ca", "worker", "worker-1"));
    ASSERT_NO_FATAL_FAILURE(pki_.MakeCert("ca", "auditor", "auditor-1"));
    ASSERT_NO_FATAL_FAILURE(pki_.MakeCert("ca", "operator-b", "operator-b"));
    ASSERT_NO_FATAL_FAILURE(pki_.MakeCert("ca", "stranger", "stranger"));
    ASSERT_NO_FATAL_FAILURE(pki_.MakeCert("ca", "expired", "worker-1", -1));
    ASSERT_NO_FATAL_FAILURE(pki_.MakeCert("other-ca", "impostor", "worker-1"));
    principals_ = dir_.Sub("principals.txt");
    WriteFile(
        principals_,
        absl::StrCat("name=worker-1 role=worker tenants=acme cert_cn=worker-1\n"
                     "name=auditor-1 role=auditor tenants=acme "
                     "cert_cn=auditor-1\n"
                     "name=operator-b role=operator tenants=globex "
                     "cert_cn=operator-b\n"
                     "name=crm role=operator tenants=acme token_sha256=",
                     server::HexOf(server::Sha256Of("crm-token")), "\n"));
  }

  void StartWith(std::vector<std::string> flags) {
    flags.insert(flags.end(),
                 {"--auth=principals", "--principals_file=" + principals_,
                  "--tls_cert=" + pki_.Path("server.pem"),
                  "--tls_key=" + pki_.Path("server.key")});
    daemon_.set_extra_flags(flags);
    ASSERT_NO_FATAL_FAILURE(daemon_.Start());
  }

  // A new channel (its own connection) to the server over TLS, trusting
  // `ca`, presenting the client certificate `client` when not empty.
  std::shared_ptr<grpc::Channel> TlsChannel(const std::string& client,
                                            const std::string& ca = "ca") {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = pki_.Pem(ca);
    if (!client.empty()) {
      ssl.pem_cert_chain = pki_.Pem(client);
      ssl.pem_private_key = pki_.Key(client);
    }
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("sequencer.test.channel", ++channels_);
    return grpc::CreateCustomChannel(daemon_.address(),
                                     grpc::SslCredentials(ssl), args);
  }

  // ListSequences in tenant acme (optionally with a bearer token); `server_cn`
  // receives the common name of the certificate the server presented.
  grpc::Status List(std::shared_ptr<grpc::Channel> channel,
                    const std::string& token = "",
                    const std::string& tenant = kTenantA,
                    std::string* server_cn = nullptr) {
    auto stub = v1::SequenceService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    context.AddMetadata("x-tenant-id", tenant);
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    v1::ListSequencesResponse response;
    grpc::Status status = stub->ListSequences(&context, {}, &response);
    if (server_cn != nullptr && context.auth_context() != nullptr) {
      auto names = context.auth_context()->FindPropertyValues(
          GRPC_X509_CN_PROPERTY_NAME);
      if (!names.empty()) server_cn->assign(names[0].data(), names[0].size());
    }
    return status;
  }

  // Calls List with `client`'s certificate until a call fails (at most 30 s:
  // the server reloads its files on its own schedule); the last status.
  grpc::Status ListUntilRefused(const std::string& client) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    grpc::Status status;
    while (absl::Now() < deadline) {
      status = List(TlsChannel(client));
      if (!status.ok()) break;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return status;
  }

  grpc::Status Create(std::shared_ptr<grpc::Channel> channel) {
    auto stub = v1::SequenceService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    context.AddMetadata("x-tenant-id", kTenantA);
    v1::CreateSequenceRequest request;
    request.set_request_id(NextRequestId());
    request.set_sequence_id("s1");
    request.set_name("Outreach");
    *request.add_steps() = EmailStep(absl::ZeroDuration());
    v1::CreateSequenceResponse response;
    return stub->CreateSequence(&context, request, &response);
  }

  TempDir dir_;
  Pki pki_{dir_.Sub("pki")};
  std::string principals_;
  Daemon daemon_{dir_.Sub("data")};
  int channels_ = 0;
};

TEST_F(TlsTest, TlsServesTokensAndPlaintextFails) {
  ASSERT_NO_FATAL_FAILURE(StartWith({}));
  EXPECT_TRUE(List(TlsChannel(""), "crm-token").ok());
  EXPECT_EQ(List(TlsChannel("")).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // Plaintext reaches no service.
  auto plain = grpc::CreateChannel(daemon_.address(),
                                   grpc::InsecureChannelCredentials());
  EXPECT_EQ(List(plain, "crm-token").error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // A client that does not trust the server's CA does not connect.
  EXPECT_EQ(List(TlsChannel("", "other-ca"), "crm-token").error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, RequiredClientCertificatesNamePrincipals) {
  ASSERT_NO_FATAL_FAILURE(StartWith(
      {"--tls_client_ca=" + pki_.Path("ca.pem"), "--tls_client_auth=require"}));
  // The worker reads but may not create.
  EXPECT_TRUE(List(TlsChannel("worker")).ok());
  grpc::Status create = Create(TlsChannel("worker"));
  EXPECT_EQ(create.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << create.error_message();
  EXPECT_EQ(ErrorInfoOf(create).reason(), "ROLE_FORBIDS");
  EXPECT_TRUE(List(TlsChannel("auditor")).ok());
  // Operator of another tenant: acme is not found.
  grpc::Status other = List(TlsChannel("operator-b"));
  EXPECT_EQ(other.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(other.error_message(), "tenant acme not found");
  EXPECT_TRUE(List(TlsChannel("operator-b"), "", "globex").ok());
  // Signed by the CA but no principal.
  EXPECT_EQ(List(TlsChannel("stranger")).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // No certificate, a certificate from another CA, an expired one: no
  // connection at all (the token does not help).
  EXPECT_EQ(List(TlsChannel(""), "crm-token").error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(List(TlsChannel("impostor")).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(List(TlsChannel("expired")).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, OptionalClientCertificatesLetTokensIn) {
  ASSERT_NO_FATAL_FAILURE(StartWith({"--tls_client_ca=" + pki_.Path("ca.pem"),
                                     "--tls_client_auth=optional"}));
  EXPECT_TRUE(List(TlsChannel(""), "crm-token").ok());
  EXPECT_EQ(List(TlsChannel("")).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  {
    grpc::Status worker = List(TlsChannel("worker"));
    EXPECT_TRUE(worker.ok()) << worker.error_message();
  }
  // A presented certificate is still verified.
  EXPECT_EQ(List(TlsChannel("impostor"), "crm-token").error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(List(TlsChannel("expired"), "crm-token").error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, ARenewedServerCertificateIsServedWithoutARestart) {
  ASSERT_NO_FATAL_FAILURE(StartWith({"--tls_refresh=1s"}));
  std::string cn;
  ASSERT_TRUE(List(TlsChannel(""), "crm-token", kTenantA, &cn).ok());
  EXPECT_EQ(cn, "sequencerd");
  // The renewed certificate, written next to the old and moved over it
  // (key first: the watcher keeps the old pair until both match).
  ASSERT_NO_FATAL_FAILURE(pki_.MakeCert("ca", "renewed", "sequencerd-renewed",
                                        2, "DNS:localhost,IP:127.0.0.1"));
  std::filesystem::rename(pki_.Path("renewed.key"), pki_.Path("server.key"));
  std::filesystem::rename(pki_.Path("renewed.pem"), pki_.Path("server.pem"));
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (cn != "sequencerd-renewed" && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
    cn.clear();
    List(TlsChannel(""), "crm-token", kTenantA, &cn);
  }
  EXPECT_EQ(cn, "sequencerd-renewed");
  EXPECT_TRUE(List(TlsChannel(""), "crm-token").ok());
}

// sequencerctl over TLS: with the CA and a token, or with a client
// certificate (mTLS optional here, so both work against one server).
TEST_F(TlsTest, SequencerctlCallsOverTlsWithATokenOrACertificate) {
  ASSERT_NO_FATAL_FAILURE(StartWith({"--tls_client_ca=" + pki_.Path("ca.pem"),
                                     "--tls_client_auth=optional"}));
  auto run = [&](std::vector<std::string> flags) {
    std::vector<std::string> argv = {SEQUENCERCTL_PATH,
                                     "events",
                                     "--server=" + daemon_.address(),
                                     "--tenant=acme",
                                     "--tls_ca=" + pki_.Path("ca.pem"),
                                     "--tls_server_name=localhost"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto child = ChildProcess::Start(argv, /*merge_stderr=*/true);
    EXPECT_TRUE(child.ok()) << child.status();
    if (!child.ok()) return std::make_pair(-1, std::string());
    absl::StatusOr<std::string> output = (*child)->ReadAll(absl::Seconds(30));
    absl::StatusOr<int> status = (*child)->Wait(absl::Seconds(30));
    EXPECT_TRUE(output.ok() && status.ok());
    return std::make_pair(
        status.ok() && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1,
        output.ok() ? *output : std::string());
  };
  auto [token_code, token_output] = run({"--token=crm-token"});
  EXPECT_EQ(token_code, 0) << token_output;
  auto [cert_code, cert_output] =
      run({"--tls_cert=" + pki_.Path("auditor.pem"),
           "--tls_key=" + pki_.Path("auditor.key")});
  EXPECT_EQ(cert_code, 0) << cert_output;
  auto [none_code, none_output] = run({});
  EXPECT_NE(none_code, 0) << none_output;
  EXPECT_TRUE(absl::StrContains(none_output, "UNAUTHENTICATED") ||
              absl::StrContains(none_output, "no credentials"))
      << none_output;
}

// With --tls_refresh=0 the files are not watched: only SIGHUP makes the
// server read them again. The new certificate comes from a new CA, so a
// client that trusts only the new CA connects only once it is served.
TEST_F(TlsTest, SighupReloadsTheServerCertificate) {
  ASSERT_NO_FATAL_FAILURE(StartWith({"--tls_refresh=0"}));
  std::string cn;
  ASSERT_TRUE(List(TlsChannel(""), "crm-token", kTenantA, &cn).ok());
  EXPECT_EQ(cn, "sequencerd");
  ASSERT_NO_FATAL_FAILURE(pki_.MakeCa("new-ca"));
  ASSERT_NO_FATAL_FAILURE(pki_.MakeCert("new-ca", "renewed",
                                        "sequencerd-renewed", 2,
                                        "DNS:localhost,IP:127.0.0.1"));
  std::filesystem::rename(pki_.Path("renewed.key"), pki_.Path("server.key"));
  std::filesystem::rename(pki_.Path("renewed.pem"), pki_.Path("server.pem"));
  // Not read yet: the old certificate is served.
  EXPECT_EQ(List(TlsChannel("", "new-ca"), "crm-token").error_code(),
            grpc::StatusCode::UNAVAILABLE);
  daemon_.process().Kill(SIGHUP);
  // Served to new connections within a second of the reload (bounded wait).
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  grpc::Status status;
  cn.clear();
  while (absl::Now() < deadline) {
    status = List(TlsChannel("", "new-ca"), "crm-token", kTenantA, &cn);
    if (status.ok()) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(cn, "sequencerd-renewed");
  // A client of the old CA no longer connects.
  EXPECT_EQ(List(TlsChannel("", "ca"), "crm-token").error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

// Principals named by a certificate's subjectAltName: a DNS name (any case)
// or a URI such as a SPIFFE id; the common name keeps working; a certificate
// whose names are given to two principals authenticates no one.
TEST_F(TlsTest, ClientCertificatesNamePrincipalsBySubjectAltName) {
  WriteFile(principals_,
            "name=worker-1 role=worker tenants=acme cert_cn=worker-1\n"
            "name=mailer role=worker tenants=acme "
            "cert_dns=mailer.acme.internal\n"
            "name=sync role=auditor tenants=acme "
            "cert_uri=spiffe://example.org/ns/x/sa/worker "
            "cert_uri=spiffe://example.org/ns/x/sa/sync\n");
  ASSERT_NO_FATAL_FAILURE(
      pki_.MakeCert("ca", "mailer", "cn-of-no-principal", 2,
                    "DNS:other.acme.internal,DNS:Mailer.Acme.Internal"));
  ASSERT_NO_FATAL_FAILURE(
      pki_.MakeCert("ca", "spiffe", "another-cn", 2,
                    "URI:spiffe://example.org/ns/x/sa/worker"));
  ASSERT_NO_FATAL_FAILURE(pki_.MakeCert("ca", "ambiguous", "worker-1", 2,
                                        "DNS:mailer.acme.internal"));
  ASSERT_NO_FATAL_FAILURE(
      pki_.MakeCert("ca", "unknown-uri", "nobody", 2,
                    "URI:spiffe://example.org/ns/x/sa/other"));
  ASSERT_NO_FATAL_FAILURE(StartWith(
      {"--tls_client_ca=" + pki_.Path("ca.pem"), "--tls_client_auth=require"}));

  auto principal_of = [&](const std::string& client) {
    grpc::Status create = Create(TlsChannel(client));
    EXPECT_EQ(create.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << client << ": " << create.error_message();
    return ErrorInfoOf(create).metadata().count("principal")
               ? ErrorInfoOf(create).metadata().at("principal")
               : std::string("(none)");
  };
  EXPECT_TRUE(List(TlsChannel("mailer")).ok());
  EXPECT_EQ(principal_of("mailer"), "mailer");
  EXPECT_TRUE(List(TlsChannel("spiffe")).ok());
  EXPECT_EQ(principal_of("spiffe"), "sync");
  EXPECT_EQ(principal_of("worker"), "worker-1");  // by common name

  grpc::Status ambiguous = List(TlsChannel("ambiguous"));
  EXPECT_EQ(ambiguous.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(absl::StrContains(ambiguous.error_message(), "2 principals"))
      << ambiguous.error_message();
  grpc::Status unknown = List(TlsChannel("unknown-uri"));
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(absl::StrContains(unknown.error_message(),
                                "URI:spiffe://example.org/ns/x/sa/other"))
      << unknown.error_message();
}

// A revoked client certificate (openssl ca -revoke, -gencrl) is refused
// UNAUTHENTICATED on every call (the handshake itself succeeds); the CRL is
// re-read on SIGHUP. A CRL that the client CA did not sign stops the start.
TEST_F(TlsTest, RevokedClientCertificatesAreRefused) {
  ASSERT_NO_FATAL_FAILURE(pki_.RevokeAndPublish("ca", "", "crl.pem"));
  ASSERT_NO_FATAL_FAILURE(pki_.RevokeAndPublish("other-ca", "", "other.crl"));
  {
    const std::string never = dir_.Sub("never");
    auto child = ChildProcess::Start(
        {SEQUENCERD_PATH, "--listen=127.0.0.1:0", "--data_dir=" + never,
         "--auth=principals", "--principals_file=" + principals_,
         "--tls_cert=" + pki_.Path("server.pem"),
         "--tls_key=" + pki_.Path("server.key"),
         "--tls_client_ca=" + pki_.Path("ca.pem"),
         "--tls_crl_file=" + pki_.Path("other.crl")},
        /*merge_stderr=*/true);
    ASSERT_TRUE(child.ok()) << child.status();
    absl::StatusOr<std::string> output = (*child)->ReadAll(absl::Seconds(30));
    absl::StatusOr<int> status = (*child)->Wait(absl::Seconds(30));
    ASSERT_TRUE(output.ok() && status.ok());
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2) << *output;
    EXPECT_TRUE(absl::StrContains(*output, "is not signed by")) << *output;
    EXPECT_FALSE(std::filesystem::exists(never));
  }
  ASSERT_NO_FATAL_FAILURE(StartWith(
      {"--tls_client_ca=" + pki_.Path("ca.pem"), "--tls_client_auth=optional",
       "--tls_crl_file=" + pki_.Path("crl.pem"), "--tls_refresh=0"}));
  EXPECT_TRUE(List(TlsChannel("worker")).ok());
  ASSERT_NO_FATAL_FAILURE(pki_.RevokeAndPublish("ca", "worker", "crl.pem"));
  daemon_.process().Kill(SIGHUP);
  const grpc::Status revoked = ListUntilRefused("worker");
  EXPECT_EQ(revoked.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(absl::StrContains(revoked.error_message(), "is revoked"))
      << revoked.error_message();
  // A bearer token does not help on a connection with a revoked certificate.
  EXPECT_EQ(List(TlsChannel("worker"), "crm-token").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // Others are not affected.
  EXPECT_TRUE(List(TlsChannel("auditor")).ok());
  EXPECT_TRUE(List(TlsChannel(""), "crm-token").ok());
}

// With --tls_refresh the CRL file is watched too: a certificate revoked in a
// newly published CRL is refused without a signal.
TEST_F(TlsTest, ANewlyPublishedCrlIsUsedWithoutASignal) {
  ASSERT_NO_FATAL_FAILURE(pki_.RevokeAndPublish("ca", "", "crl.pem"));
  ASSERT_NO_FATAL_FAILURE(StartWith(
      {"--tls_client_ca=" + pki_.Path("ca.pem"), "--tls_client_auth=optional",
       "--tls_crl_file=" + pki_.Path("crl.pem"), "--tls_refresh=1s"}));
  EXPECT_TRUE(List(TlsChannel("worker")).ok());
  ASSERT_NO_FATAL_FAILURE(pki_.RevokeAndPublish("ca", "worker", "crl.pem"));
  const grpc::Status revoked = ListUntilRefused("worker");
  EXPECT_EQ(revoked.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(List(TlsChannel("auditor")).ok());
}

}  // namespace
}  // namespace sequencer::testing
