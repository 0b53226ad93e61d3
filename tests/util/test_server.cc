#include "tests/util/test_server.h"

#include "app/storage/event_codec.h"
#include "gtest/gtest.h"

namespace sequencer::testing {

std::unique_ptr<grpc::ClientContext> CallAs(const std::string& tenant,
                                            const std::string& actor) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!tenant.empty()) context->AddMetadata("x-tenant-id", tenant);
  if (!actor.empty()) context->AddMetadata("x-actor", actor);
  return context;
}

TestServer::TestServer(bool background_scheduler)
    : background_scheduler_(background_scheduler), data_dir_(dir_.Sub("data")) {
  Start();
}

TestServer::~TestServer() { Stop(); }

void TestServer::Restart() {
  Stop();
  Start();
}

void TestServer::AdvanceTime(absl::Duration by) {
  v1::AdvanceTimeRequest request;
  *request.mutable_by() = app::ToProtoDuration(by);
  v1::TimeResponse response;
  grpc::Status status =
      clock_service_->AdvanceTime(CallAs().get(), request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

void TestServer::Start() {
  auto store = eventstore::RocksDbEventStore::Open(data_dir_);
  if (!store.ok()) {
    ADD_FAILURE() << "opening the store: " << store.status();
    abort();
  }
  store_ = *std::move(store);
  server::ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  auto server = server::SequencerServer::Start(
      options, store_.get(), &clock_, background_scheduler_ ? nullptr : &clock_,
      &ids_);
  if (!server.ok()) {
    ADD_FAILURE() << "starting the server: " << server.status();
    abort();
  }
  server_ = *std::move(server);
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  channel_ = grpc::CreateCustomChannel(
      server_->address(), grpc::InsecureChannelCredentials(), args);
  sequences_ = v1::SequenceService::NewStub(channel_);
  recipients_ = v1::RecipientService::NewStub(channel_);
  clock_service_ = v1::ClockService::NewStub(channel_);
  delivery_ = v1::DeliveryService::NewStub(channel_);
}

void TestServer::Stop() {
  sequences_.reset();
  recipients_.reset();
  clock_service_.reset();
  delivery_.reset();
  channel_.reset();
  if (server_) server_->Shutdown();
  server_.reset();
  store_.reset();
}

}  // namespace sequencer::testing
