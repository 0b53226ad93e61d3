// Sequence creation (every limit at its boundary and one past), pause and
// resume, and folding.

#include "domain/sequence.h"

#include <string>
#include <vector>

#include "domain/refusal.h"
#include "gtest/gtest.h"
#include "tests/domain/domain_test_helpers.h"
#include "tests/util/status_matchers.h"
#include "tests/util/test_util.h"

namespace sequencer::domain::test {
namespace {

using ::sequencer::testing::StatusIs;

CreateSequence Valid() {
  return CreateSequence{
      "seq-1", "Outreach Q4", {Email(Days(1)), Task(Days(2))}, true};
}

absl::Status Create(const CreateSequence& command) {
  return DecideCreateSequence(command, Sequence{}, Ctx(kT0)).status();
}

std::string Repeat(absl::string_view piece, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out.append(piece.data(), piece.size());
  return out;
}

TEST(CreateSequenceTest, ValidSequenceIsCreatedAndFolded) {
  ASSIGN_OR_FAIL(std::vector<SequenceEvent> events,
                 DecideCreateSequence(Valid(), Sequence{}, Ctx(kT0)));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(EventName(events[0].payload), "SequenceCreated");
  Sequence sequence = Evolve(Sequence{}, events[0]);
  EXPECT_TRUE(sequence.exists);
  EXPECT_EQ(sequence.sequence_id, "seq-1");
  EXPECT_EQ(sequence.tenant_id, "tenant-1");
  EXPECT_EQ(sequence.name, "Outreach Q4");
  EXPECT_EQ(sequence.steps.size(), 2u);
  EXPECT_TRUE(sequence.stop_on_response);
  EXPECT_FALSE(sequence.paused);
  EXPECT_EQ(sequence.created_at, kT0);
  EXPECT_EQ(sequence.created_by, "alice@example.com");
  EXPECT_EQ(sequence.version, 1u);
}

TEST(CreateSequenceTest, TaskIsAlwaysManual) {
  CreateSequence command = Valid();
  command.steps[1].mode = StepMode::kAutomatic;
  ASSIGN_OR_FAIL(std::vector<SequenceEvent> events,
                 DecideCreateSequence(command, Sequence{}, Ctx(kT0)));
  const auto& created = std::get<SequenceCreated>(events[0].payload);
  EXPECT_EQ(created.steps[1].mode, StepMode::kManual);
  EXPECT_EQ(created.steps[0].mode, StepMode::kAutomatic);
}

TEST(CreateSequenceTest, ExistingSequenceAlreadyExists) {
  Sequence existing = MakeSequence({Email(Days(1))});
  EXPECT_THAT(DecideCreateSequence(Valid(), existing, Ctx(kT0)).status(),
              StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST(CreateSequenceTest, IdLimits) {
  CreateSequence c = Valid();
  c.sequence_id = std::string(kMaxIdLength, 'x');
  SEQ_EXPECT_OK(Create(c));
  c.sequence_id = std::string(kMaxIdLength + 1, 'x');
  EXPECT_THAT(Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c.sequence_id = "";
  EXPECT_THAT(Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c.sequence_id = "a.b_c:d@e+f-G9";
  SEQ_EXPECT_OK(Create(c));
  for (const char* bad : {"a/b", "a b", "a#b", "é"}) {
    c.sequence_id = bad;
    absl::Status status = Create(c);
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
    EXPECT_NE(status.message().find("sequence_id"), absl::string_view::npos)
        << status;
  }
}

TEST(CreateSequenceTest, NameLimitsCountCharacters) {
  CreateSequence c = Valid();
  c.name = std::string(kMaxSequenceNameLength, 'n');
  SEQ_EXPECT_OK(Create(c));
  c.name = std::string(kMaxSequenceNameLength + 1, 'n');
  EXPECT_THAT(Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
  // 120 two-byte characters (240 bytes) fit; 121 do not.
  c.name = Repeat("é", kMaxSequenceNameLength);
  SEQ_EXPECT_OK(Create(c));
  c.name = Repeat("é", kMaxSequenceNameLength + 1);
  EXPECT_THAT(Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c.name = "";
  EXPECT_THAT(Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c.name = "bad \xff utf8";
  EXPECT_THAT(Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(CreateSequenceTest, StepCountLimits) {
  CreateSequence c = Valid();
  c.steps.assign(kMaxSteps, Email(Days(1)));
  SEQ_EXPECT_OK(Create(c));
  c.steps.assign(kMaxSteps + 1, Email(Days(1)));
  EXPECT_THAT(Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c.steps.clear();
  EXPECT_THAT(Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(CreateSequenceTest, DelayLimits) {
  CreateSequence c = Valid();
  c.steps[1].delay = absl::ZeroDuration();
  SEQ_EXPECT_OK(Create(c));
  c.steps[1].delay = kMaxStepDelay;
  SEQ_EXPECT_OK(Create(c));
  c.steps[1].delay = kMaxStepDelay + absl::Seconds(1);
  EXPECT_THAT(Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c.steps = {Email(Days(1)), Email(Days(1)), Email(Days(1)),
             Email(-absl::Hours(1))};
  absl::Status status = Create(c);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(status.message(),
            "steps[3].delay: must be between 0 and 365 days, got -1h");
}

TEST(CreateSequenceTest, ContentMustFitItsType) {
  CreateSequence c = Valid();
  StepDefinition sms = Sms(Days(1));
  sms.content.subject = "Subject";
  c.steps = {sms};
  absl::Status status = Create(c);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_NE(status.message().find("steps[0].content.subject"),
            absl::string_view::npos)
      << status;
  EXPECT_NE(status.message().find("SMS"), absl::string_view::npos) << status;

  StepDefinition task = Task(Days(1));
  task.content.body = "body";
  c.steps = {task};
  EXPECT_THAT(Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
  StepDefinition social = Social(Days(1));
  social.content.details = "d";
  c.steps = {social};
  EXPECT_THAT(Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
  StepDefinition email = Email(Days(1));
  email.content.message = "m";
  c.steps = {email};
  EXPECT_THAT(Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c.steps = {Sms(Days(1)), Social(Days(1)), Task(Days(1)), Email(Days(1))};
  SEQ_EXPECT_OK(Create(c));
}

TEST(CreateSequenceTest, ContentSizeLimits) {
  CreateSequence c = Valid();
  c.steps = {Email(Days(1), std::string(kMaxEmailSubjectLength, 's'), "b")};
  SEQ_EXPECT_OK(Create(c));
  c.steps = {Email(Days(1), std::string(kMaxEmailSubjectLength + 1, 's'), "b")};
  EXPECT_THAT(Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c.steps = {Email(Days(1), Repeat("ü", kMaxEmailSubjectLength), "b")};
  SEQ_EXPECT_OK(Create(c));

  c.steps = {Email(Days(1), "s", std::string(kMaxEmailBodyBytes, 'b'))};
  SEQ_EXPECT_OK(Create(c));
  c.steps = {Email(Days(1), "s", std::string(kMaxEmailBodyBytes + 1, 'b'))};
  EXPECT_THAT(Create(c), StatusIs(absl::StatusCode::kInvalidArgument));

  c.steps = {Sms(Days(1), std::string(kMaxSmsBodyLength, 'b'))};
  SEQ_EXPECT_OK(Create(c));
  c.steps = {Sms(Days(1), std::string(kMaxSmsBodyLength + 1, 'b'))};
  EXPECT_THAT(Create(c), StatusIs(absl::StatusCode::kInvalidArgument));

  c.steps = {Social(Days(1), std::string(kMaxOtherContentBytes, 'm'))};
  SEQ_EXPECT_OK(Create(c));
  c.steps = {Social(Days(1), std::string(kMaxOtherContentBytes + 1, 'm'))};
  EXPECT_THAT(Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(CreateSequenceTest, ContentMustBeValidTemplates) {
  CreateSequence c = Valid();
  c.steps = {Email(Days(1), "Hi {{Nickname}}", "b")};
  absl::Status status = Create(c);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_NE(status.message().find("Nickname"), absl::string_view::npos)
      << status;
  EXPECT_NE(status.message().find("steps[0].content.subject"),
            absl::string_view::npos)
      << status;
  c.steps = {Task(Days(1), "Call {{first_name")};
  EXPECT_THAT(Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ValidateStepContentTest, NamesTheStep) {
  absl::Status status = ValidateStepContent(
      "steps[7]", StepType::kSms, StepContent{"", "x {{Oops}}", "", ""});
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_NE(status.message().find("steps[7].content.body"),
            absl::string_view::npos)
      << status;
  SEQ_EXPECT_OK(ValidateStepContent("steps[0]", StepType::kTask,
                                    StepContent{"", "", "", "x"}));
}

TEST(SequencePauseResumeTest, PauseAndResume) {
  Sequence sequence = MakeSequence({Email(Days(1))});
  EXPECT_THAT(DecideResumeSequence(sequence, Ctx(kT0)).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSIGN_OR_FAIL(std::vector<SequenceEvent> paused,
                 DecidePauseSequence(sequence, Ctx(kT0)));
  ASSERT_EQ(paused.size(), 1u);
  EXPECT_EQ(EventName(paused[0].payload), "SequencePaused");
  sequence = Evolve(sequence, paused[0]);
  EXPECT_TRUE(sequence.paused);
  EXPECT_EQ(sequence.version, 2u);
  absl::Status again = DecidePauseSequence(sequence, Ctx(kT0)).status();
  EXPECT_THAT(again, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(GetRefusal(again).has_value());
  ASSIGN_OR_FAIL(std::vector<SequenceEvent> resumed,
                 DecideResumeSequence(sequence, Ctx(kT0)));
  EXPECT_EQ(EventName(resumed[0].payload), "SequenceResumed");
  sequence = Evolve(sequence, resumed[0]);
  EXPECT_FALSE(sequence.paused);
  EXPECT_EQ(sequence.version, 3u);
}

TEST(SequencePauseResumeTest, UnknownSequenceIsNotFound) {
  EXPECT_THAT(DecidePauseSequence(Sequence{}, Ctx(kT0)).status(),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(DecideResumeSequence(Sequence{}, Ctx(kT0)).status(),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace sequencer::domain::test
