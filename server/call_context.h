// Who is calling: the tenant (`x-tenant-id`) and the caller's identity
// (`x-actor`) from call metadata. Until authentication arrives both are taken
// as given; both are required and recorded on every event.

#ifndef SEQUENCER_SERVER_CALL_CONTEXT_H_
#define SEQUENCER_SERVER_CALL_CONTEXT_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "app/caller.h"
#include "domain/limits.h"
#include "grpcpp/support/string_ref.h"

namespace sequencer::server {

inline constexpr char kTenantHeader[] = "x-tenant-id";
inline constexpr char kActorHeader[] = "x-actor";

using app::CallContext;

// UNAUTHENTICATED when a header is missing, repeated or malformed (tenant: an
// id as in domain::ValidateId; actor: 1-256 printable ASCII characters).
absl::StatusOr<CallContext> CallContextFromMetadata(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata);

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_CALL_CONTEXT_H_
