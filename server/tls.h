// The server's TLS: its certificate and key (reloaded when the files change,
// checked every `refresh`, so a renewed certificate is served to new
// connections without a restart) and, with a client CA, verification of
// client certificates (mTLS: the common name names the principal,
// server/principals.h). Client certificates are only ever requested with
// verification: a certificate that the CA did not sign, or that has expired,
// fails the handshake.

#ifndef SEQUENCER_SERVER_TLS_H_
#define SEQUENCER_SERVER_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"

namespace sequencer::server {

struct TlsOptions {
  std::string cert_file;  // PEM certificate chain
  std::string key_file;   // PEM private key
  // PEM CA bundle that signs client certificates; empty: no client
  // certificates are requested.
  std::string client_ca_file;
  // With a client CA: whether a client must present a certificate (require)
  // or may authenticate otherwise, e.g. with a bearer token (optional).
  bool require_client_cert = true;
  // How often the files are checked for changes (whole seconds, at least 1).
  absl::Duration refresh = absl::Seconds(1);
};

// INVALID_ARGUMENT naming the file when one cannot be read or holds no PEM
// block of the expected kind (checked at start-up: the file watcher itself
// would only log).
absl::Status CheckTlsFiles(const TlsOptions& options);

std::shared_ptr<grpc::ServerCredentials> MakeTlsServerCredentials(
    const TlsOptions& options);

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_TLS_H_
