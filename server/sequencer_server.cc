#include "server/sequencer_server.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/clock_service.h"
#include "server/recipient_service.h"
#include "server/sequence_service.h"

namespace sequencer::server {

absl::StatusOr<std::unique_ptr<SequencerServer>> SequencerServer::Start(
    const ServerOptions& options, eventstore::EventStore* store,
    const Clock* clock, ManualClock* manual_clock, IdGenerator* ids) {
  std::unique_ptr<SequencerServer> server(new SequencerServer());
  server->repository_ = std::make_unique<Repository>(store);
  server->locks_ = std::make_unique<LockTable>();
  const ServiceDeps deps{server->repository_.get(), clock, ids,
                         server->locks_.get()};
  server->sequence_service_ = std::make_unique<SequenceServiceImpl>(deps);
  server->recipient_service_ = std::make_unique<RecipientServiceImpl>(deps);
  if (manual_clock != nullptr) {
    server->clock_service_ = std::make_unique<ClockServiceImpl>(manual_clock);
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address,
                           grpc::InsecureServerCredentials(), &server->port_);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  builder.RegisterService(server->sequence_service_.get());
  builder.RegisterService(server->recipient_service_.get());
  if (server->clock_service_)
    builder.RegisterService(server->clock_service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen_address));
  }
  const auto colon = options.listen_address.rfind(':');
  server->host_ = options.listen_address.substr(0, colon);
  server->server_->GetHealthCheckService()->SetServingStatus(true);
  return server;
}

SequencerServer::~SequencerServer() { Shutdown(); }

std::string SequencerServer::address() const {
  return absl::StrCat(host_, ":", port_);
}

void SequencerServer::Shutdown() {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  server_->GetHealthCheckService()->SetServingStatus(false);
  server_->Shutdown();
}

void SequencerServer::Wait() { server_->Wait(); }

}  // namespace sequencer::server
