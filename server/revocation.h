// Revoked client certificates (--tls_crl_file): certificate revocation lists
// of the client CA, checked on every admitted call (AccessControl::Admit)
// against the verified client certificate gRPC reports
// (x509_pem_cert in the call's auth context).
//
// A call whose connection presented a certificate that a list of its issuer
// revokes is UNAUTHENTICATED "the client certificate (serial ...) is revoked",
// whatever else it presents (a bearer token included): the TLS handshake
// itself still succeeds, so health and reflection stay reachable (probes).
// A certificate whose issuer has no list here is not affected.
//
// The file holds one or more PEM X509 CRLs; each must be signed by a
// certificate of the client CA bundle (checked on every load). It is re-read
// on SIGHUP (server/main.cc) and when its content changes (Watch). A file
// that does not load is refused, and the lists in use stay. Thread-safe.

#ifndef SEQUENCER_SERVER_REVOCATION_H_
#define SEQUENCER_SERVER_REVOCATION_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/security/auth_context.h"
#include "server/periodic_task.h"

namespace sequencer::server {

class RevocationLists {
 public:
  // INVALID_ARGUMENT "--tls_crl_file: ..." when the file cannot be read,
  // holds no CRL, or a CRL is not signed by a certificate of `client_ca_file`.
  static absl::StatusOr<std::unique_ptr<RevocationLists>> Load(
      std::string crl_file, std::string client_ca_file);
  ~RevocationLists();

  // Reads the file again; on error the lists in use stay.
  absl::Status Reload();
  // From now on, also reloads when the file's content changes, checked every
  // `interval` (a thread, stopped by the destructor); each reload or refusal
  // is logged on stderr. Call at most once.
  void Watch(absl::Duration interval);

  // OK, or UNAUTHENTICATED when the peer's verified certificate is revoked.
  absl::Status Check(const grpc::AuthContext* auth) const;
  // How many revoked serials the lists hold.
  size_t revoked_count() const;

  struct Lists;  // the parsed file (server/revocation.cc)

 private:
  RevocationLists(std::string crl_file, std::string client_ca_file)
      : crl_file_(std::move(crl_file)),
        client_ca_file_(std::move(client_ca_file)) {}
  absl::Status Apply(const std::string& text);
  // One look at the file: reloads it if its content changed, and logs it.
  void PollFile();

  const std::string crl_file_;
  const std::string client_ca_file_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Lists> lists_ ABSL_GUARDED_BY(mu_);
  std::string last_text_ ABSL_GUARDED_BY(mu_);

  // Set by Watch; destroyed first (declared last), so no poll runs on a
  // half-destroyed object.
  std::unique_ptr<PeriodicTask> watcher_;
};

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_REVOCATION_H_
