// Runs a unary callback-API handler on a WorkerPool (inline when the pool is
// null): establishes the CallContext from metadata, runs `handler`, and
// finishes the call with the status converted in the one place
// (server/status_conversion.h). The request and response stay valid until the
// call finishes, so `handler` may capture their pointers.

#ifndef SEQUENCER_SERVER_UNARY_CALL_H_
#define SEQUENCER_SERVER_UNARY_CALL_H_

#include <utility>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "server/call_context.h"
#include "server/status_conversion.h"
#include "server/worker_pool.h"

namespace sequencer::server {

// `handler` is called as absl::Status(const CallContext&).
template <typename Handler>
grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* context,
                                   WorkerPool* pool, Handler handler) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto run = [context, reactor, handler = std::move(handler)]() mutable {
    absl::StatusOr<CallContext> call =
        CallContextFromMetadata(context->client_metadata());
    const absl::Status status = call.ok() ? handler(*call) : call.status();
    reactor->Finish(ToGrpcStatus(status));
  };
  if (pool == nullptr) {
    run();
  } else {
    pool->Schedule(std::move(run));
  }
  return reactor;
}

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_UNARY_CALL_H_
