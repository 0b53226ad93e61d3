// Who may call what: principals (the callers the server knows, identified by
// a client certificate's subject alternative names or common name, or by a
// bearer token), their roles and tenants, and the one table that says which
// permission each RPC needs.
//
// The principals file (--principals_file) holds one principal a line, as
// space-separated key=value pairs; '#' starts a comment, blank lines are
// ignored:
//
//   name=worker-1 role=worker tenants=acme,globex cert_cn=worker-1
//   name=crm role=operator tenants=acme token_sha256=<64 hex> may_act_for=true
//   name=ops role=admin cert_cn=ops
//   name=mailer role=worker tenants=* cert_dns=mailer.acme.internal
//   name=sync role=operator tenants=acme
//   cert_uri=spiffe://example.org/ns/x/sa/worker
//
//   name         required, unique; recorded as the actor of what it changes
//                (1-128 printable ASCII characters, no spaces)
//   role         required: operator, worker, auditor, admin or clock; several
//                separated by commas (the union of their permissions)
//   tenants      the tenants it may act in, comma separated, or * for all;
//                required unless its roles are only admin and clock
//   cert_cn      a client certificate's subject common name (mTLS; the
//                certificate must be signed by --tls_client_ca)
//   cert_dns     a DNS name in the client certificate's subjectAltName
//                (compared without regard to case; a wildcard such as
//                *.acme.internal matches only that same wildcard entry); may
//                be given more than once
//   cert_uri     a URI in the client certificate's subjectAltName, compared
//                exactly, e.g. a SPIFFE id spiffe://example.org/ns/x/sa/worker
//                (it must have a scheme); may be given more than once
//   token_sha256 the SHA-256 (hex) of a bearer token; may be given more than
//                once (token rotation: old and new during the overlap)
//   may_act_for  true: the principal may name the end user it acts for in
//                `x-on-behalf-of` (recorded as "crm (for alice@acme)")
//
// Every principal needs a cert_cn, cert_dns, cert_uri or token_sha256. Common
// names, DNS names, URIs and token hashes are each unique across the file.
//
// A verified client certificate names the principals that any of its
// identities (each URI and DNS subjectAltName, and the common name) is given
// to: exactly one is the caller; none, or two different ones, and the
// certificate authenticates no one (UNAUTHENTICATED, server/access_control.h).

#ifndef SEQUENCER_SERVER_PRINCIPALS_H_
#define SEQUENCER_SERVER_PRINCIPALS_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sequencer::server {

// What a method needs.
enum class Permission {
  kRead,     // reads of a tenant's sequences and recipients
  kWrite,    // changes to a tenant's sequences and recipients
  kDeliver,  // DeliveryService: lease, begin and report sends
  kAudit,    // AuditService: the tenant's log as recorded
  kClock,    // ClockService/AdvanceTime (--clock=manual only)
  kAdmin,    // AdminService: the whole store, not tenant-scoped
};

enum class Role { kOperator, kWorker, kAuditor, kAdmin, kClock };

absl::string_view PermissionName(Permission permission);
absl::string_view RoleName(Role role);
std::optional<Role> RoleFromName(absl::string_view name);
bool RoleGrants(Role role, Permission permission);
// Whether calls needing `permission` act in one tenant (x-tenant-id).
bool IsTenantScoped(Permission permission);

// The permission a method needs, by its full name
// ("sequencer.v1.SequenceService.CreateSequence"); nullopt for a method the
// table does not know (refused: every sequencer.v1 method has an entry, and
// access_control_test checks it through the descriptor pool).
std::optional<Permission> RequiredPermission(absl::string_view method);

using Sha256 = std::array<uint8_t, 32>;
Sha256 Sha256Of(absl::string_view bytes);
std::string HexOf(const Sha256& digest);

struct Principal {
  std::string name;
  std::set<Role> roles;
  bool all_tenants = false;
  std::set<std::string> tenants;
  std::string cert_cn;
  std::vector<std::string> cert_dns;  // lower case
  std::vector<std::string> cert_uris;
  std::vector<Sha256> token_hashes;
  bool may_act_for = false;

  bool Grants(Permission permission) const;
  bool MayUseTenant(absl::string_view tenant) const;
  // "worker" or "operator,auditor".
  std::string RoleNames() const;
};

// What a verified client certificate says of its holder (gRPC's auth
// context: x509_common_name, peer_dns, peer_uri).
struct CertificateIdentity {
  std::string common_name;
  std::vector<std::string> dns_names;
  std::vector<std::string> uris;
};

// A parsed principals file. Immutable; shared by the calls that use it while
// a reload swaps in the next one.
class PrincipalSet {
 public:
  // INVALID_ARGUMENT "<path>:<line>: <what is wrong>".
  static absl::StatusOr<std::shared_ptr<const PrincipalSet>> Parse(
      absl::string_view text, absl::string_view path);
  static absl::StatusOr<std::shared_ptr<const PrincipalSet>> Load(
      const std::string& path);

  // The principal whose token hashes to the token's SHA-256, comparing every
  // stored hash in constant time; null when none.
  const Principal* ByToken(absl::string_view token) const;
  const Principal* ByCertCommonName(absl::string_view common_name) const;
  // The principals that the certificate's identities are given to, each
  // once, in file order (more than one: the certificate is ambiguous).
  std::vector<const Principal*> ByCertificate(
      const CertificateIdentity& certificate) const;
  size_t size() const { return principals_.size(); }

 private:
  std::vector<Principal> principals_;
  std::map<std::string, size_t, std::less<>> by_cn_;
  std::map<std::string, size_t, std::less<>> by_dns_;
  std::map<std::string, size_t, std::less<>> by_uri_;
};

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_PRINCIPALS_H_
