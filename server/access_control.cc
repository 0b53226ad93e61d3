#include "server/access_control.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "domain/limits.h"
#include "domain/sequence.h"
#include "google/rpc/error_details.pb.h"
#include "grpc/grpc_security_constants.h"
#include "server/call_context.h"
#include "server/status_conversion.h"

namespace sequencer::server {
namespace {

// Tenants whose buckets are remembered at once; beyond, full buckets are
// forgotten (a full bucket is what a new one starts as).
constexpr size_t kMaxBuckets = 10000;

void AttachErrorInfo(absl::Status& status, absl::string_view reason,
                     std::vector<std::pair<std::string, std::string>> meta) {
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain(kErrorDomain);
  for (auto& [key, value] : meta) (*info.mutable_metadata())[key] = value;
  status.SetPayload(absl::StrCat(kProtoTypeUrlPrefix, "google.rpc.ErrorInfo"),
                    absl::Cord(info.SerializeAsString()));
}

absl::StatusOr<std::string> ReadPrincipalsFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return text.str();
}

absl::StatusOr<std::string> OneHeader(const grpc::ServerContextBase& context,
                                      const char* name, bool* present) {
  auto [begin, end] = context.client_metadata().equal_range(name);
  *present = begin != end;
  if (begin == end) return std::string();
  if (std::next(begin) != end) {
    return absl::UnauthenticatedError(
        absl::StrCat(name, " metadata given more than once"));
  }
  return std::string(begin->second.data(), begin->second.size());
}

absl::StatusOr<const Principal*> Authenticate(
    const PrincipalSet& principals, const grpc::ServerContextBase& context) {
  bool has_token = false;
  absl::StatusOr<std::string> authorization =
      OneHeader(context, kAuthorizationHeader, &has_token);
  if (!authorization.ok()) return authorization.status();
  if (has_token) {
    absl::string_view value = *authorization;
    if (value.size() < 7 ||
        !absl::EqualsIgnoreCase(value.substr(0, 7), "Bearer ")) {
      return absl::UnauthenticatedError(
          "authorization metadata must be 'Bearer <token>'");
    }
    const absl::string_view token = absl::StripAsciiWhitespace(value.substr(7));
    const Principal* principal =
        token.empty() ? nullptr : principals.ByToken(token);
    if (principal == nullptr) {
      return absl::UnauthenticatedError("the bearer token is not valid");
    }
    return principal;
  }
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr) {
    std::vector<grpc::string_ref> type =
        auth->FindPropertyValues(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME);
    // The server requests client certificates only with verification
    // (server/main.cc), so the names here are ones the client CA signed.
    // "tls" with TlsServerCredentials (sequencerd), "ssl" with
    // SslServerCredentials.
    auto all = [&](const char* property) {
      std::vector<std::string> out;
      for (const grpc::string_ref& value : auth->FindPropertyValues(property)) {
        out.emplace_back(value.data(), value.size());
      }
      return out;
    };
    CertificateIdentity certificate;
    std::vector<std::string> names = all(GRPC_X509_CN_PROPERTY_NAME);
    if (names.size() == 1) certificate.common_name = names[0];
    certificate.dns_names = all(GRPC_PEER_DNS_PROPERTY_NAME);
    certificate.uris = all(GRPC_PEER_URI_PROPERTY_NAME);
    const bool has_certificate = !certificate.common_name.empty() ||
                                 !certificate.dns_names.empty() ||
                                 !certificate.uris.empty();
    if (type.size() == 1 &&
        (type[0] == "tls" || type[0] == GRPC_SSL_TRANSPORT_SECURITY_TYPE) &&
        has_certificate) {
      std::string described = absl::StrCat("CN=", certificate.common_name);
      for (const std::string& dns : certificate.dns_names) {
        absl::StrAppend(&described, ", DNS:", dns);
      }
      for (const std::string& uri : certificate.uris) {
        absl::StrAppend(&described, ", URI:", uri);
      }
      std::vector<const Principal*> found =
          principals.ByCertificate(certificate);
      if (found.empty()) {
        return absl::UnauthenticatedError(
            absl::StrCat("the client certificate (", described,
                         ") is not a known principal"));
      }
      if (found.size() > 1) {
        return absl::UnauthenticatedError(
            absl::StrCat("the client certificate (", described, ") names ",
                         found.size(), " principals (", found[0]->name, ", ",
                         found[1]->name, "): give its names to one"));
      }
      return found[0];
    }
  }
  return absl::UnauthenticatedError(
      "no credentials: present a client certificate or 'authorization: "
      "Bearer <token>' metadata");
}

absl::StatusOr<std::string> ActorOf(const Principal& principal,
                                    const grpc::ServerContextBase& context,
                                    absl::string_view method) {
  bool present = false;
  absl::StatusOr<std::string> end_user =
      OneHeader(context, kOnBehalfOfHeader, &present);
  if (!end_user.ok()) return end_user.status();
  if (!present) return principal.name;
  if (!principal.may_act_for) {
    absl::Status status = absl::PermissionDeniedError(
        absl::StrCat("principal ", principal.name, " may not act for others (",
                     kOnBehalfOfHeader, ")"));
    AttachErrorInfo(
        status, "ACT_FOR_FORBIDDEN",
        {{"principal", principal.name}, {"method", std::string(method)}});
    return status;
  }
  std::string actor = absl::StrCat(principal.name, " (for ", *end_user, ")");
  if (end_user->empty() || actor.size() > domain::kMaxActorLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        kOnBehalfOfHeader, ": must be 1 to ",
        domain::kMaxActorLength - principal.name.size() - 8, " characters"));
  }
  for (char c : *end_user) {
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError(absl::StrCat(
          kOnBehalfOfHeader, ": only printable ASCII characters are allowed"));
    }
  }
  return actor;
}

}  // namespace

std::unique_ptr<AccessControl> AccessControl::Development(
    const app::Clock* clock, RateLimit rate) {
  return std::unique_ptr<AccessControl>(
      new AccessControl(/*development=*/true, "", clock, rate));
}

absl::StatusOr<std::unique_ptr<AccessControl>> AccessControl::WithPrincipals(
    std::string principals_file, const app::Clock* clock, RateLimit rate) {
  std::unique_ptr<AccessControl> access(new AccessControl(
      /*development=*/false, std::move(principals_file), clock, rate));
  if (absl::Status loaded = access->Reload(); !loaded.ok()) return loaded;
  return access;
}

AccessControl::~AccessControl() { watcher_.reset(); }

absl::Status AccessControl::Apply(const std::string& text) {
  absl::StatusOr<std::shared_ptr<const PrincipalSet>> parsed =
      PrincipalSet::Parse(text, file_);
  absl::MutexLock lock(&mu_);
  last_text_ = text;
  if (!parsed.ok()) return parsed.status();
  principals_ = *std::move(parsed);
  return absl::OkStatus();
}

absl::Status AccessControl::Reload() {
  if (development_) return absl::OkStatus();
  absl::StatusOr<std::string> text = ReadPrincipalsFile(file_);
  if (!text.ok()) return text.status();
  return Apply(*text);
}

void AccessControl::WatchFile(absl::Duration interval) {
  if (development_ || watcher_ != nullptr) return;
  watcher_ = std::make_unique<PeriodicTask>(interval, [this] { PollFile(); });
}

void AccessControl::PollFile() {
  absl::StatusOr<std::string> text = ReadPrincipalsFile(file_);
  if (!text.ok()) return;  // e.g. between a remove and a rename
  {
    absl::MutexLock lock(&mu_);
    if (*text == last_text_) return;
  }
  if (absl::Status applied = Apply(*text); !applied.ok()) {
    std::fprintf(stderr,
                 "sequencerd: the changed principals file is refused, the "
                 "principals in use stay: %s\n",
                 std::string(applied.message()).c_str());
  } else {
    std::fprintf(stderr,
                 "sequencerd: principals file changed: %zu principals "
                 "reloaded from %s\n",
                 principal_count(), file_.c_str());
  }
}

size_t AccessControl::principal_count() const {
  absl::MutexLock lock(&mu_);
  return principals_ == nullptr ? 0 : principals_->size();
}

absl::StatusOr<Admission> AccessControl::Admit(
    const grpc::ServerContextBase& context, absl::string_view method) {
  const std::optional<Permission> permission = RequiredPermission(method);
  if (!permission.has_value()) {
    // A method without an entry in the table is refused to everyone.
    absl::Status status =
        absl::PermissionDeniedError(absl::StrCat("no role may call ", method));
    AttachErrorInfo(status, "ROLE_FORBIDS", {{"method", std::string(method)}});
    return status;
  }
  if (revocation_ != nullptr) {
    std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
    if (absl::Status valid = revocation_->Check(auth.get()); !valid.ok()) {
      return valid;
    }
  }
  Admission admission;
  admission.tenant_scoped = IsTenantScoped(*permission);
  if (development_) {
    if (*permission != Permission::kAdmin) {
      absl::StatusOr<CallContext> call =
          CallContextFromMetadata(context.client_metadata());
      if (!call.ok()) return call.status();
      admission.call = *std::move(call);
    }
  } else {
    std::shared_ptr<const PrincipalSet> principals;
    {
      absl::MutexLock lock(&mu_);
      principals = principals_;
    }
    absl::StatusOr<const Principal*> principal =
        Authenticate(*principals, context);
    if (!principal.ok()) return principal.status();
    const Principal& who = **principal;
    if (!who.Grants(*permission)) {
      absl::Status status = absl::PermissionDeniedError(
          absl::StrCat("principal ", who.name, " (role ", who.RoleNames(),
                       ") may not call ", method, " (it needs the ",
                       PermissionName(*permission), " permission)"));
      AttachErrorInfo(
          status, "ROLE_FORBIDS",
          {{"principal", who.name},
           {"role", who.RoleNames()},
           {"method", std::string(method)},
           {"permission", std::string(PermissionName(*permission))}});
      return status;
    }
    absl::StatusOr<std::string> actor = ActorOf(who, context, method);
    if (!actor.ok()) return actor.status();
    admission.call.actor = *std::move(actor);
    if (admission.tenant_scoped) {
      bool present = false;
      absl::StatusOr<std::string> tenant =
          OneHeader(context, kTenantHeader, &present);
      if (!tenant.ok()) return tenant.status();
      if (!present) {
        return absl::InvalidArgumentError(
            absl::StrCat(kTenantHeader, ": missing (the tenant to act in)"));
      }
      if (!who.MayUseTenant(*tenant)) {
        // The same answer whether or not the tenant exists.
        return absl::NotFoundError(
            absl::StrCat("tenant ", *tenant, " not found"));
      }
      if (absl::Status valid = domain::ValidateId(kTenantHeader, *tenant);
          !valid.ok()) {
        return valid;
      }
      admission.call.tenant_id = *std::move(tenant);
    }
  }
  if (admission.tenant_scoped && *permission != Permission::kClock &&
      rate_.per_second > 0 &&
      !absl::StartsWith(method, "sequencer.v1.ClockService.")) {
    if (absl::Status taken = TakeToken(admission.call.tenant_id); !taken.ok()) {
      return taken;
    }
  }
  return admission;
}

absl::Status AccessControl::TakeToken(const std::string& tenant) {
  const absl::Time now = clock_->Now();
  const double burst = std::max(1, rate_.burst);
  absl::MutexLock lock(&buckets_mu_);
  auto it = buckets_.find(tenant);
  if (it == buckets_.end()) {
    if (buckets_.size() >= kMaxBuckets) {
      for (auto b = buckets_.begin(); b != buckets_.end();) {
        const double refill =
            absl::ToDoubleSeconds(now - b->second.refilled) * rate_.per_second;
        if (b->second.tokens + refill >= burst) {
          buckets_.erase(b++);
        } else {
          ++b;
        }
      }
    }
    it = buckets_.emplace(tenant, Bucket{burst, now}).first;
  }
  Bucket& bucket = it->second;
  if (now > bucket.refilled) {
    bucket.tokens = std::min(
        burst, bucket.tokens + absl::ToDoubleSeconds(now - bucket.refilled) *
                                   rate_.per_second);
    bucket.refilled = now;
  }
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return absl::OkStatus();
  }
  const absl::Duration wait = absl::Milliseconds(
      std::ceil((1 - bucket.tokens) / rate_.per_second * 1000));
  absl::Status status = absl::ResourceExhaustedError(
      absl::StrCat("tenant ", tenant, " is over its rate limit (",
                   rate_.per_second, " requests per second, burst ",
                   rate_.burst, "); retry after ", absl::FormatDuration(wait)));
  google::rpc::RetryInfo retry;
  retry.mutable_retry_delay()->set_seconds(absl::ToInt64Seconds(wait));
  retry.mutable_retry_delay()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(
          wait - absl::Seconds(absl::ToInt64Seconds(wait)))));
  AttachErrorInfo(status, "RATE_LIMITED", {{"tenant", tenant}});
  status.SetPayload(absl::StrCat(kProtoTypeUrlPrefix, "google.rpc.RetryInfo"),
                    absl::Cord(retry.SerializeAsString()));
  return status;
}

}  // namespace sequencer::server
