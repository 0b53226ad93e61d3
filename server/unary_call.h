// How the sequencer.v1 services take unary calls.
//
// RunUnary runs a unary callback-API handler on a WorkerPool (inline when the
// pool is null): takes the CallContext DecodingService admitted the call with
// (server/access_control.h), runs `handler`,
// and finishes the call with the status converted in the one place
// (server/status_conversion.h). The request and response stay valid until the
// call finishes, so `handler` may capture their pointers.
//
// DecodingService is the base of every sequencer.v1 service implementation
// (thread-safety and lifetimes as for any gRPC callback service):
// it admits every call through its AccessControl (authentication, roles,
// tenants, rate limits: one place for every method) and
// decodes requests itself, so a request that cannot be decoded (not valid
// protobuf, or a string field with invalid UTF-8) is answered INVALID_ARGUMENT
// "the request could not be decoded as <message type>" instead of gRPC's own
// UNIMPLEMENTED with no message. The handlers stay typed and the services stay
// registered as they are (reflection lists and describes them).

#ifndef SEQUENCER_SERVER_UNARY_CALL_H_
#define SEQUENCER_SERVER_UNARY_CALL_H_

#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "app/runtime/worker_pool.h"
#include "google/protobuf/descriptor.h"
#include "grpc/support/log.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/codegen/server_callback_handlers.h"
#include "server/access_control.h"
#include "server/call_context.h"
#include "server/request_budget.h"
#include "server/status_conversion.h"

namespace sequencer::server {

// The admission of the call whose method DecodingService is starting on this
// thread (set only while the method's handler function runs, before it
// returns its reactor); null elsewhere.
const Admission* CurrentAdmission();

// Sets CurrentAdmission() for its lifetime.
class AdmissionScope {
 public:
  explicit AdmissionScope(const Admission* admission);
  ~AdmissionScope();
  AdmissionScope(const AdmissionScope&) = delete;
  AdmissionScope& operator=(const AdmissionScope&) = delete;

 private:
  const Admission* previous_;
};

// The tenant and actor of the call being started (CurrentAdmission()), or
// UNAUTHENTICATED when no call was admitted on this thread. Handlers read it
// before they return their reactor.
absl::StatusOr<CallContext> AdmittedCallContext();

// The call's deadline in real time; InfiniteFuture when it has none.
absl::Time DeadlineOf(const grpc::CallbackServerContext& context);

// The call's stop check (app::StopCheck, app/runtime/read_deadline.h): true
// once its deadline has passed or it was cancelled (the client went away).
// Valid while the call runs.
app::StopCheck StopCheckOf(grpc::CallbackServerContext* context);

// Test hook (sequencerd --testing_hold_long_reads): a long read's first ask
// of StopCheckOf waits until the call's deadline has passed, as a read longer
// than the deadline would, so that a test through the real daemon sees the
// read stop for its deadline without a store large enough to take that long.
// Calls without a deadline are not held.
void HoldLongReadsForTesting(bool hold);

// `handler` is called as absl::Status(const CallContext&). The CallContext
// carries the call's deadline and its stop check: a change is not committed
// after the deadline, and long reads stop with DEADLINE_EXCEEDED once the
// caller stopped waiting.
template <typename Handler>
grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* context,
                                   app::WorkerPool* pool, Handler handler) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<CallContext> admitted = AdmittedCallContext();
  if (admitted.ok()) {
    admitted->deadline = DeadlineOf(*context);
    admitted->stopped_waiting = StopCheckOf(context);
  }
  auto run = [reactor, call = std::move(admitted),
              handler = std::move(handler)]() mutable {
    absl::Status status = call.status();
    if (call.ok() && call->deadline != absl::InfiniteFuture() &&
        absl::Now() >= call->deadline) {
      // It waited for a worker thread past its deadline.
      status = absl::DeadlineExceededError(
          "the call's deadline passed before it ran; nothing was done");
    } else if (call.ok()) {
      status = handler(*call);
    }
    reactor->Finish(ToGrpcStatus(status));
  };
  if (pool == nullptr) {
    run();
  } else {
    pool->Schedule(std::move(run));
  }
  return reactor;
}

// RunUnary for calls that act for an operator on the whole service, not for a
// tenant (AdminService): no CallContext is used (the call was admitted by its
// principal's role alone). `handler` is called as absl::Status(); long ones
// take StopCheckOf(context) themselves.
template <typename Handler>
grpc::ServerUnaryReactor* RunOperatorUnary(grpc::CallbackServerContext* context,
                                           app::WorkerPool* pool,
                                           Handler handler) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const bool admitted = CurrentAdmission() != nullptr;
  auto run = [reactor, admitted, handler = std::move(handler)]() mutable {
    reactor->Finish(ToGrpcStatus(
        admitted ? handler()
                 : absl::UnauthenticatedError("the call was not admitted")));
  };
  if (pool == nullptr) {
    run();
  } else {
    pool->Schedule(std::move(run));
  }
  return reactor;
}

// A request as the services receive it: the message, or why its bytes could
// not be decoded.
template <typename Request>
struct DecodedRequest {
  Request message;
  // INVALID_ARGUMENT naming Request's type when the bytes are not a Request.
  absl::Status status;
  // The request's size on the wire, and its hold on the RequestBudget while
  // the call runs (released when gRPC destroys the request, at the call's
  // end).
  size_t wire_bytes = 0;
  mutable RequestBudget::Hold budget_hold;
};

// Why `bytes` are not a valid serialized `type`: "field <path> holds invalid
// UTF-8" (path like "recipients[2].variables.value"), "not valid protobuf",
// or, when neither is found, a generic reason.
std::string WhyUndecodable(const grpc::ByteBuffer& bytes,
                           const google::protobuf::Descriptor* type);

// Decodes `buffer` (consumed) into `message`. INVALID_ARGUMENT "the request
// could not be decoded as <type>: <WhyUndecodable>" when it is absent, not
// valid protobuf, or has a string field with invalid UTF-8.
template <typename Request>
absl::Status DecodeRequest(grpc::ByteBuffer* buffer, Request* message) {
  if (!buffer->Valid()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the request could not be decoded as ",
                     Request::descriptor()->full_name(), ": no message"));
  }
  const grpc::ByteBuffer bytes(*buffer);  // shares the slices; for the error
  if (grpc::SerializationTraits<Request>::Deserialize(buffer, message).ok()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("the request could not be decoded as ",
                   Request::descriptor()->full_name(), ": ",
                   WhyUndecodable(bytes, Request::descriptor())));
}

// Trailing metadata that names an admitted call: the actor as recorded on
// its events (kActorTrailer) and, for requests with a request id, that id
// (kRequestIdTrailer), when they are printable ASCII of at most 256 bytes.
// The call log (server/observability.h) reads them; the caller sees its own.
inline constexpr char kActorTrailer[] = "x-sequencer-actor";
inline constexpr char kRequestIdTrailer[] = "x-request-id";

inline bool PrintableTrailer(absl::string_view value) {
  if (value.empty() || value.size() > 256) return false;
  for (char c : value) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

template <typename Request, typename = void>
struct HasRequestId : std::false_type {};
template <typename Request>
struct HasRequestId<Request,
                    std::void_t<decltype(std::declval<Request>().request_id())>>
    : std::true_type {};

template <typename Request>
void AddCallTrailers(grpc::CallbackServerContext* context,
                     absl::string_view actor, const Request& request) {
  if (PrintableTrailer(actor)) {
    context->AddTrailingMetadata(kActorTrailer, std::string(actor));
  }
  if constexpr (HasRequestId<Request>::value) {
    if (PrintableTrailer(request.request_id())) {
      context->AddTrailingMetadata(kRequestIdTrailer, request.request_id());
    }
  }
}

// Base of a sequencer.v1 service implementation: `Generated` is the generated
// service class (e.g. v1::SequenceService). The implementation overrides the
// typed callback methods as usual and, in its constructor, calls
// ControlAccess, then DecodeRequestsOf (DecodeStreamingRequestsOf for a
// server-streaming one) once per method (after LimitRequestBytes, when the
// service's calls count against a RequestBudget). Calls of a service without
// an AccessControl are refused (UNAVAILABLE).
template <typename Generated>
class DecodingService : public Generated::CallbackService {
 protected:
  // Calls decoded from now on are admitted by `budget` (by their size on the
  // wire) before they run, or answered RESOURCE_EXHAUSTED ("busy"). Null
  // admits everything. `budget` must outlive the service.
  void LimitRequestBytes(RequestBudget* budget) { budget_ = budget; }
  // Calls decoded from now on are admitted by `access` (which must outlive
  // the service) before their budget is taken and their handler runs.
  void ControlAccess(AccessControl* access) { access_ = access; }

  // From now on, calls to `method_name` are decoded here and, when the bytes
  // are a Request, passed to `method` (with the same arguments as gRPC would);
  // otherwise answered INVALID_ARGUMENT (DecodeRequest). Aborts at start-up
  // when the service has no such method or its types differ.
  template <typename Impl, typename Request, typename Response>
  void DecodeRequestsOf(
      const char* method_name,
      grpc::ServerUnaryReactor* (Impl::*method)(grpc::CallbackServerContext*,
                                                const Request*, Response*)) {
    const google::protobuf::MethodDescriptor* descriptor =
        FindMethod(method_name);
    GPR_ASSERT(descriptor != nullptr &&
               descriptor->input_type() == Request::descriptor() &&
               descriptor->output_type() == Response::descriptor());
    Impl* impl = static_cast<Impl*>(this);
    RequestBudget* budget = budget_;
    AccessControl* access = access_;
    const std::string full_name = descriptor->full_name();
    this->MarkMethodCallback(
        descriptor->index(),
        new grpc::internal::CallbackUnaryHandler<DecodedRequest<Request>,
                                                 Response>(
            [impl, method, budget, access, full_name](
                grpc::CallbackServerContext* context,
                const DecodedRequest<Request>* request,
                Response* response) -> grpc::ServerUnaryReactor* {
              absl::StatusOr<Admission> admission =
                  Admit(request->status, access, *context, full_name);
              absl::Status admitted = admission.status();
              if (admitted.ok() && budget != nullptr) {
                admitted =
                    budget->Admit(request->wire_bytes, &request->budget_hold);
              }
              if (admitted.ok()) {
                AddCallTrailers(context, admission->call.actor,
                                request->message);
                AdmissionScope scope(&*admission);
                return (impl->*method)(context, &request->message, response);
              }
              grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
              reactor->Finish(ToGrpcStatus(admitted));
              return reactor;
            }));
  }

  // The same for a server-streaming method (SubscribeEvents): calls whose
  // bytes are not a Request are finished INVALID_ARGUMENT before `method`
  // runs. Its requests are small and do not count against the budget.
  // `method` writes `Response` messages: the declared response type
  // `Declared`, or a type whose grpc::SerializationTraits write a Declared's
  // bytes (e.g. encoded once for many calls).
  template <typename Declared, typename Impl, typename Request,
            typename Response>
  void DecodeStreamingRequestsOf(
      const char* method_name,
      grpc::ServerWriteReactor<Response>* (Impl::*method)(
          grpc::CallbackServerContext*, const Request*)) {
    const google::protobuf::MethodDescriptor* descriptor =
        FindMethod(method_name);
    GPR_ASSERT(descriptor != nullptr && descriptor->server_streaming() &&
               descriptor->input_type() == Request::descriptor() &&
               descriptor->output_type() == Declared::descriptor());
    Impl* impl = static_cast<Impl*>(this);
    AccessControl* access = access_;
    const std::string full_name = descriptor->full_name();
    this->MarkMethodCallback(
        descriptor->index(),
        new grpc::internal::CallbackServerStreamingHandler<
            DecodedRequest<Request>, Response>(
            [impl, method, access, full_name](
                grpc::CallbackServerContext* context,
                const DecodedRequest<Request>* request)
                -> grpc::ServerWriteReactor<Response>* {
              absl::StatusOr<Admission> admission =
                  Admit(request->status, access, *context, full_name);
              if (admission.ok()) {
                AddCallTrailers(context, admission->call.actor,
                                request->message);
                AdmissionScope scope(&*admission);
                return (impl->*method)(context, &request->message);
              }
              return new FinishedWriteReactor<Response>(
                  ToGrpcStatus(admission.status()));
            }));
  }

 private:
  // A call's admission: its request's decoding error, else what `access`
  // answers (UNAVAILABLE when the service has none).
  static absl::StatusOr<Admission> Admit(const absl::Status& decoded,
                                         AccessControl* access,
                                         grpc::CallbackServerContext& context,
                                         const std::string& full_name) {
    if (!decoded.ok()) return decoded;
    if (access == nullptr) {
      return absl::UnavailableError("the service has no access control");
    }
    return access->Admit(context, full_name);
  }

  // A streaming call answered with a status and no message.
  template <typename Response>
  class FinishedWriteReactor final : public grpc::ServerWriteReactor<Response> {
   public:
    explicit FinishedWriteReactor(const grpc::Status& status) {
      this->Finish(status);
    }
    void OnDone() override { delete this; }
  };

  static const google::protobuf::MethodDescriptor* FindMethod(
      const char* method_name) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            Generated::service_full_name());
    return service == nullptr ? nullptr
                              : service->FindMethodByName(method_name);
  }

  RequestBudget* budget_ = nullptr;
  AccessControl* access_ = nullptr;
};

}  // namespace sequencer::server

// gRPC decodes a DecodedRequest by recording, not failing on, bytes that are
// not a Request, so that the services answer them (see DecodingService).
namespace grpc {

template <typename Request>
class SerializationTraits<sequencer::server::DecodedRequest<Request>, void> {
 public:
  static grpc::Status Serialize(
      const sequencer::server::DecodedRequest<Request>& request,
      grpc::ByteBuffer* buffer, bool* own_buffer) {
    return grpc::SerializationTraits<Request>::Serialize(request.message,
                                                         buffer, own_buffer);
  }
  static grpc::Status Deserialize(
      grpc::ByteBuffer* buffer,
      sequencer::server::DecodedRequest<Request>* request) {
    request->wire_bytes = buffer->Valid() ? buffer->Length() : 0;
    request->status =
        sequencer::server::DecodeRequest(buffer, &request->message);
    return grpc::Status::OK;
  }
};

}  // namespace grpc

#endif  // SEQUENCER_SERVER_UNARY_CALL_H_
