#include "server/call_context.h"

#include "absl/strings/str_cat.h"
#include "domain/limits.h"
#include "domain/sequence.h"

namespace sequencer::server {
namespace {

absl::StatusOr<std::string> SingleHeader(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
    const char* name) {
  auto [begin, end] = metadata.equal_range(name);
  if (begin == end) {
    return absl::UnauthenticatedError(
        absl::StrCat("missing ", name, " metadata"));
  }
  if (std::next(begin) != end) {
    return absl::UnauthenticatedError(
        absl::StrCat(name, " metadata given more than once"));
  }
  return std::string(begin->second.data(), begin->second.size());
}

}  // namespace

absl::StatusOr<CallContext> CallContextFromMetadata(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
  CallContext context;
  auto tenant = SingleHeader(metadata, kTenantHeader);
  if (!tenant.ok()) return tenant.status();
  if (absl::Status valid = domain::ValidateId(kTenantHeader, *tenant);
      !valid.ok()) {
    return absl::UnauthenticatedError(valid.message());
  }
  auto actor = SingleHeader(metadata, kActorHeader);
  if (!actor.ok()) return actor.status();
  if (actor->empty() || actor->size() > domain::kMaxActorLength) {
    return absl::UnauthenticatedError(
        absl::StrCat(kActorHeader, ": must be 1 to ", domain::kMaxActorLength,
                     " characters"));
  }
  for (char c : *actor) {
    if (c < 0x20 || c > 0x7e) {
      return absl::UnauthenticatedError(absl::StrCat(
          kActorHeader, ": only printable ASCII characters are allowed"));
    }
  }
  context.tenant_id = *std::move(tenant);
  context.actor = *std::move(actor);
  return context;
}

}  // namespace sequencer::server
