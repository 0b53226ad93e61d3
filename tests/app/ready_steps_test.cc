// ReadySteps: put, take and replace by stream; the byte bound drops the
// oldest entries and never the one just put; keys left behind by takes do
// not pile up; ResolveReadyStep answers only for a recipient ready for
// delivery.

#include "app/runtime/ready_steps.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "domain/model.h"
#include "gtest/gtest.h"

namespace sequencer::app {
namespace {

ReadyStep StepWith(const std::string& subject, uint64_t version = 1) {
  ReadyStep step;
  step.recipient_version = version;
  step.sequence_version = 2;
  step.content.subject = subject;
  step.contact.email = "a@example.com";
  return step;
}

TEST(ReadyStepsTest, TakeReturnsWhatWasPutOnceAndAPutReplaces) {
  ReadySteps steps;
  EXPECT_FALSE(steps.Take("rcp/t/s/r1").has_value());
  steps.Put("rcp/t/s/r1", StepWith("first", 3));
  steps.Put("rcp/t/s/r1", StepWith("second", 4));
  steps.Put("rcp/t/s/r2", StepWith("other"));
  EXPECT_EQ(steps.size(), 2u);
  std::optional<ReadyStep> taken = steps.Take("rcp/t/s/r1");
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->content.subject, "second");
  EXPECT_EQ(taken->recipient_version, 4u);
  EXPECT_FALSE(steps.Take("rcp/t/s/r1").has_value());
  EXPECT_EQ(steps.Take("rcp/t/s/r2")->content.subject, "other");
  EXPECT_EQ(steps.size(), 0u);
  EXPECT_EQ(steps.bytes(), 0u);
}

TEST(ReadyStepsTest, TheByteBoundDropsTheOldestEntries) {
  // Room for a few entries of about 1 KiB each.
  ReadySteps steps(/*max_bytes=*/4096);
  const std::string big(1000, 'x');
  for (int i = 0; i < 10; ++i) {
    steps.Put(absl::StrCat("rcp/t/s/r", i), StepWith(big));
    EXPECT_LE(steps.bytes(), 4096u);
  }
  EXPECT_GE(steps.size(), 1u);
  EXPECT_LT(steps.size(), 4u);
  // The newest stays; the oldest went first.
  EXPECT_TRUE(steps.Take("rcp/t/s/r9").has_value());
  EXPECT_FALSE(steps.Take("rcp/t/s/r0").has_value());
  // An entry larger than the whole bound is not kept at all.
  steps.Put("rcp/t/s/huge", StepWith(std::string(8192, 'y')));
  EXPECT_FALSE(steps.Take("rcp/t/s/huge").has_value());
}

TEST(ReadyStepsTest, ReplacedAndTakenEntriesAreNotEvictedInPlaceOfLiveOnes) {
  ReadySteps steps(/*max_bytes=*/4096);
  const std::string big(1000, 'x');
  steps.Put("rcp/t/s/live", StepWith(big));
  // Many puts and takes of other streams: their keys leave the order
  // queue, and the bound only ever counts what is kept.
  for (int i = 0; i < 5000; ++i) {
    const std::string stream = absl::StrCat("rcp/t/s/r", i);
    steps.Put(stream, StepWith("small"));
    ASSERT_TRUE(steps.Take(stream).has_value());
  }
  EXPECT_EQ(steps.size(), 1u);
  EXPECT_TRUE(steps.Take("rcp/t/s/live").has_value());
}

TEST(ReadyStepsTest, ResolveAnswersOnlyForARecipientReadyForDelivery) {
  domain::Sequence sequence;
  sequence.exists = true;
  sequence.version = 1;
  domain::StepDefinition email;
  email.type = domain::StepType::kEmail;
  email.content.subject = "Hello {{first_name}}";
  sequence.steps.push_back(email);

  domain::Recipient recipient;
  recipient.exists = true;
  recipient.version = 5;
  recipient.status = domain::RecipientStatus::kInProgress;
  recipient.contact.email = "ada@example.com";
  recipient.variables["first_name"] = "Ada";
  recipient.steps.resize(1);
  recipient.current_step = 0;
  // Not made due yet: nothing to hand out.
  EXPECT_FALSE(ResolveReadyStep(recipient, sequence).has_value());

  recipient.due_at = absl::FromUnixSeconds(1'800'000'000);
  recipient.awaiting_delivery = true;
  std::optional<ReadyStep> ready = ResolveReadyStep(recipient, sequence);
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(ready->content.subject, "Hello Ada");
  EXPECT_EQ(ready->contact.email, "ada@example.com");
  EXPECT_EQ(ready->recipient_version, 5u);
  EXPECT_EQ(ready->sequence_version, 1u);
  EXPECT_EQ(ready->step_index, 0);

  // A template that names a variable the recipient lacks is not handed out.
  sequence.steps[0].content.subject = "Hello {{company}}";
  EXPECT_FALSE(ResolveReadyStep(recipient, sequence).has_value());
}

}  // namespace
}  // namespace sequencer::app
