// The "no-op gRPC rate" ceiling of bench/run.sh: a gRPC server that offers
// sequencer.v1.SequenceService and sequencer.v1.RecipientService with the same
// transport settings as sequencerd (server/sequencer_server.cc: callback API,
// 16 MiB receive limit, the standard health service) but whose handlers answer
// an empty response at once, on gRPC's own thread, touching nothing. Driving
// it with the same client (bench/load_client.cc), the same number of calls in
// flight and the same requests as sequencerd measures what the transport, the
// encoding and the client cost on this machine at this moment: what sequencerd
// could reach if its own work were free.
//
//   build/noop_server [--listen=127.0.0.1:0]
//
// Prints "noop_server listening on 127.0.0.1:<port>" once it serves, then
// runs until SIGINT or SIGTERM.

#include <csignal>
#include <iostream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "domain/limits.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "sequencer/v1/sequencer.grpc.pb.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0",
          "address to listen on (port 0: a free port, printed)");

namespace {

namespace v1 = sequencer::v1;

grpc::ServerUnaryReactor* AnswerEmpty(grpc::CallbackServerContext* context) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

// The methods the load client calls; the others answer UNIMPLEMENTED.
class NoopSequenceService final : public v1::SequenceService::CallbackService {
  grpc::ServerUnaryReactor* CreateSequence(
      grpc::CallbackServerContext* context, const v1::CreateSequenceRequest*,
      v1::CreateSequenceResponse*) override {
    return AnswerEmpty(context);
  }
};

class NoopRecipientService final
    : public v1::RecipientService::CallbackService {
  grpc::ServerUnaryReactor* EnrollRecipients(
      grpc::CallbackServerContext* context, const v1::EnrollRecipientsRequest*,
      v1::EnrollRecipientsResponse*) override {
    return AnswerEmpty(context);
  }
  grpc::ServerUnaryReactor* PauseRecipient(grpc::CallbackServerContext* context,
                                           const v1::RecipientActionRequest*,
                                           v1::Recipient*) override {
    return AnswerEmpty(context);
  }
  grpc::ServerUnaryReactor* ResumeRecipient(
      grpc::CallbackServerContext* context, const v1::RecipientActionRequest*,
      v1::Recipient*) override {
    return AnswerEmpty(context);
  }
  grpc::ServerUnaryReactor* BulkAction(grpc::CallbackServerContext* context,
                                       const v1::BulkActionRequest*,
                                       v1::BulkActionResponse*) override {
    return AnswerEmpty(context);
  }
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  NoopSequenceService sequences;
  NoopRecipientService recipients;
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  const std::string listen = absl::GetFlag(FLAGS_listen);
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(sequencer::domain::kMaxRequestBytes);
  builder.RegisterService(&sequences);
  builder.RegisterService(&recipients);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "noop_server: cannot listen on " << listen << std::endl;
    return 1;
  }
  std::cout << "noop_server listening on "
            << listen.substr(0, listen.rfind(':')) << ":" << port << std::endl;
  int received = 0;
  sigwait(&stop_signals, &received);
  server->Shutdown();
  return 0;
}
