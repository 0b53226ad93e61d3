// The server is debuggable with grpcurl: the standard health service answers,
// and server reflection lists the services and serves their descriptors (with
// every dependency), enough to describe and call a method from reflection
// alone.

#include <algorithm>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/descriptor_database.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/util/api_helpers.h"
#include "tests/util/grpc_status_matchers.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using grpc::reflection::v1alpha::ServerReflection;
using grpc::reflection::v1alpha::ServerReflectionRequest;
using grpc::reflection::v1alpha::ServerReflectionResponse;

TEST(HealthTest, ReportsServing) {
  TestServer server;
  auto stub = Health::NewStub(server.channel());
  HealthCheckRequest request;  // "" = the server as a whole
  HealthCheckResponse response;
  grpc::ClientContext context;
  grpc::Status status = stub->Check(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
}

TEST(HealthTest, UnknownServiceIsNotFound) {
  TestServer server;
  auto stub = Health::NewStub(server.channel());
  HealthCheckRequest request;
  request.set_service("no.such.Service");
  HealthCheckResponse response;
  grpc::ClientContext context;
  EXPECT_THAT(stub->Check(&context, request, &response),
              StatusIs(grpc::StatusCode::NOT_FOUND));
}

// One request/response exchange on the reflection stream.
class ReflectionClient {
 public:
  explicit ReflectionClient(std::shared_ptr<grpc::Channel> channel)
      : stub_(ServerReflection::NewStub(channel)),
        stream_(stub_->ServerReflectionInfo(&context_)) {}
  ~ReflectionClient() {
    stream_->WritesDone();
    grpc::Status status = stream_->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
  }

  ServerReflectionResponse Ask(const ServerReflectionRequest& request) {
    ServerReflectionResponse response;
    EXPECT_TRUE(stream_->Write(request));
    EXPECT_TRUE(stream_->Read(&response));
    return response;
  }

  ServerReflectionResponse ListServices() {
    ServerReflectionRequest request;
    request.set_list_services("*");
    return Ask(request);
  }
  ServerReflectionResponse FileContainingSymbol(const std::string& symbol) {
    ServerReflectionRequest request;
    request.set_file_containing_symbol(symbol);
    return Ask(request);
  }

 private:
  std::unique_ptr<ServerReflection::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<ServerReflectionRequest,
                                           ServerReflectionResponse>>
      stream_;
};

TEST(ReflectionTest, ListsEveryService) {
  TestServer server;
  ReflectionClient client(server.channel());
  ServerReflectionResponse response = client.ListServices();
  ASSERT_TRUE(response.has_list_services_response()) << response.DebugString();
  std::vector<std::string> names;
  for (const auto& service : response.list_services_response().service()) {
    names.push_back(service.name());
  }
  for (const char* expected :
       {"sequencer.v1.SequenceService", "sequencer.v1.RecipientService",
        "sequencer.v1.DeliveryService", "sequencer.v1.ClockService",
        "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end())
        << expected << " not listed";
  }
}

TEST(ReflectionTest, UnknownSymbolIsNotFound) {
  TestServer server;
  ReflectionClient client(server.channel());
  ServerReflectionResponse response =
      client.FileContainingSymbol("sequencer.v1.NoSuchService");
  ASSERT_TRUE(response.has_error_response()) << response.DebugString();
  EXPECT_EQ(response.error_response().error_code(),
            static_cast<int>(grpc::StatusCode::NOT_FOUND));
}

// What grpcurl does: fetch the file of a symbol with its dependencies, build a
// descriptor pool from them alone, describe the service and call a method with
// a dynamic message.
TEST(ReflectionTest, DescriptorsSufficeToDescribeAndCall) {
  TestServer server;
  CreateSequence(server, "seq-1", {EmailStep(absl::Hours(1))});

  google::protobuf::SimpleDescriptorDatabase database;
  {
    ReflectionClient client(server.channel());
    ServerReflectionResponse response =
        client.FileContainingSymbol("sequencer.v1.RecipientService");
    ASSERT_TRUE(response.has_file_descriptor_response())
        << response.DebugString();
    bool has_api_file = false;
    for (const std::string& bytes :
         response.file_descriptor_response().file_descriptor_proto()) {
      google::protobuf::FileDescriptorProto file;
      ASSERT_TRUE(file.ParseFromString(bytes));
      has_api_file |= file.name() == "sequencer/v1/sequencer.proto";
      database.Add(file);
    }
    EXPECT_TRUE(has_api_file);
    // A message symbol resolves too (grpcurl describe sequencer.v1.Recipient).
    response = client.FileContainingSymbol("sequencer.v1.Recipient");
    EXPECT_TRUE(response.has_file_descriptor_response())
        << response.DebugString();
  }

  google::protobuf::DescriptorPool pool(&database);
  const google::protobuf::ServiceDescriptor* recipients =
      pool.FindServiceByName("sequencer.v1.RecipientService");
  ASSERT_NE(recipients, nullptr);
  EXPECT_NE(recipients->FindMethodByName("GetRecipientTimeline"), nullptr);
  ASSERT_NE(pool.FindMessageTypeByName("sequencer.v1.Event"), nullptr);

  const google::protobuf::ServiceDescriptor* sequences =
      pool.FindServiceByName("sequencer.v1.SequenceService");
  ASSERT_NE(sequences, nullptr);
  const google::protobuf::MethodDescriptor* get =
      sequences->FindMethodByName("GetSequence");
  ASSERT_NE(get, nullptr);

  google::protobuf::DynamicMessageFactory factory(&pool);
  std::unique_ptr<google::protobuf::Message> request(
      factory.GetPrototype(get->input_type())->New());
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  R"({"sequence_id": "seq-1"})", request.get())
                  .ok());
  grpc::ByteBuffer request_bytes;
  {
    const std::string serialized = request->SerializeAsString();
    grpc::Slice slice(serialized);
    request_bytes = grpc::ByteBuffer(&slice, 1);
  }

  grpc::GenericStub stub(server.channel());
  auto context = CallAs();
  grpc::ByteBuffer response_bytes;
  std::promise<grpc::Status> done;
  stub.UnaryCall(context.get(), "/sequencer.v1.SequenceService/GetSequence",
                 grpc::StubOptions(), &request_bytes, &response_bytes,
                 [&done](grpc::Status status) { done.set_value(status); });
  grpc::Status status = done.get_future().get();
  ASSERT_TRUE(status.ok()) << status.error_message();

  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response_bytes.Dump(&slices).ok());
  std::string serialized;
  for (const auto& slice : slices) {
    serialized.append(reinterpret_cast<const char*>(slice.begin()),
                      slice.size());
  }
  std::unique_ptr<google::protobuf::Message> response(
      factory.GetPrototype(get->output_type())->New());
  ASSERT_TRUE(response->ParseFromString(serialized));
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  ASSERT_TRUE(
      google::protobuf::util::MessageToJsonString(*response, &json, options)
          .ok());
  EXPECT_NE(json.find(R"("sequence_id":"seq-1")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("name":"Sequence seq-1")"), std::string::npos) << json;
}

}  // namespace
}  // namespace sequencer::testing
