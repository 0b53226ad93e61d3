// sequencer.v1.AdminService: operator calls on the whole store while it
// serves (app/use_cases/store_admin.h): Backup (a consistent copy) and
// VerifyStore (sequencerctl verify on a consistent snapshot). Not
// tenant-scoped, and not authenticated yet (issue 13): the calls read no
// metadata.

#ifndef SEQUENCER_SERVER_ADMIN_SERVICE_H_
#define SEQUENCER_SERVER_ADMIN_SERVICE_H_

#include "app/use_cases/store_admin.h"
#include "sequencer/v1/admin.grpc.pb.h"
#include "server/service_deps.h"
#include "server/unary_call.h"

namespace sequencer::server {

class AdminServiceImpl final : public DecodingService<v1::AdminService> {
 public:
  AdminServiceImpl(ServiceDeps deps, app::StoreCopies copies);

  grpc::ServerUnaryReactor* Backup(grpc::CallbackServerContext* context,
                                   const v1::BackupRequest* request,
                                   v1::BackupResponse* response) override;
  grpc::ServerUnaryReactor* VerifyStore(
      grpc::CallbackServerContext* context,
      const v1::VerifyStoreRequest* request,
      v1::VerifyStoreResponse* response) override;

 private:
  ServiceDeps deps_;
  app::StoreCopies copies_;
};

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_ADMIN_SERVICE_H_
