// Bad input through a real server: each refusal answers its precise status
// code and writes nothing (the event log is unchanged); the limits themselves
// are accepted.

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "app/storage/event_codec.h"
#include "gtest/gtest.h"
#include "sequencer/v1/admin.grpc.pb.h"
#include "server/status_conversion.h"
#include "tests/util/api_helpers.h"
#include "tests/util/grpc_status_matchers.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

const std::string kId128(128, 'a');
const std::string kId129(129, 'a');

// Malformed or oversized ids, for every id field.
std::vector<std::string> BadIds() {
  return {"", "a/b", "has space", " lead", "tab\tid", kId129, "caf\xc3\xa9"};
}

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CreateSequence(server_, "seq",
                   {EmailStep(absl::Hours(24)), SmsStep(absl::Hours(48))});
    Enroll(server_, "seq", {"r1"});
  }

  // Runs `call`, expects `code`, and checks that nothing was written.
  void ExpectRefused(const std::string& what, grpc::StatusCode code,
                     const std::function<grpc::Status()>& call) {
    SCOPED_TRACE(what);
    const std::vector<std::string> before = LogSnapshot(server_);
    grpc::Status status = call();
    EXPECT_THAT(status, StatusIs(code)) << status.error_message();
    EXPECT_FALSE(status.error_message().empty());
    EXPECT_EQ(LogSnapshot(server_), before);
    if (code == grpc::StatusCode::INVALID_ARGUMENT) {
      // The standard detail names the field at fault.
      std::optional<google::rpc::BadRequest> bad_request =
          server::BadRequestFromGrpcStatus(status);
      ASSERT_TRUE(bad_request.has_value()) << status.error_message();
      ASSERT_EQ(bad_request->field_violations_size(), 1);
      const auto& violation = bad_request->field_violations(0);
      EXPECT_FALSE(violation.field().empty());
      EXPECT_FALSE(violation.description().empty());
      EXPECT_EQ(absl::StrCat(violation.field(), ": ", violation.description()),
                status.error_message());
    }
  }

  v1::CreateSequenceRequest SequenceRequest(
      const std::string& sequence_id,
      const std::vector<v1::StepDefinition>& steps) {
    v1::CreateSequenceRequest request;
    request.set_request_id(NextRequestId());
    request.set_sequence_id(sequence_id);
    request.set_name("A sequence");
    for (const auto& step : steps) *request.add_steps() = step;
    return request;
  }

  grpc::Status Create(const v1::CreateSequenceRequest& request) {
    v1::CreateSequenceResponse response;
    return server_.sequences().CreateSequence(CallAs().get(), request,
                                              &response);
  }

  // A valid CreateSequence with one step changed by `mutate`.
  grpc::Status CreateWithStep(const std::string& id,
                              const v1::StepDefinition& step) {
    return Create(SequenceRequest(id, {step}));
  }

  v1::EnrollRecipientsRequest EnrollRequest(
      const std::vector<std::string>& ids) {
    v1::EnrollRecipientsRequest request;
    request.set_request_id(NextRequestId());
    request.set_sequence_id("seq");
    for (const auto& id : ids) {
      v1::RecipientInput* input = request.add_recipients();
      input->set_recipient_id(id);
      (*input->mutable_variables())["first_name"] = "Ann";
    }
    return request;
  }

  grpc::Status EnrollCall(const v1::EnrollRecipientsRequest& request,
                          v1::EnrollRecipientsResponse* out = nullptr) {
    v1::EnrollRecipientsResponse ignored;
    return server_.recipients().EnrollRecipients(
        CallAs().get(), request, out == nullptr ? &ignored : out);
  }

  TestServer server_;
};

// ---- Ids.

TEST_F(BadInputTest, BadRequestIdIsInvalidArgumentOnEveryMutatingCall) {
  for (const std::string& bad : BadIds()) {
    const std::string what = absl::StrCat("request_id \"", bad, "\"");
    ExpectRefused(what + " create", grpc::StatusCode::INVALID_ARGUMENT, [&] {
      v1::CreateSequenceRequest request =
          SequenceRequest("new-seq", {EmailStep(absl::Hours(1))});
      request.set_request_id(bad);
      return Create(request);
    });
    ExpectRefused(what + " enroll", grpc::StatusCode::INVALID_ARGUMENT, [&] {
      v1::EnrollRecipientsRequest request = EnrollRequest({"r9"});
      request.set_request_id(bad);
      return EnrollCall(request);
    });
    ExpectRefused(what + " pause", grpc::StatusCode::INVALID_ARGUMENT, [&] {
      v1::RecipientActionRequest request = ActionRequest("seq", "r1");
      request.set_request_id(bad);
      v1::Recipient out;
      return server_.recipients().PauseRecipient(CallAs().get(), request, &out);
    });
    ExpectRefused(what + " edit", grpc::StatusCode::INVALID_ARGUMENT, [&] {
      v1::EditContentRequest request;
      request.set_request_id(bad);
      request.set_sequence_id("seq");
      request.set_recipient_id("r1");
      request.set_step_index(1);
      request.mutable_edit()->set_body("x");
      v1::Recipient out;
      return server_.recipients().EditContent(CallAs().get(), request, &out);
    });
    ExpectRefused(what + " signal", grpc::StatusCode::INVALID_ARGUMENT, [&] {
      v1::RecordSignalRequest request;
      request.set_request_id(bad);
      request.set_sequence_id("seq");
      request.set_recipient_id("r1");
      request.set_signal(v1::SIGNAL_TYPE_REPLY);
      v1::Recipient out;
      return server_.recipients().RecordSignal(CallAs().get(), request, &out);
    });
  }
  // 128 characters are fine.
  v1::RecipientActionRequest request = ActionRequest("seq", "r1");
  request.set_request_id(kId128);
  v1::Recipient out;
  EXPECT_TRUE(
      server_.recipients().PauseRecipient(CallAs().get(), request, &out).ok());
}

TEST_F(BadInputTest, BadSequenceIdIsInvalidArgument) {
  for (const std::string& bad : BadIds()) {
    const std::string what = absl::StrCat("sequence_id \"", bad, "\"");
    if (!bad.empty()) {  // Empty means "generate one" on create.
      ExpectRefused(what + " create", grpc::StatusCode::INVALID_ARGUMENT, [&] {
        return Create(SequenceRequest(bad, {EmailStep(absl::Hours(1))}));
      });
    }
    ExpectRefused(what + " get", grpc::StatusCode::INVALID_ARGUMENT, [&] {
      v1::GetSequenceRequest request;
      request.set_sequence_id(bad);
      v1::Sequence out;
      return server_.sequences().GetSequence(CallAs().get(), request, &out);
    });
    ExpectRefused(what + " report", grpc::StatusCode::INVALID_ARGUMENT, [&] {
      v1::GetSequenceReportRequest request;
      request.set_sequence_id(bad);
      v1::SequenceReport out;
      return server_.sequences().GetSequenceReport(CallAs().get(), request,
                                                   &out);
    });
    ExpectRefused(what + " enroll", grpc::StatusCode::INVALID_ARGUMENT, [&] {
      v1::EnrollRecipientsRequest request = EnrollRequest({"r9"});
      request.set_sequence_id(bad);
      return EnrollCall(request);
    });
    ExpectRefused(what + " pause", grpc::StatusCode::INVALID_ARGUMENT,
                  [&] { return Act(server_, v1::ACTION_PAUSE, bad, "r1"); });
    ExpectRefused(what + " list", grpc::StatusCode::INVALID_ARGUMENT, [&] {
      v1::ListRecipientsRequest request;
      request.set_sequence_id(bad);
      v1::ListRecipientsResponse out;
      return server_.recipients().ListRecipients(CallAs().get(), request, &out);
    });
  }
  // A 128-character id is fine; an empty one is generated.
  EXPECT_TRUE(
      Create(SequenceRequest(kId128, {EmailStep(absl::Hours(1))})).ok());
  v1::CreateSequenceResponse generated;
  ASSERT_TRUE(
      server_.sequences()
          .CreateSequence(CallAs().get(),
                          SequenceRequest("", {EmailStep(absl::Hours(1))}),
                          &generated)
          .ok());
  EXPECT_FALSE(generated.sequence().sequence_id().empty());
}

TEST_F(BadInputTest, BadRecipientIdIsInvalidArgument) {
  for (const std::string& bad : BadIds()) {
    const std::string what = absl::StrCat("recipient_id \"", bad, "\"");
    ExpectRefused(what + " enroll", grpc::StatusCode::INVALID_ARGUMENT, [&] {
      return EnrollCall(EnrollRequest({"ok-1", bad}));
    });
    ExpectRefused(what + " get", grpc::StatusCode::INVALID_ARGUMENT, [&] {
      v1::Recipient out;
      return GetRecipient(server_, "seq", bad, &out);
    });
    for (v1::Action action :
         {v1::ACTION_PAUSE, v1::ACTION_STOP, v1::ACTION_DELETE}) {
      ExpectRefused(what + " " + v1::Action_Name(action),
                    grpc::StatusCode::INVALID_ARGUMENT,
                    [&] { return Act(server_, action, "seq", bad); });
    }
    ExpectRefused(what + " signal", grpc::StatusCode::INVALID_ARGUMENT, [&] {
      return Signal(server_, "seq", bad, v1::SIGNAL_TYPE_REPLY);
    });
  }
  // Recipient ids may hold '@' and '+', up to 128 characters.
  EXPECT_TRUE(EnrollCall(EnrollRequest({"ann+x@example.com", kId128})).ok());
}

TEST_F(BadInputTest, UnknownSequenceOrRecipientIsNotFound) {
  ExpectRefused("enroll into unknown sequence", grpc::StatusCode::NOT_FOUND,
                [&] {
                  v1::EnrollRecipientsRequest request = EnrollRequest({"r9"});
                  request.set_sequence_id("nope");
                  return EnrollCall(request);
                });
  ExpectRefused("pause unknown recipient", grpc::StatusCode::NOT_FOUND, [&] {
    return Act(server_, v1::ACTION_PAUSE, "seq", "nobody");
  });
  ExpectRefused("signal unknown recipient", grpc::StatusCode::NOT_FOUND, [&] {
    return Signal(server_, "seq", "nobody", v1::SIGNAL_TYPE_BOUNCE);
  });
}

// ---- Enum values.

TEST_F(BadInputTest, UnknownEnumValuesAreInvalidArgument) {
  for (int type : {0, 5, 99}) {
    ExpectRefused(absl::StrCat("step type ", type),
                  grpc::StatusCode::INVALID_ARGUMENT, [&] {
                    v1::StepDefinition step = EmailStep(absl::Hours(1));
                    step.set_type(static_cast<v1::StepType>(type));
                    return CreateWithStep("s-type", step);
                  });
  }
  ExpectRefused("step mode 99", grpc::StatusCode::INVALID_ARGUMENT, [&] {
    v1::StepDefinition step = EmailStep(absl::Hours(1));
    step.set_mode(static_cast<v1::StepMode>(99));
    return CreateWithStep("s-mode", step);
  });
  for (int signal : {0, 5, 99}) {
    ExpectRefused(absl::StrCat("signal ", signal),
                  grpc::StatusCode::INVALID_ARGUMENT, [&] {
                    return Signal(server_, "seq", "r1",
                                  static_cast<v1::SignalType>(signal));
                  });
  }
  for (int status : {0, 11, 99}) {
    ExpectRefused(
        absl::StrCat("status filter ", status),
        grpc::StatusCode::INVALID_ARGUMENT, [&] {
          v1::ListRecipientsRequest request;
          request.set_sequence_id("seq");
          request.add_statuses(v1::RECIPIENT_STATUS_IN_PROGRESS);
          request.add_statuses(static_cast<v1::RecipientStatus>(status));
          v1::ListRecipientsResponse out;
          return server_.recipients().ListRecipients(CallAs().get(), request,
                                                     &out);
        });
  }
}

// ---- Sequence limits.

TEST_F(BadInputTest, DelayMustBeBetweenZeroAnd365Days) {
  ExpectRefused("negative delay", grpc::StatusCode::INVALID_ARGUMENT, [&] {
    return CreateWithStep("s-neg", EmailStep(absl::Seconds(-1)));
  });
  ExpectRefused("366 days", grpc::StatusCode::INVALID_ARGUMENT, [&] {
    return CreateWithStep("s-366", EmailStep(absl::Hours(24 * 366)));
  });
  ExpectRefused(
      "365 days and a second", grpc::StatusCode::INVALID_ARGUMENT, [&] {
        return CreateWithStep(
            "s-365s", EmailStep(absl::Hours(24 * 365) + absl::Seconds(1)));
      });
  ExpectRefused("negative nanos", grpc::StatusCode::INVALID_ARGUMENT, [&] {
    v1::StepDefinition step = EmailStep(absl::ZeroDuration());
    step.mutable_delay()->set_nanos(-5);
    return CreateWithStep("s-nanos", step);
  });
  EXPECT_TRUE(CreateWithStep("s-365", EmailStep(absl::Hours(24 * 365))).ok());
  EXPECT_TRUE(CreateWithStep("s-0", EmailStep(absl::ZeroDuration())).ok());
}

TEST_F(BadInputTest, StepCountMustBeOneTo50) {
  std::vector<v1::StepDefinition> steps(51, EmailStep(absl::Hours(1)));
  ExpectRefused("51 steps", grpc::StatusCode::INVALID_ARGUMENT,
                [&] { return Create(SequenceRequest("s-51", steps)); });
  ExpectRefused("0 steps", grpc::StatusCode::INVALID_ARGUMENT,
                [&] { return Create(SequenceRequest("s-0", {})); });
  steps.pop_back();
  EXPECT_TRUE(Create(SequenceRequest("s-50", steps)).ok());
}

TEST_F(BadInputTest, NameMustBeOneTo120Characters) {
  ExpectRefused("empty name", grpc::StatusCode::INVALID_ARGUMENT, [&] {
    v1::CreateSequenceRequest request =
        SequenceRequest("s-name", {EmailStep(absl::Hours(1))});
    request.set_name("");
    return Create(request);
  });
  ExpectRefused("121 characters", grpc::StatusCode::INVALID_ARGUMENT, [&] {
    v1::CreateSequenceRequest request =
        SequenceRequest("s-name", {EmailStep(absl::Hours(1))});
    request.set_name(std::string(121, 'n'));
    return Create(request);
  });
  ExpectRefused("121 two-byte characters", grpc::StatusCode::INVALID_ARGUMENT,
                [&] {
                  v1::CreateSequenceRequest request =
                      SequenceRequest("s-name", {EmailStep(absl::Hours(1))});
                  std::string name;
                  for (int i = 0; i < 121; ++i) name += "\xc3\xa9";
                  request.set_name(name);
                  return Create(request);
                });
  v1::CreateSequenceRequest request =
      SequenceRequest("s-name", {EmailStep(absl::Hours(1))});
  request.set_name(std::string(120, 'n'));
  EXPECT_TRUE(Create(request).ok());
  // 120 characters of two bytes each: counted in characters.
  request = SequenceRequest("s-name2", {EmailStep(absl::Hours(1))});
  std::string name;
  for (int i = 0; i < 120; ++i) name += "\xc3\xa9";
  request.set_name(name);
  EXPECT_TRUE(Create(request).ok());
}

TEST_F(BadInputTest, ContentSizeLimits) {
  ExpectRefused("subject 999", grpc::StatusCode::INVALID_ARGUMENT, [&] {
    return CreateWithStep("s-c",
                          EmailStep(absl::Hours(1), std::string(999, 's')));
  });
  ExpectRefused("body 256 KiB + 1", grpc::StatusCode::INVALID_ARGUMENT, [&] {
    return CreateWithStep("s-c", EmailStep(absl::Hours(1), "s",
                                           std::string(256 * 1024 + 1, 'b')));
  });
  ExpectRefused("sms 1601", grpc::StatusCode::INVALID_ARGUMENT, [&] {
    return CreateWithStep("s-c",
                          SmsStep(absl::Hours(1), std::string(1601, 'x')));
  });
  EXPECT_TRUE(CreateWithStep("s-subject",
                             EmailStep(absl::Hours(1), std::string(998, 's')))
                  .ok());
  EXPECT_TRUE(CreateWithStep("s-body", EmailStep(absl::Hours(1), "s",
                                                 std::string(256 * 1024, 'b')))
                  .ok());
  EXPECT_TRUE(
      CreateWithStep("s-sms", SmsStep(absl::Hours(1), std::string(1600, 'x')))
          .ok());
}

TEST_F(BadInputTest, FieldsNotFittingTheStepTypeAreInvalidArgument) {
  ExpectRefused("sms with subject", grpc::StatusCode::INVALID_ARGUMENT, [&] {
    v1::StepDefinition step = SmsStep(absl::Hours(1));
    step.mutable_content()->set_subject("no subject on SMS");
    return CreateWithStep("s-f", step);
  });
  ExpectRefused("email with message", grpc::StatusCode::INVALID_ARGUMENT, [&] {
    v1::StepDefinition step = EmailStep(absl::Hours(1));
    step.mutable_content()->set_message("no message on email");
    return CreateWithStep("s-f", step);
  });
  ExpectRefused("task with body", grpc::StatusCode::INVALID_ARGUMENT, [&] {
    v1::StepDefinition step = TaskStep(absl::Hours(1));
    step.mutable_content()->set_body("no body on a task");
    return CreateWithStep("s-f", step);
  });
}

TEST_F(BadInputTest, BadPlaceholdersAreInvalidArgument) {
  for (const std::string bad :
       {"Hi {{Unknown_var}}", "Hi {{first_name", "Hi {{ }}", "Hi {{}}",
        "Hi first_name}}", "{% if x %}", "{{aira.Bad-Key}}", "{{custom.}}"}) {
    ExpectRefused("subject " + bad, grpc::StatusCode::INVALID_ARGUMENT, [&] {
      return CreateWithStep("s-p", EmailStep(absl::Hours(1), bad));
    });
    ExpectRefused("sms " + bad, grpc::StatusCode::INVALID_ARGUMENT, [&] {
      return CreateWithStep("s-p", SmsStep(absl::Hours(1), bad));
    });
  }
  EXPECT_TRUE(
      CreateWithStep("s-p", SmsStep(absl::Hours(1),
                                    "Hi {{ first_name }} of "
                                    "{{company}}: {{aira.opening_line}} "
                                    "{{custom.role_2}} in {{city}}"))
          .ok());
}

TEST_F(BadInputTest, ExistingSequenceIdIsAlreadyExists) {
  ExpectRefused("seq again", grpc::StatusCode::ALREADY_EXISTS, [&] {
    return Create(SequenceRequest("seq", {SmsStep(absl::Hours(2))}));
  });
  // Ids are per tenant.
  v1::CreateSequenceResponse response;
  EXPECT_TRUE(
      server_.sequences()
          .CreateSequence(CallAs("tenant-b").get(),
                          SequenceRequest("seq", {SmsStep(absl::Hours(2))}),
                          &response)
          .ok());
}

// ---- Enrollment.

TEST_F(BadInputTest, DuplicateRecipientIdsAreAlreadyExistsAndNobodyEnrolls) {
  ExpectRefused("twice in one request", grpc::StatusCode::ALREADY_EXISTS, [&] {
    return EnrollCall(EnrollRequest({"a", "b", "a"}));
  });
  v1::Recipient out;
  EXPECT_THAT(GetRecipient(server_, "seq", "a", &out),
              StatusIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_THAT(GetRecipient(server_, "seq", "b", &out),
              StatusIs(grpc::StatusCode::NOT_FOUND));
  ExpectRefused("already enrolled", grpc::StatusCode::ALREADY_EXISTS, [&] {
    return EnrollCall(EnrollRequest({"c", "r1"}));
  });
  EXPECT_THAT(GetRecipient(server_, "seq", "c", &out),
              StatusIs(grpc::StatusCode::NOT_FOUND));
  // The same id in another sequence is fine.
  CreateSequence(server_, "seq-2", {EmailStep(absl::Hours(1))});
  v1::EnrollRecipientsRequest other = EnrollRequest({"r1"});
  other.set_sequence_id("seq-2");
  EXPECT_TRUE(EnrollCall(other).ok());
}

TEST_F(BadInputTest, ZeroRecipientsIsInvalidArgument) {
  ExpectRefused("no recipients", grpc::StatusCode::INVALID_ARGUMENT,
                [&] { return EnrollCall(EnrollRequest({})); });
}

TEST_F(BadInputTest, VariableNamesOfAnotherSyntaxAreInvalidArgument) {
  for (const std::string& name : std::vector<std::string>{
           "1st_color", "First_Name", "aira.", "aira.Bad", "custom.x-y", "",
           "a..b", std::string(65, 'v')}) {
    ExpectRefused("variable " + name, grpc::StatusCode::INVALID_ARGUMENT, [&] {
      v1::EnrollRecipientsRequest request = EnrollRequest({"ok-1", "v1"});
      (*request.mutable_recipients(1)->mutable_variables())[name] = "x";
      return EnrollCall(request);
    });
  }
  v1::Recipient out;
  EXPECT_THAT(GetRecipient(server_, "seq", "ok-1", &out),
              StatusIs(grpc::StatusCode::NOT_FOUND));
  v1::EnrollRecipientsRequest good = EnrollRequest({"v2"});
  auto& vars = *good.mutable_recipients(0)->mutable_variables();
  vars["aira.opening_line"] = "Loved your talk";
  vars["custom.role_2"] = "CTO";
  vars["favorite_color"] = "teal";  // Custom names are free.
  vars["company"] = "Acme";
  EXPECT_TRUE(EnrollCall(good).ok());
}

TEST_F(BadInputTest, AtMost10000RecipientsPerCall) {
  std::vector<std::string> ids;
  for (int i = 0; i < 10001; ++i) ids.push_back(absl::StrCat("bulk-", i));
  ExpectRefused("10,001 recipients", grpc::StatusCode::RESOURCE_EXHAUSTED,
                [&] { return EnrollCall(EnrollRequest(ids)); });
  ids.pop_back();
  v1::EnrollRecipientsResponse response;
  grpc::Status status = EnrollCall(EnrollRequest(ids), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.enrolled_count(), 10000);
  EXPECT_EQ(MustGetRecipient(server_, "seq", "bulk-9999").status(),
            v1::RECIPIENT_STATUS_IN_PROGRESS);
}

// ---- Paging.

TEST_F(BadInputTest, PageSizeMustBeZeroTo1000) {
  for (int size : {-1, 1001}) {
    ExpectRefused(absl::StrCat("recipients page_size ", size),
                  grpc::StatusCode::INVALID_ARGUMENT, [&] {
                    v1::ListRecipientsRequest request;
                    request.set_sequence_id("seq");
                    request.set_page_size(size);
                    v1::ListRecipientsResponse out;
                    return server_.recipients().ListRecipients(CallAs().get(),
                                                               request, &out);
                  });
    ExpectRefused(absl::StrCat("sequences page_size ", size),
                  grpc::StatusCode::INVALID_ARGUMENT, [&] {
                    v1::ListSequencesRequest request;
                    request.set_page_size(size);
                    v1::ListSequencesResponse out;
                    return server_.sequences().ListSequences(CallAs().get(),
                                                             request, &out);
                  });
  }
  v1::ListRecipientsRequest request;
  request.set_sequence_id("seq");
  request.set_page_size(1000);
  v1::ListRecipientsResponse out;
  EXPECT_TRUE(
      server_.recipients().ListRecipients(CallAs().get(), request, &out).ok());
  EXPECT_EQ(out.recipients_size(), 1);
}

TEST_F(BadInputTest, OversizedSignalDetailIsInvalidArgument) {
  ExpectRefused("detail 4097 bytes", grpc::StatusCode::INVALID_ARGUMENT, [&] {
    return Signal(server_, "seq", "r1", v1::SIGNAL_TYPE_REPLY, nullptr,
                  std::string(4097, 'd'));
  });
}

// ---- Audit and admin calls.

TEST_F(BadInputTest, AuditAndAdminBadInputIsInvalidArgument) {
  auto audit = v1::AuditService::NewStub(server_.channel());
  auto admin = v1::AdminService::NewStub(server_.channel());
  auto as_of =
      [&](const std::string& sequence_id, const std::string& recipient_id,
          const std::function<void(v1::GetRecipientAsOfRequest*)>& set_point) {
        v1::GetRecipientAsOfRequest request;
        request.set_sequence_id(sequence_id);
        request.set_recipient_id(recipient_id);
        set_point(&request);
        v1::RecipientAsOf out;
        return audit->GetRecipientAsOf(CallAs().get(), request, &out);
      };
  auto now = [](v1::GetRecipientAsOfRequest*) {};
  for (const std::string& bad : BadIds()) {
    ExpectRefused(absl::StrCat("as of, sequence_id \"", bad, "\""),
                  grpc::StatusCode::INVALID_ARGUMENT,
                  [&] { return as_of(bad, "r1", now); });
    ExpectRefused(absl::StrCat("as of, recipient_id \"", bad, "\""),
                  grpc::StatusCode::INVALID_ARGUMENT,
                  [&] { return as_of("seq", bad, now); });
  }
  ExpectRefused("as of, version 0", grpc::StatusCode::INVALID_ARGUMENT, [&] {
    return as_of("seq", "r1",
                 [](v1::GetRecipientAsOfRequest* r) { r->set_version(0); });
  });
  for (const auto& [bad_seconds, bad_nanos] :
       std::vector<std::pair<int64_t, int32_t>>{
           {0, -1}, {0, 1000000000}, {-62135596801, 0}, {253402300800, 0}}) {
    // Copies: a lambda cannot capture a structured binding in C++17.
    const int64_t seconds = bad_seconds;
    const int32_t nanos = bad_nanos;
    ExpectRefused(absl::StrCat("as of ", seconds, "s ", nanos, "ns"),
                  grpc::StatusCode::INVALID_ARGUMENT, [&] {
                    return as_of("seq", "r1",
                                 [&](v1::GetRecipientAsOfRequest* r) {
                                   r->mutable_as_of()->set_seconds(seconds);
                                   r->mutable_as_of()->set_nanos(nanos);
                                 });
                  });
  }
  ExpectRefused("as of, unknown recipient", grpc::StatusCode::NOT_FOUND,
                [&] { return as_of("seq", "nobody", now); });
  EXPECT_TRUE(as_of("seq", "r1", now).ok());
  for (int limit : {-1, 1001}) {
    ExpectRefused(absl::StrCat("events limit ", limit),
                  grpc::StatusCode::INVALID_ARGUMENT, [&] {
                    v1::ReadEventsRequest request;
                    request.set_limit(limit);
                    v1::ReadEventsResponse out;
                    return audit->ReadEvents(CallAs().get(), request, &out);
                  });
  }
  for (const std::string& directory :
       {std::string(), std::string("relative/backup"),
        server_.data_dir() + "/no/such/parent/backup"}) {
    ExpectRefused(absl::StrCat("backup into \"", directory, "\""),
                  grpc::StatusCode::INVALID_ARGUMENT, [&] {
                    v1::BackupRequest request;
                    request.set_directory(directory);
                    v1::BackupResponse out;
                    grpc::ClientContext context;
                    return admin->Backup(&context, request, &out);
                  });
  }
  ExpectRefused("backup into the data directory",
                grpc::StatusCode::ALREADY_EXISTS, [&] {
                  v1::BackupRequest request;
                  request.set_directory(server_.data_dir());
                  v1::BackupResponse out;
                  grpc::ClientContext context;
                  return admin->Backup(&context, request, &out);
                });
}

}  // namespace
}  // namespace sequencer::testing
