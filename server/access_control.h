// Who may make a call: every sequencer.v1 call is admitted here, once, by
// DecodingService (server/unary_call.h) before its handler runs; health and
// reflection are not sequencer.v1 services and stay open.
//
// Development mode (--auth=dev) keeps the header-based behaviour: the tenant
// and actor are taken from `x-tenant-id` and `x-actor` as given, and every
// method is allowed. For local use only; sequencerd warns at start-up and
// reports it in health (kDevelopmentModeHealthService).
//
// Principals mode (--auth=principals) authenticates the caller as a principal
// of the principals file (server/principals.h): by a bearer token
// (`authorization: Bearer <token>`) when one is sent, else by the verified
// client certificate (mTLS): its URI and DNS subjectAltNames and common name,
// matched as server/principals.h says. Then:
//   - no or unknown credentials: UNAUTHENTICATED;
//   - a role that does not grant the method's permission: PERMISSION_DENIED
//     with a google.rpc.ErrorInfo (reason ROLE_FORBIDS, metadata principal,
//     role and method);
//   - a tenant (`x-tenant-id`) the principal may not act in: NOT_FOUND
//     "tenant <id> not found", whether or not the tenant exists;
//   - `x-on-behalf-of` from a principal without may_act_for:
//     PERMISSION_DENIED (reason ACT_FOR_FORBIDDEN).
// The actor recorded is the principal's name, or "<name> (for <end user>)"
// when a principal with may_act_for names the end user; `x-actor` is ignored.
//
// Both modes: with revocation lists (SetRevocationLists, --tls_crl_file), a
// call whose client certificate is revoked is UNAUTHENTICATED first
// (server/revocation.h).
//
// Both modes: with a tenant rate (requests per second) each tenant has a token
// bucket of `burst` requests, refilled on the server's clock; a call beyond it
// is RESOURCE_EXHAUSTED with google.rpc.RetryInfo (when a token will be
// there) and ErrorInfo reason RATE_LIMITED. ClockService is not limited.
// Thread-safe.

#ifndef SEQUENCER_SERVER_ACCESS_CONTROL_H_
#define SEQUENCER_SERVER_ACCESS_CONTROL_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "app/caller.h"
#include "app/runtime/clock.h"
#include "grpcpp/server_context.h"
#include "server/periodic_task.h"
#include "server/principals.h"
#include "server/revocation.h"

namespace sequencer::server {

inline constexpr char kAuthorizationHeader[] = "authorization";
inline constexpr char kOnBehalfOfHeader[] = "x-on-behalf-of";
// Registered with the health service (SERVING) only in development mode, so
// probes and operators can see it: grpc.health.v1.Health/Check with this
// service name answers NOT_FOUND in principals mode.
inline constexpr char kDevelopmentModeHealthService[] =
    "sequencer.auth.DEVELOPMENT_MODE_NO_AUTHENTICATION";

struct RateLimit {
  // Requests per second per tenant; 0: no limit.
  double per_second = 0;
  // Requests a tenant may make at once after being idle (at least 1).
  int burst = 1;
};

// A call let in: for tenant-scoped methods, the tenant and actor to record.
struct Admission {
  app::CallContext call;
  bool tenant_scoped = true;
};

class AccessControl {
 public:
  // `clock` (for the rate limit) must outlive the AccessControl.
  static std::unique_ptr<AccessControl> Development(const app::Clock* clock,
                                                    RateLimit rate = {});
  // Loads the principals file; its error when it cannot be read or parsed.
  static absl::StatusOr<std::unique_ptr<AccessControl>> WithPrincipals(
      std::string principals_file, const app::Clock* clock,
      RateLimit rate = {});

  bool development() const { return development_; }

  // Checks every admitted call's client certificate against `lists` (which
  // must outlive this). Call before the server serves.
  void SetRevocationLists(const RevocationLists* lists) { revocation_ = lists; }

  // Reads the principals file again (principals mode; a no-op in development
  // mode). On error the principals in use stay, and the error says why.
  absl::Status Reload();
  // From now on, also reloads the principals file when its content changes,
  // checked every `interval` (a thread; stopped by the destructor). Each
  // reload, or refusal of a changed file, is logged on stderr. Principals
  // mode only; call at most once.
  void WatchFile(absl::Duration interval);
  ~AccessControl();
  // How many principals are in use (0 in development mode).
  size_t principal_count() const;

  // Admits a call of `method` (full name,
  // "sequencer.v1.SequenceService.CreateSequence") or says why not (see the
  // file comment).
  absl::StatusOr<Admission> Admit(const grpc::ServerContextBase& context,
                                  absl::string_view method);

 private:
  AccessControl(bool development, std::string file, const app::Clock* clock,
                RateLimit rate)
      : development_(development),
        file_(std::move(file)),
        clock_(clock),
        rate_(rate) {}

  absl::Status TakeToken(const std::string& tenant);
  // Parses `text` (the file's content) and swaps it in.
  absl::Status Apply(const std::string& text);
  // One look at the file: reloads it if its content changed, and logs it.
  void PollFile();

  const bool development_;
  const std::string file_;
  const app::Clock* const clock_;
  const RateLimit rate_;
  const RevocationLists* revocation_ = nullptr;

  mutable absl::Mutex mu_;
  std::shared_ptr<const PrincipalSet> principals_ ABSL_GUARDED_BY(mu_);
  // The file's content last loaded or refused (the watcher acts on changes).
  std::string last_text_ ABSL_GUARDED_BY(mu_);

  struct Bucket {
    double tokens = 0;
    absl::Time refilled;
  };
  absl::Mutex buckets_mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_
      ABSL_GUARDED_BY(buckets_mu_);

  // Set by WatchFile; destroyed first (declared last), so no poll runs on a
  // half-destroyed object.
  std::unique_ptr<PeriodicTask> watcher_;
};

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_ACCESS_CONTROL_H_
