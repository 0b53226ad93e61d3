// sequencer.v1.DeliveryService: two-phase delivery for the workers of each
// channel (see the service comment in proto/sequencer/v1/sequencer.proto).
//
// LeaseSteps reads the channel's delivery queue (ready/ keys) oldest due
// first and grants in-memory leases (app/runtime/lease_table.h). When nothing
// is due and the request asks to wait, the call becomes a long poll that holds
// no thread: it parks in the PollRegistry (app/runtime/poll_registry.h) and
// tries again on the worker pool when a commit queues work on its tenant's
// channel. It ends with leases when it gets some; with no leases (OK) when its
// wait runs out on the service's clock (with the manual clock: when AdvanceTime
// moves past it) or when the server shuts down; CANCELLED when the client goes.
// A poll that starts waiting sends its response headers (initial metadata)
// first, so a client can tell the server holds it.
//
// BeginSend and ReportDelivery go through the recipient pipeline
// (app/pipeline/command_runner.h) with domain::BeginSend and
// domain::ReportDelivery, so they are serialized with every other change to
// the recipient and durable before they answer. Their batch forms
// (BeginSends, ReportDeliveries) answer each item as the single call would,
// in a google.rpc.Status per item, and commit the batch in one write.

#ifndef SEQUENCER_SERVER_DELIVERY_SERVICE_H_
#define SEQUENCER_SERVER_DELIVERY_SERVICE_H_

#include "app/use_cases/delivery.h"
#include "domain/limits.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "server/service_deps.h"
#include "server/unary_call.h"

namespace sequencer::server {

class DeliveryServiceImpl final : public DecodingService<v1::DeliveryService> {
 public:
  explicit DeliveryServiceImpl(ServiceDeps deps);

  grpc::ServerUnaryReactor* LeaseSteps(
      grpc::CallbackServerContext* context,
      const v1::LeaseStepsRequest* request,
      v1::LeaseStepsResponse* response) override;
  grpc::ServerUnaryReactor* BeginSend(grpc::CallbackServerContext* context,
                                      const v1::BeginSendRequest* request,
                                      v1::BeginSendResponse* response) override;
  grpc::ServerUnaryReactor* ReportDelivery(
      grpc::CallbackServerContext* context,
      const v1::ReportDeliveryRequest* request,
      v1::Recipient* response) override;
  grpc::ServerUnaryReactor* BeginSends(
      grpc::CallbackServerContext* context,
      const v1::BeginSendsRequest* request,
      v1::BeginSendsResponse* response) override;
  grpc::ServerUnaryReactor* ReportDeliveries(
      grpc::CallbackServerContext* context,
      const v1::ReportDeliveriesRequest* request,
      v1::ReportDeliveriesResponse* response) override;

  // Leases outstanding (metrics).
  size_t OutstandingLeases() const { return delivery_.OutstandingLeases(); }

 private:
  // One LeaseSteps call: its own reactor, deleted in OnDone (in the .cc).
  class LeasePoll;

  ServiceDeps deps_;
  // Holds a reference to deps_ (declared first).
  app::Delivery delivery_;
};

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_DELIVERY_SERVICE_H_
