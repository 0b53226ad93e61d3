#include "server/revocation.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpc/grpc_security_constants.h"

namespace sequencer::server {

struct RevocationLists::Lists {
  ~Lists() {
    for (X509_CRL* crl : crls) X509_CRL_free(crl);
  }
  std::vector<X509_CRL*> crls;
  size_t revoked = 0;
};

namespace {

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  }
  return text.str();
}

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};

std::vector<std::unique_ptr<X509, X509Free>> ReadCertificates(
    const std::string& pem) {
  std::vector<std::unique_ptr<X509, X509Free>> out;
  std::unique_ptr<BIO, BioFree> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    out.emplace_back(cert);
  }
  return out;
}

absl::StatusOr<std::shared_ptr<const RevocationLists::Lists>> Parse(
    const std::string& text, const std::string& path,
    const std::string& client_ca_file) {
  auto error = [&](absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_crl_file: ", path, ": ", what));
  };
  absl::StatusOr<std::string> ca_text = ReadWhole(client_ca_file);
  if (!ca_text.ok()) return error(ca_text.status().message());
  const auto cas = ReadCertificates(*ca_text);
  auto lists = std::make_shared<RevocationLists::Lists>();
  std::unique_ptr<BIO, BioFree> bio(
      BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  while (X509_CRL* crl =
             PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
    lists->crls.push_back(crl);
    bool signed_by_ca = false;
    for (const auto& ca : cas) {
      if (X509_NAME_cmp(X509_get_subject_name(ca.get()),
                        X509_CRL_get_issuer(crl)) != 0) {
        continue;
      }
      EVP_PKEY* key = X509_get0_pubkey(ca.get());
      if (key != nullptr && X509_CRL_verify(crl, key) == 1) {
        signed_by_ca = true;
        break;
      }
    }
    if (!signed_by_ca) {
      return error(absl::StrCat("CRL ", lists->crls.size(),
                                " is not signed by a certificate of ",
                                client_ca_file));
    }
    STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
    lists->revoked += revoked == nullptr ? 0 : sk_X509_REVOKED_num(revoked);
  }
  if (lists->crls.empty()) return error("holds no PEM X509 CRL");
  return std::shared_ptr<const RevocationLists::Lists>(std::move(lists));
}

}  // namespace

absl::StatusOr<std::unique_ptr<RevocationLists>> RevocationLists::Load(
    std::string crl_file, std::string client_ca_file) {
  std::unique_ptr<RevocationLists> lists(
      new RevocationLists(std::move(crl_file), std::move(client_ca_file)));
  if (absl::Status loaded = lists->Reload(); !loaded.ok()) return loaded;
  return lists;
}

RevocationLists::~RevocationLists() { watcher_.reset(); }

absl::Status RevocationLists::Apply(const std::string& text) {
  auto parsed = Parse(text, crl_file_, client_ca_file_);
  absl::MutexLock lock(&mu_);
  last_text_ = text;
  if (!parsed.ok()) return parsed.status();
  lists_ = *std::move(parsed);
  return absl::OkStatus();
}

absl::Status RevocationLists::Reload() {
  absl::StatusOr<std::string> text = ReadWhole(crl_file_);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_crl_file: ", text.status().message()));
  }
  return Apply(*text);
}

void RevocationLists::Watch(absl::Duration interval) {
  if (watcher_ != nullptr) return;
  watcher_ = std::make_unique<PeriodicTask>(interval, [this] { PollFile(); });
}

void RevocationLists::PollFile() {
  absl::StatusOr<std::string> text = ReadWhole(crl_file_);
  if (!text.ok()) return;  // e.g. between a remove and a rename
  {
    absl::MutexLock lock(&mu_);
    if (*text == last_text_) return;
  }
  if (absl::Status applied = Apply(*text); !applied.ok()) {
    std::fprintf(stderr,
                 "sequencerd: the changed CRL file is refused, the lists "
                 "in use stay: %s\n",
                 std::string(applied.message()).c_str());
  } else {
    std::fprintf(stderr,
                 "sequencerd: CRL file changed: %zu revoked certificates "
                 "from %s\n",
                 revoked_count(), crl_file_.c_str());
  }
}

size_t RevocationLists::revoked_count() const {
  absl::MutexLock lock(&mu_);
  return lists_ == nullptr ? 0 : lists_->revoked;
}

absl::Status RevocationLists::Check(const grpc::AuthContext* auth) const {
  if (auth == nullptr) return absl::OkStatus();
  std::vector<grpc::string_ref> pem =
      auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pem.empty()) return absl::OkStatus();  // no client certificate
  std::shared_ptr<const Lists> lists;
  {
    absl::MutexLock lock(&mu_);
    lists = lists_;
  }
  const auto certs =
      ReadCertificates(std::string(pem[0].data(), pem[0].size()));
  if (certs.empty()) {
    return absl::UnauthenticatedError(
        "the client certificate could not be read");
  }
  X509* cert = certs[0].get();
  for (X509_CRL* crl : lists->crls) {
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(cert)) !=
        0) {
      continue;
    }
    X509_REVOKED* entry = nullptr;
    if (X509_CRL_get0_by_cert(crl, &entry, cert) == 1) {
      BIGNUM* serial =
          ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
      char* hex = serial == nullptr ? nullptr : BN_bn2hex(serial);
      absl::Status revoked = absl::UnauthenticatedError(
          absl::StrCat("the client certificate (serial ",
                       hex == nullptr ? "?" : hex, ") is revoked"));
      OPENSSL_free(hex);
      BN_free(serial);
      return revoked;
    }
  }
  return absl::OkStatus();
}

}  // namespace sequencer::server
