#include "server/admin_service.h"

#include <string>
#include <utility>

#include "app/status_macros.h"
#include "app/storage/projection_verifier.h"

namespace sequencer::server {

AdminServiceImpl::AdminServiceImpl(ServiceDeps deps, app::StoreCopies copies)
    : deps_(deps), copies_(std::move(copies)) {
  ControlAccess(deps_.access);
  LimitRequestBytes(deps_.budget);
  DecodeRequestsOf("Backup", &AdminServiceImpl::Backup);
  DecodeRequestsOf("VerifyStore", &AdminServiceImpl::VerifyStore);
}

grpc::ServerUnaryReactor* AdminServiceImpl::Backup(
    grpc::CallbackServerContext* context, const v1::BackupRequest* request,
    v1::BackupResponse* response) {
  return RunOperatorUnary(
      context, deps_.pool,
      [this, context, request, response]() -> absl::Status {
        SEQ_ASSIGN_OR_RETURN(
            app::BackupResult result,
            app::Backup(deps_.repository->store(), copies_,
                        request->directory(), StopCheckOf(context)));
        response->set_directory(result.directory);
        response->set_last_position(result.last_position);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AdminServiceImpl::VerifyStore(
    grpc::CallbackServerContext* context,
    const v1::VerifyStoreRequest* /*request*/,
    v1::VerifyStoreResponse* response) {
  return RunOperatorUnary(
      context, deps_.pool, [this, context, response]() -> absl::Status {
        app::ProjectionVerifier::Options options;
        options.stopped = StopCheckOf(context);
        SEQ_ASSIGN_OR_RETURN(
            app::VerifyResult result,
            app::VerifyStore(deps_.repository->store(), copies_, options));
        response->set_ok(result.ok());
        response->set_last_position(result.last_position);
        response->set_events(result.events);
        response->set_sequences(result.sequences);
        response->set_recipients(result.recipients);
        response->set_deleted_recipients(result.deleted_recipients);
        for (const auto& [status, count] : result.recipients_by_status) {
          (*response->mutable_recipients_by_status())[status] = count;
        }
        response->set_index_entries(result.index_entries);
        response->set_idempotency_records(result.idempotency_records);
        response->set_discrepancy_count(result.discrepancy_count);
        for (const std::string& line : result.discrepancies) {
          response->add_discrepancies(line);
        }
        response->set_summary(result.Summary());
        return absl::OkStatus();
      });
}

}  // namespace sequencer::server
