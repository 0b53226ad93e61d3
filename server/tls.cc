#include "server/tls.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace sequencer::server {
namespace {

// The names of the served copies in the private directory.
constexpr char kCertCopy[] = "cert.pem";
constexpr char kKeyCopy[] = "key.pem";
constexpr char kClientCaCopy[] = "client-ca.pem";

absl::StatusOr<std::string> ReadPem(const std::string& flag,
                                    const std::string& path,
                                    absl::string_view marker) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  if (!absl::StrContains(text.str(), marker)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", path, " holds no PEM '", marker, "' block"));
  }
  return text.str();
}

struct Files {
  std::string cert;
  std::string key;
  std::string client_ca;
};

absl::StatusOr<Files> ReadChecked(const TlsOptions& options) {
  Files files;
  absl::StatusOr<std::string> cert =
      ReadPem("--tls_cert", options.cert_file, "-----BEGIN CERTIFICATE-----");
  if (!cert.ok()) return cert.status();
  files.cert = *std::move(cert);
  absl::StatusOr<std::string> key =
      ReadPem("--tls_key", options.key_file, "PRIVATE KEY-----");
  if (!key.ok()) return key.status();
  files.key = *std::move(key);
  if (!options.client_ca_file.empty()) {
    absl::StatusOr<std::string> ca =
        ReadPem("--tls_client_ca", options.client_ca_file,
                "-----BEGIN CERTIFICATE-----");
    if (!ca.ok()) return ca.status();
    files.client_ca = *std::move(ca);
  }
  // The key must be the certificate's (a renewal caught between moving the
  // key and the certificate is not served).
  BIO* cert_bio =
      BIO_new_mem_buf(files.cert.data(), static_cast<int>(files.cert.size()));
  X509* x509 = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
  BIO_free(cert_bio);
  BIO* key_bio =
      BIO_new_mem_buf(files.key.data(), static_cast<int>(files.key.size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  BIO_free(key_bio);
  const bool parsed = x509 != nullptr && pkey != nullptr;
  const bool matches = parsed && X509_check_private_key(x509, pkey) == 1;
  X509_free(x509);
  EVP_PKEY_free(pkey);
  if (!parsed) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_cert/--tls_key: ", options.cert_file, " or ",
                     options.key_file, " does not parse"));
  }
  if (!matches) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_key: ", options.key_file, " is not the key of ",
                     options.cert_file));
  }
  return files;
}

// Writes `text` to directory/name through a temporary file and a rename, so
// the watcher never reads half a file.
absl::Status WriteCopy(const std::string& directory, const std::string& name,
                       const std::string& text) {
  const std::string path = directory + "/" + name;
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out.good()) {
      return absl::InternalError(absl::StrCat("cannot write ", temporary));
    }
  }
  ::chmod(temporary.c_str(), 0600);
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot rename ", temporary, ": ", error.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckTlsFiles(const TlsOptions& options) {
  return ReadChecked(options).status();
}

absl::StatusOr<std::unique_ptr<TlsFiles>> TlsFiles::Start(TlsOptions options) {
  std::unique_ptr<TlsFiles> tls(new TlsFiles(std::move(options)));
  absl::StatusOr<Files> files = ReadChecked(tls->options_);
  if (!files.ok()) return files.status();
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = absl::StrCat(
      tmp != nullptr && tmp[0] == '/' ? tmp : "/tmp", "/sequencerd-tls-XXXXXX");
  if (::mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot make a private directory ", pattern));
  }
  tls->directory_ = pattern;
  const std::string& dir = tls->directory_;
  for (const auto& [name, text] :
       {std::make_pair(kKeyCopy, &files->key),
        std::make_pair(kCertCopy, &files->cert),
        std::make_pair(kClientCaCopy, &files->client_ca)}) {
    if (text->empty()) continue;
    if (absl::Status written = WriteCopy(dir, name, *text); !written.ok()) {
      return written;
    }
  }
  {
    absl::MutexLock lock(&tls->mu_);
    tls->last_snapshot_ = tls->Snapshot();
  }
  const TlsOptions& o = tls->options_;
  auto provider =
      std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          dir + "/" + kKeyCopy, dir + "/" + kCertCopy,
          o.client_ca_file.empty() ? "" : dir + "/" + kClientCaCopy,
          /*refresh_interval_sec=*/1);
  grpc::experimental::TlsServerCredentialsOptions credentials(provider);
  credentials.watch_identity_key_cert_pairs();
  if (o.client_ca_file.empty()) {
    credentials.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    credentials.watch_root_certs();
    credentials.set_cert_request_type(
        o.require_client_cert
            ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
            : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  tls->credentials_ = grpc::experimental::TlsServerCredentials(credentials);
  return tls;
}

TlsFiles::~TlsFiles() {
  watcher_.reset();
  if (!directory_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
}

std::string TlsFiles::Snapshot() const {
  std::string out;
  for (const std::string* path :
       {&options_.cert_file, &options_.key_file, &options_.client_ca_file}) {
    if (path->empty()) continue;
    std::ifstream in(*path, std::ios::binary);
    std::stringstream text;
    if (in) text << in.rdbuf();
    absl::StrAppend(&out, text.str().size(), ":", text.str());
  }
  return out;
}

absl::Status TlsFiles::Reload() {
  absl::MutexLock lock(&mu_);
  last_snapshot_ = Snapshot();
  absl::StatusOr<Files> files = ReadChecked(options_);
  if (!files.ok()) return files.status();
  // Key first: until the certificate follows, gRPC's watcher sees a pair
  // that does not match and keeps serving the old one.
  if (absl::Status s = WriteCopy(directory_, kKeyCopy, files->key); !s.ok()) {
    return s;
  }
  if (absl::Status s = WriteCopy(directory_, kCertCopy, files->cert); !s.ok()) {
    return s;
  }
  if (!files->client_ca.empty()) {
    return WriteCopy(directory_, kClientCaCopy, files->client_ca);
  }
  return absl::OkStatus();
}

void TlsFiles::Watch(absl::Duration interval) {
  if (watcher_ != nullptr) return;
  watcher_ = std::make_unique<PeriodicTask>(interval, [this] { PollFiles(); });
}

void TlsFiles::PollFiles() {
  {
    const std::string now = Snapshot();
    absl::MutexLock lock(&mu_);
    if (now == last_snapshot_) return;
  }
  if (absl::Status reloaded = Reload(); !reloaded.ok()) {
    std::fprintf(stderr,
                 "sequencerd: the changed TLS files are refused, the "
                 "ones in use stay: %s\n",
                 std::string(reloaded.message()).c_str());
  } else {
    std::fprintf(stderr, "sequencerd: TLS files changed: reloaded %s\n",
                 options_.cert_file.c_str());
  }
}

}  // namespace sequencer::server
