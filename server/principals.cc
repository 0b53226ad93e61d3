#include "server/principals.h"

#include <openssl/sha.h>

#include <fstream>
#include <set>
#include <sstream>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "domain/sequence.h"

namespace sequencer::server {
namespace {

struct MethodPermission {
  const char* method;
  Permission permission;
};

// Every method of every sequencer.v1 service. A method missing here is
// refused for everyone (access_control_test fails first).
constexpr MethodPermission kMethodPermissions[] = {
    {"sequencer.v1.SequenceService.CreateSequence", Permission::kWrite},
    {"sequencer.v1.SequenceService.GetSequence", Permission::kRead},
    {"sequencer.v1.SequenceService.ListSequences", Permission::kRead},
    {"sequencer.v1.SequenceService.PauseSequence", Permission::kWrite},
    {"sequencer.v1.SequenceService.ResumeSequence", Permission::kWrite},
    {"sequencer.v1.SequenceService.GetSequenceReport", Permission::kRead},
    {"sequencer.v1.RecipientService.EnrollRecipients", Permission::kWrite},
    {"sequencer.v1.RecipientService.GetRecipient", Permission::kRead},
    {"sequencer.v1.RecipientService.ListRecipients", Permission::kRead},
    {"sequencer.v1.RecipientService.PauseRecipient", Permission::kWrite},
    {"sequencer.v1.RecipientService.ResumeRecipient", Permission::kWrite},
    {"sequencer.v1.RecipientService.PreviewSkipStep", Permission::kRead},
    {"sequencer.v1.RecipientService.SkipStep", Permission::kWrite},
    {"sequencer.v1.RecipientService.EditContent", Permission::kWrite},
    {"sequencer.v1.RecipientService.ViewContent", Permission::kRead},
    {"sequencer.v1.RecipientService.StopRecipient", Permission::kWrite},
    {"sequencer.v1.RecipientService.DeleteRecipient", Permission::kWrite},
    {"sequencer.v1.RecipientService.CompleteManualStep", Permission::kWrite},
    {"sequencer.v1.RecipientService.RecordSignal", Permission::kWrite},
    {"sequencer.v1.RecipientService.GetRecipientTimeline", Permission::kRead},
    {"sequencer.v1.RecipientService.BulkAction", Permission::kWrite},
    {"sequencer.v1.DeliveryService.LeaseSteps", Permission::kDeliver},
    {"sequencer.v1.DeliveryService.BeginSend", Permission::kDeliver},
    {"sequencer.v1.DeliveryService.ReportDelivery", Permission::kDeliver},
    {"sequencer.v1.DeliveryService.BeginSends", Permission::kDeliver},
    {"sequencer.v1.DeliveryService.ReportDeliveries", Permission::kDeliver},
    {"sequencer.v1.ClockService.GetTime", Permission::kRead},
    {"sequencer.v1.ClockService.AdvanceTime", Permission::kClock},
    {"sequencer.v1.AuditService.GetRecipientAsOf", Permission::kAudit},
    {"sequencer.v1.AuditService.ReadEvents", Permission::kAudit},
    // The tenant's events as recorded, contact fields and content included.
    {"sequencer.v1.SubscriptionService.SubscribeEvents", Permission::kAudit},
    {"sequencer.v1.SubscriptionService.SubscribeEventBatches",
     Permission::kAudit},
    {"sequencer.v1.AdminService.Backup", Permission::kAdmin},
    {"sequencer.v1.AdminService.VerifyStore", Permission::kAdmin},
};

struct RoleEntry {
  Role role;
  const char* name;
};
constexpr RoleEntry kRoles[] = {
    {Role::kOperator, "operator"}, {Role::kWorker, "worker"},
    {Role::kAuditor, "auditor"},   {Role::kAdmin, "admin"},
    {Role::kClock, "clock"},
};

absl::Status LineError(absl::string_view path, int line,
                       absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": ", what));
}

bool IsPrintableWord(absl::string_view text) {
  if (text.empty() || text.size() > 128) return false;
  for (char c : text) {
    if (c <= 0x20 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

absl::string_view PermissionName(Permission permission) {
  switch (permission) {
    case Permission::kRead:
      return "read";
    case Permission::kWrite:
      return "write";
    case Permission::kDeliver:
      return "deliver";
    case Permission::kAudit:
      return "audit";
    case Permission::kClock:
      return "clock";
    case Permission::kAdmin:
      return "admin";
  }
  return "unknown";
}

absl::string_view RoleName(Role role) {
  for (const RoleEntry& entry : kRoles) {
    if (entry.role == role) return entry.name;
  }
  return "unknown";
}

std::optional<Role> RoleFromName(absl::string_view name) {
  for (const RoleEntry& entry : kRoles) {
    if (entry.name == name) return entry.role;
  }
  return std::nullopt;
}

bool RoleGrants(Role role, Permission permission) {
  switch (role) {
    case Role::kOperator:
      return permission == Permission::kRead ||
             permission == Permission::kWrite ||
             permission == Permission::kDeliver ||
             permission == Permission::kAudit;
    case Role::kWorker:
      return permission == Permission::kRead ||
             permission == Permission::kDeliver;
    case Role::kAuditor:
      return permission == Permission::kRead ||
             permission == Permission::kAudit;
    case Role::kAdmin:
      return permission == Permission::kAdmin;
    case Role::kClock:
      return permission == Permission::kClock;
  }
  return false;
}

bool IsTenantScoped(Permission permission) {
  return permission != Permission::kAdmin && permission != Permission::kClock;
}

std::optional<Permission> RequiredPermission(absl::string_view method) {
  for (const MethodPermission& entry : kMethodPermissions) {
    if (entry.method == method) return entry.permission;
  }
  return std::nullopt;
}

Sha256 Sha256Of(absl::string_view bytes) {
  Sha256 digest;
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
         digest.data());
  return digest;
}

std::string HexOf(const Sha256& digest) {
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(digest.data()), digest.size()));
}

bool Principal::Grants(Permission permission) const {
  for (Role role : roles) {
    if (RoleGrants(role, permission)) return true;
  }
  return false;
}

bool Principal::MayUseTenant(absl::string_view tenant) const {
  return all_tenants || tenants.count(std::string(tenant)) > 0;
}

std::string Principal::RoleNames() const {
  std::vector<absl::string_view> names;
  for (Role role : roles) names.push_back(RoleName(role));
  return absl::StrJoin(names, ",");
}

absl::StatusOr<std::shared_ptr<const PrincipalSet>> PrincipalSet::Parse(
    absl::string_view text, absl::string_view path) {
  auto set = std::make_shared<PrincipalSet>();
  std::set<std::string> names;
  std::set<Sha256> hashes;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (const size_t hash = line.find('#'); hash != absl::string_view::npos) {
      line = line.substr(0, hash);
    }
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    Principal principal;
    bool has_tenants = false;
    bool has_role = false;
    for (absl::string_view pair :
         absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
      const size_t equals = pair.find('=');
      if (equals == absl::string_view::npos) {
        return LineError(path, line_number,
                         absl::StrCat("expected key=value, got '", pair, "'"));
      }
      const absl::string_view key = pair.substr(0, equals);
      const absl::string_view value = pair.substr(equals + 1);
      if (key == "name") {
        if (!principal.name.empty()) {
          return LineError(path, line_number, "name given twice");
        }
        if (!IsPrintableWord(value)) {
          return LineError(path, line_number,
                           "name must be 1 to 128 printable ASCII characters");
        }
        principal.name = std::string(value);
      } else if (key == "role") {
        has_role = true;
        for (absl::string_view name : absl::StrSplit(value, ',')) {
          std::optional<Role> role = RoleFromName(name);
          if (!role.has_value()) {
            return LineError(
                path, line_number,
                absl::StrCat("unknown role '", name,
                             "' (operator, worker, auditor, admin, clock)"));
          }
          principal.roles.insert(*role);
        }
      } else if (key == "tenants") {
        has_tenants = true;
        for (absl::string_view tenant : absl::StrSplit(value, ',')) {
          if (tenant == "*") {
            principal.all_tenants = true;
            continue;
          }
          if (absl::Status valid = domain::ValidateId("tenants", tenant);
              !valid.ok()) {
            return LineError(path, line_number, valid.message());
          }
          principal.tenants.insert(std::string(tenant));
        }
      } else if (key == "cert_cn") {
        if (!principal.cert_cn.empty()) {
          return LineError(path, line_number, "cert_cn given twice");
        }
        if (value.empty()) {
          return LineError(path, line_number, "cert_cn is empty");
        }
        principal.cert_cn = std::string(value);
      } else if (key == "cert_dns") {
        if (value.empty()) {
          return LineError(path, line_number, "cert_dns is empty");
        }
        principal.cert_dns.push_back(absl::AsciiStrToLower(value));
      } else if (key == "cert_uri") {
        const size_t colon = value.find(':');
        if (colon == absl::string_view::npos || colon == 0 ||
            colon + 1 == value.size()) {
          return LineError(path, line_number,
                           "cert_uri must be a URI with a scheme, e.g. "
                           "spiffe://example.org/ns/x/sa/worker");
        }
        principal.cert_uris.push_back(std::string(value));
      } else if (key == "token_sha256") {
        std::string bytes;
        if (value.size() != 64 || !absl::c_all_of(value, [](char c) {
              return absl::ascii_isxdigit(static_cast<unsigned char>(c));
            })) {
          return LineError(path, line_number,
                           "token_sha256 must be 64 hexadecimal digits");
        }
        bytes = absl::HexStringToBytes(value);
        Sha256 digest;
        std::copy(bytes.begin(), bytes.end(), digest.begin());
        if (!hashes.insert(digest).second) {
          return LineError(path, line_number,
                           "this token_sha256 is given to another principal "
                           "(or twice)");
        }
        principal.token_hashes.push_back(digest);
      } else if (key == "may_act_for") {
        if (value != "true" && value != "false") {
          return LineError(path, line_number,
                           "may_act_for must be true or false");
        }
        principal.may_act_for = value == "true";
      } else {
        return LineError(
            path, line_number,
            absl::StrCat("unknown key '", key,
                         "' (name, role, tenants, cert_cn, cert_dns, "
                         "cert_uri, token_sha256, may_act_for)"));
      }
    }
    if (principal.name.empty()) {
      return LineError(path, line_number, "name is missing");
    }
    if (!names.insert(principal.name).second) {
      return LineError(
          path, line_number,
          absl::StrCat("principal '", principal.name, "' is named twice"));
    }
    if (!has_role || principal.roles.empty()) {
      return LineError(path, line_number, "role is missing");
    }
    bool needs_tenant = false;
    for (Role role : principal.roles) {
      needs_tenant |= role != Role::kAdmin && role != Role::kClock;
    }
    if (needs_tenant && (!has_tenants || (principal.tenants.empty() &&
                                          !principal.all_tenants))) {
      return LineError(path, line_number,
                       "tenants is missing (a list of tenant ids, or *)");
    }
    if (principal.cert_cn.empty() && principal.cert_dns.empty() &&
        principal.cert_uris.empty() && principal.token_hashes.empty()) {
      return LineError(path, line_number,
                       "a principal needs a cert_cn, cert_dns, cert_uri or "
                       "token_sha256");
    }
    for (const auto& [key, values, index] :
         {std::make_tuple("cert_dns", &principal.cert_dns, &set->by_dns_),
          std::make_tuple("cert_uri", &principal.cert_uris, &set->by_uri_)}) {
      for (const std::string& value : *values) {
        auto [it, added] = index->emplace(value, set->principals_.size());
        if (!added) {
          return LineError(path, line_number,
                           absl::StrCat(key, " '", value,
                                        it->second == set->principals_.size()
                                            ? "' is given twice"
                                            : "' is given to two principals"));
        }
      }
    }
    if (!principal.cert_cn.empty()) {
      if (set->by_cn_.count(principal.cert_cn) > 0) {
        return LineError(path, line_number,
                         absl::StrCat("cert_cn '", principal.cert_cn,
                                      "' is given to two principals"));
      }
      set->by_cn_[principal.cert_cn] = set->principals_.size();
    }
    set->principals_.push_back(std::move(principal));
  }
  return std::shared_ptr<const PrincipalSet>(std::move(set));
}

absl::StatusOr<std::shared_ptr<const PrincipalSet>> PrincipalSet::Load(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return Parse(text.str(), path);
}

const Principal* PrincipalSet::ByToken(absl::string_view token) const {
  const Sha256 presented = Sha256Of(token);
  const Principal* found = nullptr;
  // Every hash is compared whole, so the time taken does not tell which
  // bytes matched.
  for (const Principal& principal : principals_) {
    for (const Sha256& stored : principal.token_hashes) {
      uint8_t difference = 0;
      for (size_t i = 0; i < stored.size(); ++i) {
        difference |= static_cast<uint8_t>(stored[i] ^ presented[i]);
      }
      if (difference == 0) found = &principal;
    }
  }
  return found;
}

std::vector<const Principal*> PrincipalSet::ByCertificate(
    const CertificateIdentity& certificate) const {
  std::set<size_t> found;
  for (const std::string& uri : certificate.uris) {
    if (auto it = by_uri_.find(uri); it != by_uri_.end()) {
      found.insert(it->second);
    }
  }
  for (const std::string& dns : certificate.dns_names) {
    if (auto it = by_dns_.find(absl::AsciiStrToLower(dns));
        it != by_dns_.end()) {
      found.insert(it->second);
    }
  }
  if (!certificate.common_name.empty()) {
    if (auto it = by_cn_.find(certificate.common_name); it != by_cn_.end()) {
      found.insert(it->second);
    }
  }
  std::vector<const Principal*> out;
  for (size_t i : found) out.push_back(&principals_[i]);
  return out;
}

const Principal* PrincipalSet::ByCertCommonName(
    absl::string_view common_name) const {
  auto it = by_cn_.find(common_name);
  return it == by_cn_.end() ? nullptr : &principals_[it->second];
}

}  // namespace sequencer::server
