#include "tests/util/api_helpers.h"

#include <atomic>
#include <limits>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "server/codec.h"
#include "server/status_conversion.h"

namespace sequencer::testing {

v1::StepDefinition EmailStep(absl::Duration delay, const std::string& subject,
                             const std::string& body) {
  v1::StepDefinition step;
  step.set_type(v1::STEP_TYPE_EMAIL);
  *step.mutable_delay() = server::ToProtoDuration(delay);
  step.mutable_content()->set_subject(subject);
  step.mutable_content()->set_body(body);
  return step;
}

v1::StepDefinition SmsStep(absl::Duration delay, const std::string& body) {
  v1::StepDefinition step;
  step.set_type(v1::STEP_TYPE_SMS);
  *step.mutable_delay() = server::ToProtoDuration(delay);
  step.mutable_content()->set_body(body);
  return step;
}

v1::StepDefinition TaskStep(absl::Duration delay, const std::string& details) {
  v1::StepDefinition step;
  step.set_type(v1::STEP_TYPE_TASK);
  *step.mutable_delay() = server::ToProtoDuration(delay);
  step.mutable_content()->set_details(details);
  return step;
}

std::string NextRequestId() {
  static std::atomic<int> next{1};
  return absl::StrCat("req-", next.fetch_add(1));
}

v1::Sequence CreateSequence(TestServer& server, const std::string& sequence_id,
                            const std::vector<v1::StepDefinition>& steps,
                            bool stop_on_response, const std::string& tenant) {
  v1::CreateSequenceRequest request;
  request.set_request_id(NextRequestId());
  request.set_sequence_id(sequence_id);
  request.set_name(absl::StrCat("Sequence ", sequence_id));
  for (const auto& step : steps) *request.add_steps() = step;
  request.set_stop_on_response(stop_on_response);
  v1::CreateSequenceResponse response;
  grpc::Status status = server.sequences().CreateSequence(CallAs(tenant).get(),
                                                          request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.sequence();
}

void Enroll(TestServer& server, const std::string& sequence_id,
            const std::vector<std::string>& recipient_ids,
            const std::string& tenant) {
  v1::EnrollRecipientsRequest request;
  request.set_request_id(NextRequestId());
  request.set_sequence_id(sequence_id);
  for (const auto& id : recipient_ids) {
    v1::RecipientInput* input = request.add_recipients();
    input->set_recipient_id(id);
    input->mutable_contact()->set_email(absl::StrCat(id, "@example.com"));
    (*input->mutable_variables())["first_name"] = absl::StrCat("Name-", id);
    (*input->mutable_variables())["company"] = "Acme";
  }
  v1::EnrollRecipientsResponse response;
  grpc::Status status = server.recipients().EnrollRecipients(
      CallAs(tenant).get(), request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.enrolled_count(), static_cast<int>(recipient_ids.size()));
}

grpc::Status GetRecipient(TestServer& server, const std::string& sequence_id,
                          const std::string& recipient_id, v1::Recipient* out,
                          const std::string& tenant) {
  v1::GetRecipientRequest request;
  request.set_sequence_id(sequence_id);
  request.set_recipient_id(recipient_id);
  return server.recipients().GetRecipient(CallAs(tenant).get(), request, out);
}

v1::Recipient MustGetRecipient(TestServer& server,
                               const std::string& sequence_id,
                               const std::string& recipient_id) {
  v1::Recipient recipient;
  grpc::Status status =
      GetRecipient(server, sequence_id, recipient_id, &recipient);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return recipient;
}

v1::RecipientActionRequest ActionRequest(const std::string& sequence_id,
                                         const std::string& recipient_id) {
  v1::RecipientActionRequest request;
  request.set_request_id(NextRequestId());
  request.set_sequence_id(sequence_id);
  request.set_recipient_id(recipient_id);
  return request;
}

google::rpc::ErrorInfo ErrorInfoOf(const grpc::Status& status) {
  return server::ErrorInfoFromGrpcStatus(status).value_or(
      google::rpc::ErrorInfo());
}

::testing::AssertionResult ProtoEquals(const google::protobuf::Message& a,
                                       const google::protobuf::Message& b) {
  google::protobuf::util::MessageDifferencer differencer;
  std::string diff;
  differencer.ReportDifferencesToString(&diff);
  if (differencer.Compare(a, b)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << diff;
}

std::vector<std::string> LogSnapshot(TestServer& server) {
  std::vector<std::string> out;
  auto events = server.store().ReadAll(1, std::numeric_limits<size_t>::max());
  EXPECT_TRUE(events.ok()) << events.status();
  if (!events.ok()) return out;
  for (const auto& event : *events) {
    out.push_back(absl::StrCat(event.position, " ", event.stream, " ",
                               event.version, " ", event.type, " ",
                               event.data));
  }
  return out;
}

}  // namespace sequencer::testing
