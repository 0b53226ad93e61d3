// Runs a unary callback-API handler: establishes the CallContext from metadata,
// runs `handler`, and finishes the call with the status converted in the one
// place (server/status_conversion.h).

#ifndef SEQUENCER_SERVER_UNARY_CALL_H_
#define SEQUENCER_SERVER_UNARY_CALL_H_

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "server/call_context.h"
#include "server/status_conversion.h"

namespace sequencer::server {

// `handler` is called as absl::Status(const CallContext&).
template <typename Handler>
grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* context,
                                   Handler&& handler) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<CallContext> call =
      CallContextFromMetadata(context->client_metadata());
  const absl::Status status = call.ok() ? handler(*call) : call.status();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_UNARY_CALL_H_
