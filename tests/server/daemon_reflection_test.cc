// Reflection as a client such as grpcurl sees it, asked of the real sequencerd
// process (whose binary links only what it references, unlike this test
// binary, which links the generated health code itself): over
// grpc.reflection.v1 and v1alpha, every listed service and every method's
// request and response types resolve from the reflected files alone, and
// grpc.health.v1.Health/Check is callable with a message built from them.

#include <algorithm>
#include <fstream>
#include <future>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/descriptor_database.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/util/daemon.h"
#include "tests/util/temp_dir.h"

namespace sequencer::testing {
namespace {

// The two reflection APIs have the same shape in different packages.
struct V1 {
  using Service = grpc::reflection::v1::ServerReflection;
  using Request = grpc::reflection::v1::ServerReflectionRequest;
  using Response = grpc::reflection::v1::ServerReflectionResponse;
};
struct V1Alpha {
  using Service = grpc::reflection::v1alpha::ServerReflection;
  using Request = grpc::reflection::v1alpha::ServerReflectionRequest;
  using Response = grpc::reflection::v1alpha::ServerReflectionResponse;
};

// One reflection stream; each Ask is one request and its response.
template <typename Api>
class Reflection {
 public:
  explicit Reflection(std::shared_ptr<grpc::Channel> channel)
      : stub_(Api::Service::NewStub(channel)) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + Daemon::kTimeout));
    stream_ = stub_->ServerReflectionInfo(&context_);
  }
  ~Reflection() {
    stream_->WritesDone();
    grpc::Status status = stream_->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
  }

  typename Api::Response Ask(const typename Api::Request& request) {
    typename Api::Response response;
    EXPECT_TRUE(stream_->Write(request));
    EXPECT_TRUE(stream_->Read(&response));
    return response;
  }
  typename Api::Response ListServices() {
    typename Api::Request request;
    request.set_list_services("*");
    return Ask(request);
  }
  typename Api::Response FileContainingSymbol(const std::string& symbol) {
    typename Api::Request request;
    request.set_file_containing_symbol(symbol);
    return Ask(request);
  }
  typename Api::Response FileByFilename(const std::string& name) {
    typename Api::Request request;
    request.set_file_by_filename(name);
    return Ask(request);
  }

 private:
  std::unique_ptr<typename Api::Service::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<
      grpc::ClientReaderWriter<typename Api::Request, typename Api::Response>>
      stream_;
};

template <typename Api>
class DaemonReflectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<Daemon>(dir_.Sub("data"));
    ASSERT_NO_FATAL_FAILURE(daemon_->Start());
  }

  // Adds the files of a file_descriptor_response to the database (once each,
  // by name, as grpcurl does); fails the test on an error response.
  void AddFiles(const typename Api::Response& response,
                google::protobuf::SimpleDescriptorDatabase* database) {
    ASSERT_TRUE(response.has_file_descriptor_response())
        << response.DebugString();
    for (const std::string& bytes :
         response.file_descriptor_response().file_descriptor_proto()) {
      google::protobuf::FileDescriptorProto file;
      ASSERT_TRUE(file.ParseFromString(bytes));
      if (files_.insert(file.name()).second) {
        ASSERT_TRUE(database->Add(file)) << file.name();
      }
    }
  }

  TempDir dir_;
  std::unique_ptr<Daemon> daemon_;
  std::set<std::string> files_;
};

using Apis = ::testing::Types<V1, V1Alpha>;
class ApiNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return std::is_same_v<T, V1> ? "v1" : "v1alpha";
  }
};
TYPED_TEST_SUITE(DaemonReflectionTest, Apis, ApiNames);

TYPED_TEST(DaemonReflectionTest, EveryServiceAndMethodTypeResolves) {
  Reflection<TypeParam> reflection(this->daemon_->channel());
  const auto listed = reflection.ListServices();
  ASSERT_TRUE(listed.has_list_services_response()) << listed.DebugString();
  std::vector<std::string> services;
  for (const auto& service : listed.list_services_response().service()) {
    services.push_back(service.name());
  }
  for (const char* expected :
       {"sequencer.v1.SequenceService", "sequencer.v1.RecipientService",
        "sequencer.v1.DeliveryService", "sequencer.v1.ClockService",
        "sequencer.v1.AuditService", "sequencer.v1.AdminService",
        "sequencer.v1.SubscriptionService", "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection"}) {
    EXPECT_NE(std::find(services.begin(), services.end(), expected),
              services.end())
        << expected << " is not listed";
  }

  google::protobuf::SimpleDescriptorDatabase database;
  for (const std::string& service : services) {
    ASSERT_NO_FATAL_FAILURE(
        this->AddFiles(reflection.FileContainingSymbol(service), &database))
        << service;
  }
  google::protobuf::DescriptorPool pool(&database);
  int methods = 0;
  for (const std::string& name : services) {
    const google::protobuf::ServiceDescriptor* service =
        pool.FindServiceByName(name);
    ASSERT_NE(service, nullptr) << name;
    for (int i = 0; i < service->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* method = service->method(i);
      ++methods;
      // The types are resolved within the pool built from reflection alone,
      // and a client can ask for each by name, as `grpcurl describe` does.
      ASSERT_NE(method->input_type(), nullptr) << method->full_name();
      ASSERT_NE(method->output_type(), nullptr) << method->full_name();
      for (const auto* type : {method->input_type(), method->output_type()}) {
        const auto response =
            reflection.FileContainingSymbol(type->full_name());
        EXPECT_TRUE(response.has_file_descriptor_response())
            << type->full_name() << ": " << response.DebugString();
      }
    }
  }
  EXPECT_GT(methods, 20);
}

TYPED_TEST(DaemonReflectionTest, HealthFileAndSymbolResolve) {
  Reflection<TypeParam> reflection(this->daemon_->channel());
  google::protobuf::SimpleDescriptorDatabase database;
  ASSERT_NO_FATAL_FAILURE(this->AddFiles(
      reflection.FileByFilename("grpc/health/v1/health.proto"), &database));
  ASSERT_NO_FATAL_FAILURE(this->AddFiles(
      reflection.FileContainingSymbol("grpc.health.v1.Health"), &database));
  ASSERT_NO_FATAL_FAILURE(this->AddFiles(
      reflection.FileContainingSymbol("grpc.health.v1.HealthCheckResponse"),
      &database));
  google::protobuf::DescriptorPool pool(&database);
  ASSERT_NE(pool.FindMethodByName("grpc.health.v1.Health.Check"), nullptr);
  ASSERT_NE(pool.FindMethodByName("grpc.health.v1.Health.Watch"), nullptr);
}

TYPED_TEST(DaemonReflectionTest, UnknownNamesAreNotFound) {
  Reflection<TypeParam> reflection(this->daemon_->channel());
  for (const auto& response :
       {reflection.FileContainingSymbol("sequencer.v1.NoSuchService"),
        reflection.FileByFilename("no/such/file.proto")}) {
    ASSERT_TRUE(response.has_error_response()) << response.DebugString();
    EXPECT_EQ(response.error_response().error_code(),
              static_cast<int>(grpc::StatusCode::NOT_FOUND));
  }
  // The stream still answers after an error.
  EXPECT_TRUE(reflection.ListServices().has_list_services_response());
}

TYPED_TEST(DaemonReflectionTest, ExtensionQuestions) {
  Reflection<TypeParam> reflection(this->daemon_->channel());
  typename TypeParam::Request request;
  request.set_all_extension_numbers_of_type("sequencer.v1.Recipient");
  auto numbers = reflection.Ask(request);
  ASSERT_TRUE(numbers.has_all_extension_numbers_response())
      << numbers.DebugString();
  EXPECT_EQ(numbers.all_extension_numbers_response().base_type_name(),
            "sequencer.v1.Recipient");
  EXPECT_EQ(numbers.all_extension_numbers_response().extension_number_size(),
            0);

  request.set_all_extension_numbers_of_type("sequencer.v1.NoSuchMessage");
  auto unknown_type = reflection.Ask(request);
  ASSERT_TRUE(unknown_type.has_error_response()) << unknown_type.DebugString();
  EXPECT_EQ(unknown_type.error_response().error_code(),
            static_cast<int>(grpc::StatusCode::NOT_FOUND));

  request.mutable_file_containing_extension()->set_containing_type(
      "google.protobuf.FieldOptions");
  request.mutable_file_containing_extension()->set_extension_number(54321);
  auto unknown_extension = reflection.Ask(request);
  ASSERT_TRUE(unknown_extension.has_error_response())
      << unknown_extension.DebugString();
  EXPECT_EQ(unknown_extension.error_response().error_code(),
            static_cast<int>(grpc::StatusCode::NOT_FOUND));
}

// An empty question: v1 (ours) says INVALID_ARGUMENT, v1alpha (gRPC's)
// UNIMPLEMENTED; both answer on the stream and keep it open.
TYPED_TEST(DaemonReflectionTest, EmptyRequestIsAnErrorResponse) {
  Reflection<TypeParam> reflection(this->daemon_->channel());
  typename TypeParam::Request request;
  request.set_host("localhost");
  auto response = reflection.Ask(request);
  ASSERT_TRUE(response.has_error_response()) << response.DebugString();
  EXPECT_EQ(response.error_response().error_code(),
            static_cast<int>(std::is_same_v<TypeParam, V1>
                                 ? grpc::StatusCode::INVALID_ARGUMENT
                                 : grpc::StatusCode::UNIMPLEMENTED))
      << response.DebugString();
  EXPECT_EQ(response.original_request().host(), "localhost");
  EXPECT_TRUE(reflection.ListServices().has_list_services_response());
}

// Calls `method` (full path "/pkg.Service/Method") with `request` as grpcurl
// does, with no generated code: serialized by reflection, sent as bytes, and
// the answer parsed into `response` (a message of the method's output type).
grpc::Status CallDynamic(
    std::shared_ptr<grpc::Channel> channel, const std::string& method,
    const google::protobuf::Message& request,
    const std::vector<std::pair<std::string, std::string>>& metadata,
    google::protobuf::Message* response) {
  const std::string serialized_request = request.SerializeAsString();
  grpc::Slice slice(serialized_request);
  grpc::ByteBuffer request_bytes(&slice, 1);
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + Daemon::kTimeout));
  for (const auto& [key, value] : metadata) context.AddMetadata(key, value);
  grpc::ByteBuffer response_bytes;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request_bytes,
                 &response_bytes,
                 [&done](grpc::Status status) { done.set_value(status); });
  grpc::Status status = done.get_future().get();
  if (!status.ok()) return status;
  std::vector<grpc::Slice> slices;
  if (!response_bytes.Dump(&slices).ok()) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "unreadable response");
  }
  std::string serialized;
  for (const auto& part : slices) {
    serialized.append(reinterpret_cast<const char*>(part.begin()), part.size());
  }
  if (!response->ParseFromString(serialized)) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "response does not parse");
  }
  return grpc::Status::OK;
}

TYPED_TEST(DaemonReflectionTest, HealthCheckCallableFromReflectedDescriptors) {
  google::protobuf::SimpleDescriptorDatabase database;
  {
    Reflection<TypeParam> reflection(this->daemon_->channel());
    ASSERT_NO_FATAL_FAILURE(this->AddFiles(
        reflection.FileContainingSymbol("grpc.health.v1.Health"), &database));
  }
  google::protobuf::DescriptorPool pool(&database);
  const google::protobuf::MethodDescriptor* check =
      pool.FindMethodByName("grpc.health.v1.Health.Check");
  ASSERT_NE(check, nullptr);
  google::protobuf::DynamicMessageFactory factory(&pool);
  std::unique_ptr<google::protobuf::Message> request(
      factory.GetPrototype(check->input_type())->New());
  std::unique_ptr<google::protobuf::Message> response(
      factory.GetPrototype(check->output_type())->New());
  grpc::Status status =
      CallDynamic(this->daemon_->channel(), "/grpc.health.v1.Health/Check",
                  *request, {}, response.get());
  ASSERT_TRUE(status.ok()) << status.error_message();
  const google::protobuf::FieldDescriptor* field =
      check->output_type()->FindFieldByName("status");
  ASSERT_NE(field, nullptr);
  EXPECT_EQ(response->GetReflection()->GetEnum(*response, field)->name(),
            "SERVING");
}

// ---- The README's grpcurl lines, as printed.

// One `grpcurl` command of the README: its -H headers, its -d body and the
// last word (a method, or "list").
struct GrpcurlCommand {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string target;
};

// The shell words of each `grpcurl` command of `text` (single quotes only, as
// the README writes them; a backslash-newline continues a command).
std::vector<std::vector<std::string>> GrpcurlWords(absl::string_view text) {
  std::vector<std::vector<std::string>> commands;
  size_t pos = 0;
  while ((pos = text.find("grpcurl ", pos)) != absl::string_view::npos) {
    if (pos > 0 && text[pos - 1] != '\n') {
      ++pos;
      continue;
    }
    std::vector<std::string> words;
    std::string word;
    bool quoted = false, in_word = false;
    for (; pos < text.size(); ++pos) {
      const char c = text[pos];
      if (quoted) {
        if (c == '\'') {
          quoted = false;
        } else {
          word += c;
        }
      } else if (c == '\'') {
        quoted = in_word = true;
      } else if (c == '\\' && pos + 1 < text.size() && text[pos + 1] == '\n') {
        ++pos;
      } else if (c == ' ' || c == '\n') {
        if (in_word) words.push_back(std::exchange(word, ""));
        in_word = false;
        if (c == '\n') break;
      } else {
        word += c;
        in_word = true;
      }
    }
    if (in_word) words.push_back(word);
    commands.push_back(std::move(words));
  }
  return commands;
}

std::vector<GrpcurlCommand> ReadmeGrpcurlCommands() {
  std::ifstream in(SEQUENCER_SOURCE_DIR "/README.md");
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::vector<GrpcurlCommand> commands;
  for (const std::vector<std::string>& words : GrpcurlWords(buffer.str())) {
    // The examples over TLS (-cacert) need --auth=principals and the
    // README's certificates; tls_test.cc makes the same calls.
    if (std::find(words.begin(), words.end(), "-cacert") != words.end()) {
      continue;
    }
    GrpcurlCommand command;
    for (size_t i = 1; i + 1 < words.size(); ++i) {
      if (words[i] == "-H") {
        const std::string& header = words[++i];
        const size_t colon = header.find(':');
        command.headers.emplace_back(
            header.substr(0, colon),
            std::string(absl::StripLeadingAsciiWhitespace(
                absl::string_view(header).substr(colon + 1))));
      } else if (words[i] == "-d") {
        command.body = words[++i];
      }
    }
    command.target = words.back();
    commands.push_back(std::move(command));
  }
  return commands;
}

class ReadmeGrpcurlTest : public DaemonReflectionTest<V1> {};

TEST_F(ReadmeGrpcurlTest, EveryCommandWorksAsPrinted) {
  const std::vector<GrpcurlCommand> commands = ReadmeGrpcurlCommands();
  ASSERT_GE(commands.size(), 5u) << "the README lost its grpcurl examples";
  google::protobuf::SimpleDescriptorDatabase database;
  Reflection<V1> reflection(daemon_->channel());
  for (const GrpcurlCommand& command : commands) {
    SCOPED_TRACE(command.target);
    if (command.target == "list") {
      EXPECT_GT(
          reflection.ListServices().list_services_response().service_size(), 3);
      continue;
    }
    const std::vector<std::string> parts = absl::StrSplit(command.target, '/');
    ASSERT_EQ(parts.size(), 2u);
    ASSERT_NO_FATAL_FAILURE(
        AddFiles(reflection.FileContainingSymbol(parts[0]), &database));
    google::protobuf::DescriptorPool pool(&database);
    const google::protobuf::MethodDescriptor* method =
        pool.FindMethodByName(absl::StrCat(parts[0], ".", parts[1]));
    ASSERT_NE(method, nullptr);
    google::protobuf::DynamicMessageFactory factory(&pool);
    std::unique_ptr<google::protobuf::Message> request(
        factory.GetPrototype(method->input_type())->New());
    if (!command.body.empty()) {
      auto parsed = google::protobuf::util::JsonStringToMessage(command.body,
                                                                request.get());
      ASSERT_TRUE(parsed.ok()) << parsed.ToString() << "\n" << command.body;
    }
    std::unique_ptr<google::protobuf::Message> response(
        factory.GetPrototype(method->output_type())->New());
    grpc::Status status =
        CallDynamic(daemon_->channel(), absl::StrCat("/", command.target),
                    *request, command.headers, response.get());
    ASSERT_TRUE(status.ok()) << status.error_message();
    std::string json;
    ASSERT_TRUE(
        google::protobuf::util::MessageToJsonString(*response, &json).ok());
    if (parts[1] == "PauseRecipient") {
      EXPECT_TRUE(absl::StrContains(json, "RECIPIENT_STATUS_PAUSED")) << json;
    }
    if (parts[1] == "Check") {
      EXPECT_TRUE(absl::StrContains(json, "SERVING")) << json;
    }
  }
}

}  // namespace
}  // namespace sequencer::testing
