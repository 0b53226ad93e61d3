// Requests whose bytes are not the method's request message, sent raw to the
// real sequencerd: every method of every sequencer.v1 service answers
// INVALID_ARGUMENT naming the message type (not gRPC's empty UNIMPLEMENTED),
// for malformed protobuf and for a string field holding invalid UTF-8; the
// server keeps serving.

#include <signal.h>

#include <future>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "sequencer/v1/admin.pb.h"
#include "sequencer/v1/sequencer.pb.h"
#include "sequencer/v1/subscriptions.pb.h"
#include "tests/util/api_helpers.h"
#include "tests/util/daemon.h"
#include "tests/util/grpc_status_matchers.h"
#include "tests/util/temp_dir.h"

namespace sequencer::testing {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

constexpr const char* kServices[] = {
    "sequencer.v1.SequenceService",    "sequencer.v1.RecipientService",
    "sequencer.v1.DeliveryService",    "sequencer.v1.ClockService",
    "sequencer.v1.AuditService",       "sequencer.v1.AdminService",
    "sequencer.v1.SubscriptionService"};

std::string LengthDelimited(int field_number, const std::string& payload) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.WriteTag(static_cast<uint32_t>(field_number) << 3 | 2);
  coded.WriteVarint32(static_cast<uint32_t>(payload.size()));
  coded.WriteString(payload);
  coded.Trim();
  return out;
}

// A serialized `type` whose first string field reachable within a few nested
// messages holds invalid UTF-8, with the path to it; nullopt when `type` has
// no string field.
std::optional<std::pair<std::string, std::string>> WithInvalidUtf8(
    const Descriptor* type, int depth = 0) {
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* field = type->field(i);
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      return std::make_pair(
          LengthDelimited(field->number(), "ok \xc3\x28"),
          field->name() + (field->is_repeated() ? "[0]" : ""));
    }
  }
  if (depth >= 3) return std::nullopt;
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* field = type->field(i);
    if (field->type() != FieldDescriptor::TYPE_MESSAGE) continue;
    auto inner = WithInvalidUtf8(field->message_type(), depth + 1);
    if (inner.has_value()) {
      const bool indexed = field->is_repeated() && !field->is_map();
      return std::make_pair(
          LengthDelimited(field->number(), inner->first),
          field->name() + (indexed ? "[0]." : ".") + inner->second);
    }
  }
  return std::nullopt;
}

class UndecodableRequestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(daemon_.Start());
    stub_ = std::make_unique<grpc::GenericStub>(daemon_.channel());
  }

  grpc::Status RawCall(const std::string& method, const std::string& bytes) {
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    auto context = CallAs();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(20));
    std::promise<grpc::Status> done;
    stub_->UnaryCall(context.get(), method, grpc::StubOptions(), &request,
                     &response,
                     [&done](grpc::Status status) { done.set_value(status); });
    return done.get_future().get();
  }

  // Every method of every sequencer.v1 service, as "/service/method", with
  // its request type.
  std::vector<std::pair<std::string, const Descriptor*>> Methods() {
    std::vector<std::pair<std::string, const Descriptor*>> methods;
    for (const char* name : kServices) {
      const google::protobuf::ServiceDescriptor* service =
          google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
              name);
      EXPECT_NE(service, nullptr) << name;
      if (service == nullptr) continue;
      for (int i = 0; i < service->method_count(); ++i) {
        methods.emplace_back(
            absl::StrCat("/", name, "/", service->method(i)->name()),
            service->method(i)->input_type());
      }
    }
    return methods;
  }

  void ExpectUndecodable(const std::string& method, const Descriptor* type,
                         const std::string& bytes,
                         const std::string& reason = "") {
    grpc::Status status = RawCall(method, bytes);
    EXPECT_NE(status.error_message().find(reason), std::string::npos)
        << status.error_message();
    EXPECT_THAT(status, StatusIs(grpc::StatusCode::INVALID_ARGUMENT))
        << status.error_code() << " " << status.error_message();
    EXPECT_NE(status.error_message().find("could not be decoded"),
              std::string::npos)
        << status.error_message();
    EXPECT_NE(status.error_message().find(type->full_name()), std::string::npos)
        << status.error_message();
  }

  TempDir dir_;
  Daemon daemon_{dir_.Sub("data")};
  std::unique_ptr<grpc::GenericStub> stub_;
};

TEST_F(UndecodableRequestTest,
       MalformedProtobufIsInvalidArgumentForEveryMethod) {
  const auto methods = Methods();
  ASSERT_EQ(methods.size(), 6u + 15u + 5u + 2u + 2u + 2u + 2u);
  for (const auto& [method, type] : methods) {
    SCOPED_TRACE(method);
    // An unterminated varint tag; a length-delimited field 1 cut short.
    ExpectUndecodable(method, type, "\xff\xff\xff\xff\xff",
                      "not valid protobuf");
    ExpectUndecodable(method, type,
                      std::string("\x0a\x05"
                                  "ab",
                                  4),
                      "not valid protobuf");
  }
}

TEST_F(UndecodableRequestTest, InvalidUtf8InAStringFieldIsInvalidArgument) {
  int with_strings = 0;
  for (const auto& [method, type] : Methods()) {
    auto bytes = WithInvalidUtf8(type);
    if (!bytes.has_value()) continue;  // e.g. GetTimeRequest has no string
    ++with_strings;
    SCOPED_TRACE(method + " " + bytes->second);
    ExpectUndecodable(method, type, bytes->first,
                      "field " + bytes->second + " holds invalid UTF-8");
  }
  EXPECT_GE(with_strings, 20);
}

TEST_F(UndecodableRequestTest, TheFieldWithInvalidUtf8IsNamedWhereverItIs) {
  v1::EnrollRecipientsRequest request;
  request.set_request_id("enroll-1");
  request.set_sequence_id("seq");
  for (const char* id : {"r0", "r1", "r2"}) {
    v1::RecipientInput* recipient = request.add_recipients();
    recipient->set_recipient_id(id);
    (*recipient->mutable_variables())["first_name"] = "Ann";
  }
  std::string bytes = request.SerializeAsString();
  // Corrupt the value of r2's variable in place: same length, invalid UTF-8.
  const size_t at = bytes.rfind("Ann");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 3, "A\xc3\x28");
  ExpectUndecodable("/sequencer.v1.RecipientService/EnrollRecipients",
                    v1::EnrollRecipientsRequest::descriptor(), bytes,
                    "field recipients[2].variables.value holds invalid UTF-8");
}

TEST_F(UndecodableRequestTest, TheServerKeepsServingAndDecodableCallsWork) {
  for (const auto& [method, type] : Methods()) {
    RawCall(method, "\xff\xff\xff");
  }
  // Valid bytes reach the handler: a GetSequence of a missing sequence.
  v1::GetSequenceRequest request;
  request.set_sequence_id("missing");
  grpc::Status status = RawCall("/sequencer.v1.SequenceService/GetSequence",
                                request.SerializeAsString());
  EXPECT_THAT(status, StatusIs(grpc::StatusCode::NOT_FOUND))
      << status.error_message();
  // An empty body is a valid (all-default) message: validated as usual.
  status = RawCall("/sequencer.v1.SequenceService/GetSequence", "");
  EXPECT_THAT(status, StatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_NE(status.error_message().find("sequence_id"), std::string::npos)
      << status.error_message();
}

TEST(UndecodableRequestLogTest, InvalidUtf8DoesNotFillTheServersLog) {
  TempDir dir;
  Daemon daemon(dir.Sub("data"), /*capture_stderr=*/true);
  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  grpc::GenericStub stub(daemon.channel());
  auto bytes = WithInvalidUtf8(v1::EnrollRecipientsRequest::descriptor());
  ASSERT_TRUE(bytes.has_value());
  for (int i = 0; i < 20; ++i) {
    grpc::Slice slice(bytes->first);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    auto context = CallAs();
    std::promise<grpc::Status> done;
    stub.UnaryCall(context.get(),
                   "/sequencer.v1.RecipientService/EnrollRecipients",
                   grpc::StubOptions(), &request, &response,
                   [&done](grpc::Status status) { done.set_value(status); });
    ASSERT_THAT(done.get_future().get(),
                StatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  }
  // Everything the daemon wrote after start-up, up to its exit: the refusals
  // went to the clients, not to the log.
  daemon.process().Kill(SIGTERM);
  absl::StatusOr<std::string> output =
      daemon.process().ReadAll(Daemon::kTimeout);
  ASSERT_TRUE(output.ok()) << output.status();
  EXPECT_TRUE(absl::StrContains(*output, "shutting down")) << *output;
  EXPECT_FALSE(absl::StrContains(*output, "UTF-8")) << *output;
}

}  // namespace
}  // namespace sequencer::testing
