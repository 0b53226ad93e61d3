#include "tests/util/api_helpers.h"

#include <atomic>
#include <limits>

#include "absl/strings/str_cat.h"
#include "app/storage/event_codec.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "server/status_conversion.h"

namespace sequencer::testing {

v1::StepDefinition EmailStep(absl::Duration delay, const std::string& subject,
                             const std::string& body) {
  v1::StepDefinition step;
  step.set_type(v1::STEP_TYPE_EMAIL);
  *step.mutable_delay() = app::ToProtoDuration(delay);
  step.mutable_content()->set_subject(subject);
  step.mutable_content()->set_body(body);
  return step;
}

v1::StepDefinition SmsStep(absl::Duration delay, const std::string& body) {
  v1::StepDefinition step;
  step.set_type(v1::STEP_TYPE_SMS);
  *step.mutable_delay() = app::ToProtoDuration(delay);
  step.mutable_content()->set_body(body);
  return step;
}

v1::StepDefinition TaskStep(absl::Duration delay, const std::string& details) {
  v1::StepDefinition step;
  step.set_type(v1::STEP_TYPE_TASK);
  *step.mutable_delay() = app::ToProtoDuration(delay);
  step.mutable_content()->set_details(details);
  return step;
}

std::string NextRequestId() {
  static std::atomic<int> next{1};
  return absl::StrCat("req-", next.fetch_add(1));
}

v1::CreateSequenceRequest SequenceRequest(
    const std::string& sequence_id,
    const std::vector<v1::StepDefinition>& steps, bool stop_on_response) {
  v1::CreateSequenceRequest request;
  request.set_request_id(NextRequestId());
  request.set_sequence_id(sequence_id);
  request.set_name(absl::StrCat("Sequence ", sequence_id));
  for (const auto& step : steps) *request.add_steps() = step;
  request.set_stop_on_response(stop_on_response);
  return request;
}

v1::Sequence CreateSequence(TestServer& server, const std::string& sequence_id,
                            const std::vector<v1::StepDefinition>& steps,
                            bool stop_on_response, const std::string& tenant) {
  const v1::CreateSequenceRequest request =
      SequenceRequest(sequence_id, steps, stop_on_response);
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

// ---- More shorthands for action tests.

namespace {

v1::GetRecipientRequest GetRequest(const std::string& sequence_id,
                                   const std::string& recipient_id) {
  v1::GetRecipientRequest request;
  request.set_sequence_id(sequence_id);
  request.set_recipient_id(recipient_id);
  return request;
}

}  // namespace

grpc::Status Act(TestServer& server, v1::Action action,
                 const std::string& sequence_id,
                 const std::string& recipient_id, v1::Recipient* out) {
  v1::Recipient ignored;
  if (out == nullptr) out = &ignored;
  v1::RecipientActionRequest request = ActionRequest(sequence_id, recipient_id);
  v1::RecipientService::Stub& stub = server.recipients();
  switch (action) {
    case v1::ACTION_PAUSE:
      return stub.PauseRecipient(CallAs().get(), request, out);
    case v1::ACTION_RESUME:
      return stub.ResumeRecipient(CallAs().get(), request, out);
    case v1::ACTION_SKIP_STEP:
      return stub.SkipStep(CallAs().get(), request, out);
    case v1::ACTION_STOP:
      return stub.StopRecipient(CallAs().get(), request, out);
    case v1::ACTION_DELETE: {
      v1::DeleteRecipientResponse response;
      return stub.DeleteRecipient(CallAs().get(), request, &response);
    }
    case v1::ACTION_COMPLETE_MANUAL_STEP: {
      v1::CompleteManualStepRequest complete;
      complete.set_request_id(request.request_id());
      complete.set_sequence_id(sequence_id);
      complete.set_recipient_id(recipient_id);
      return stub.CompleteManualStep(CallAs().get(), complete, out);
    }
    case v1::ACTION_VIEW_CONTENT: {
      v1::RecipientContent content;
      return ViewContent(server, sequence_id, recipient_id, &content);
    }
    default:
      ADD_FAILURE() << "Act does not handle " << v1::Action_Name(action);
      return grpc::Status(grpc::StatusCode::INTERNAL, "unhandled action");
  }
}

v1::Recipient MustAct(TestServer& server, v1::Action action,
                      const std::string& sequence_id,
                      const std::string& recipient_id) {
  v1::Recipient out;
  grpc::Status status = Act(server, action, sequence_id, recipient_id, &out);
  EXPECT_TRUE(status.ok()) << v1::Action_Name(action) << " " << recipient_id
                           << ": " << status.error_message();
  return out;
}

grpc::Status Signal(TestServer& server, const std::string& sequence_id,
                    const std::string& recipient_id, v1::SignalType signal,
                    v1::Recipient* out, const std::string& detail) {
  v1::Recipient ignored;
  if (out == nullptr) out = &ignored;
  v1::RecordSignalRequest request;
  request.set_request_id(NextRequestId());
  request.set_sequence_id(sequence_id);
  request.set_recipient_id(recipient_id);
  request.set_signal(signal);
  request.set_detail(detail);
  return server.recipients().RecordSignal(CallAs().get(), request, out);
}

grpc::Status EditContent(TestServer& server, const std::string& sequence_id,
                         const std::string& recipient_id, int step_index,
                         const v1::ContentEdit& edit, v1::Recipient* out) {
  v1::Recipient ignored;
  if (out == nullptr) out = &ignored;
  v1::EditContentRequest request;
  request.set_request_id(NextRequestId());
  request.set_sequence_id(sequence_id);
  request.set_recipient_id(recipient_id);
  request.set_step_index(step_index);
  *request.mutable_edit() = edit;
  return server.recipients().EditContent(CallAs().get(), request, out);
}

grpc::Status ViewContent(TestServer& server, const std::string& sequence_id,
                         const std::string& recipient_id,
                         v1::RecipientContent* out) {
  return server.recipients().ViewContent(
      CallAs().get(), GetRequest(sequence_id, recipient_id), out);
}

grpc::Status PreviewSkip(TestServer& server, const std::string& sequence_id,
                         const std::string& recipient_id,
                         v1::SkipPreview* out) {
  return server.recipients().PreviewSkipStep(
      CallAs().get(), GetRequest(sequence_id, recipient_id), out);
}

grpc::Status Timeline(TestServer& server, const std::string& sequence_id,
                      const std::string& recipient_id,
                      v1::RecipientTimeline* out) {
  return server.recipients().GetRecipientTimeline(
      CallAs().get(), GetRequest(sequence_id, recipient_id), out);
}

v1::ActionAvailability FindAction(const v1::Recipient& recipient,
                                  v1::Action action) {
  for (const auto& a : recipient.actions()) {
    if (a.action() == action) return a;
  }
  return v1::ActionAvailability();
}

std::string ShortName(v1::Action action) {
  return v1::Action_Name(action).substr(std::string("ACTION_").size());
}

std::string ShortName(v1::RecipientStatus status) {
  return v1::RecipientStatus_Name(status).substr(
      std::string("RECIPIENT_STATUS_").size());
}

}  // namespace sequencer::testing
