// sequencer.v1.AuditService: a recipient's state as of a past instant, and the
// caller tenant's events in log order, computed from the log
// (app/use_cases/audit.h). Read-only; tenant-scoped like the other services.

#ifndef SEQUENCER_SERVER_AUDIT_SERVICE_H_
#define SEQUENCER_SERVER_AUDIT_SERVICE_H_

#include "sequencer/v1/admin.grpc.pb.h"
#include "server/service_deps.h"
#include "server/unary_call.h"

namespace sequencer::server {

class AuditServiceImpl final : public DecodingService<v1::AuditService> {
 public:
  explicit AuditServiceImpl(ServiceDeps deps);

  grpc::ServerUnaryReactor* GetRecipientAsOf(
      grpc::CallbackServerContext* context,
      const v1::GetRecipientAsOfRequest* request,
      v1::RecipientAsOf* response) override;
  grpc::ServerUnaryReactor* ReadEvents(
      grpc::CallbackServerContext* context,
      const v1::ReadEventsRequest* request,
      v1::ReadEventsResponse* response) override;

 private:
  ServiceDeps deps_;
};

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_AUDIT_SERVICE_H_
