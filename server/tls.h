// The server's TLS: its certificate and key and, with a client CA,
// verification of client certificates (mTLS: the certificate's names name the
// principal, server/principals.h). Client certificates are only ever
// requested with verification: a certificate that the CA did not sign, or
// that has expired, fails the handshake.
//
// Reloading without a restart: gRPC serves the files of a private directory
// (made with mkdtemp under $TMPDIR, mode 0700, removed when TlsFiles goes
// away) through a FileWatcherCertificateProvider that looks at them every
// second. TlsFiles puts the operator's files there only after checking them
// (PEM blocks present, the key is the certificate's), at start-up, on Reload
// (sequencerd calls it on SIGHUP) and, with Watch, whenever their content
// changes. So a renewed certificate is served to new connections within a
// second of SIGHUP (or of the change being seen), connections already open
// keep theirs, and a half-written or mismatched pair is refused while the
// pair in use stays.

#ifndef SEQUENCER_SERVER_TLS_H_
#define SEQUENCER_SERVER_TLS_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"
#include "server/periodic_task.h"

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
};

// INVALID_ARGUMENT naming the flag and file when one cannot be read, holds no
// PEM block of the expected kind, or the key is not the certificate's.
absl::Status CheckTlsFiles(const TlsOptions& options);

class TlsFiles {
 public:
  // Checks the files (CheckTlsFiles), copies them into a new private
  // directory and makes the credentials that serve them.
  static absl::StatusOr<std::unique_ptr<TlsFiles>> Start(TlsOptions options);
  ~TlsFiles();

  std::shared_ptr<grpc::ServerCredentials> credentials() const {
    return credentials_;
  }

  // Reads the operator's files again; when they pass CheckTlsFiles, they
  // replace the served copies (new connections get them within a second).
  // On error the files in use stay and the error says why. Thread-safe.
  absl::Status Reload();
  // From now on, also reloads when the content of a file changes, checked
  // every `interval` (a thread, stopped by the destructor); each reload or
  // refusal is logged on stderr. Call at most once.
  void Watch(absl::Duration interval);

 private:
  explicit TlsFiles(TlsOptions options) : options_(std::move(options)) {}
  // The three files' content, as last copied or refused.
  std::string Snapshot() const;
  // One look at the files: reloads them if their content changed, and logs
  // it.
  void PollFiles();

  const TlsOptions options_;
  std::string directory_;
  std::shared_ptr<grpc::ServerCredentials> credentials_;

  absl::Mutex mu_;
  std::string last_snapshot_ ABSL_GUARDED_BY(mu_);

  // Set by Watch; destroyed first (declared last), so no poll runs on a
  // half-destroyed object.
  std::unique_ptr<PeriodicTask> watcher_;
};

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_TLS_H_
