// The audit use cases on the in-memory store: a recipient as of a time or a
// version sees its sequence as it was then (a sequence pause shows in the
// actions of then), and ReadEvents pages by position over other tenants'
// events and over holes in the log.

#include "app/use_cases/audit.h"

#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "app/use_cases/sequence_pause.h"
#include "gtest/gtest.h"
#include "tests/app/app_fixture.h"
#include "tests/util/forwarding_event_store.h"
#include "tests/util/status_matchers.h"

namespace sequencer::app::testing {
namespace {

using ::sequencer::testing::StatusIs;

constexpr char kSeq[] = "s";

std::string EncodePause(const SequencePauseResult& result) {
  return absl::StrCat(result.sequence.paused ? "paused" : "running");
}

class AppAuditTest : public AppFixture {
 protected:
  absl::StatusOr<RecipientAsOf> AtTime(const std::string& recipient_id,
                                       absl::Time at) {
    AsOfRequest request;
    request.sequence_id = kSeq;
    request.recipient_id = recipient_id;
    request.as_of = at;
    return GetRecipientAsOf(deps_, Call(), request);
  }
  absl::StatusOr<RecipientAsOf> AtVersion(const std::string& recipient_id,
                                          uint64_t version) {
    AsOfRequest request;
    request.sequence_id = kSeq;
    request.recipient_id = recipient_id;
    request.version = version;
    return GetRecipientAsOf(deps_, Call(), request);
  }
  void PauseSequence(bool pause) {
    SequencePauseRequest request;
    request.identity = Identity(NextRequestId(), "/test/SequencePause");
    request.sequence_id = kSeq;
    request.pause = pause;
    ASSERT_TRUE(RunSequencePause(deps_, Call(), request, EncodePause).ok());
  }
};

TEST_F(AppAuditTest, AsOfSeesTheSequenceAsItWasThen) {
  const absl::Time start = clock_.Now();
  ASSERT_TRUE(CreateSequence(kSeq, {EmailStep(absl::Hours(1))}).ok());
  ASSERT_TRUE(Enroll(kSeq, {"alone", "follower"}).ok());
  clock_.Advance(absl::Minutes(10));
  ASSERT_TRUE(Act(kSeq, "alone", domain::PauseRecipient{}).ok());
  clock_.Advance(absl::Minutes(10));  // +20m
  ASSERT_NO_FATAL_FAILURE(PauseSequence(true));
  clock_.Advance(absl::Minutes(10));  // +30m
  ASSERT_NO_FATAL_FAILURE(PauseSequence(false));
  ASSERT_EQ(Recipient(kSeq, "follower").version, 3u);

  auto before = AtTime("follower", start + absl::Minutes(15));
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->recipient.status, domain::RecipientStatus::kInProgress);
  EXPECT_FALSE(before->sequence.paused);
  EXPECT_EQ(before->version, 1u);

  auto during = AtTime("follower", start + absl::Minutes(25));
  ASSERT_TRUE(during.ok()) << during.status();
  EXPECT_EQ(during->recipient.status, domain::RecipientStatus::kPaused);
  EXPECT_TRUE(during->recipient.paused_by_sequence);
  EXPECT_TRUE(during->sequence.paused);
  EXPECT_EQ(during->as_of, start + absl::Minutes(25));
  EXPECT_EQ(during->last_event_at, start + absl::Minutes(20));

  // A recipient with no event then still sees the sequence paused then.
  auto alone = AtTime("alone", start + absl::Minutes(25));
  ASSERT_TRUE(alone.ok()) << alone.status();
  EXPECT_EQ(alone->version, 2u);
  EXPECT_TRUE(alone->sequence.paused);
  EXPECT_FALSE(AtTime("alone", start + absl::Minutes(35))->sequence.paused);

  // By version: the sequence up to that event's log position.
  EXPECT_TRUE(AtVersion("follower", 2)->sequence.paused);
  EXPECT_FALSE(AtVersion("follower", 1)->sequence.paused);
  EXPECT_FALSE(AtVersion("follower", 3)->sequence.paused);
  EXPECT_EQ(AtVersion("follower", 3)->recipient.status,
            domain::RecipientStatus::kInProgress);

  // Content is described at the instant asked for.
  auto steps = AtTime("follower", start + absl::Minutes(5));
  ASSERT_TRUE(steps.ok());
  ASSERT_EQ(steps->steps.size(), 1u);
  EXPECT_EQ(steps->steps[0].content.subject, "Hello Ada");
  EXPECT_EQ(steps->steps[0].due_at, start + absl::Hours(1));

  EXPECT_THAT(AtTime("follower", start - absl::Seconds(1)).status(),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(AtVersion("follower", 4).status(),
              StatusIs(absl::StatusCode::kNotFound));
  AsOfRequest both;
  both.sequence_id = kSeq;
  both.recipient_id = "follower";
  both.as_of = start;
  both.version = 1;
  EXPECT_THAT(GetRecipientAsOf(deps_, Call(), both).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// Leaves out the events at some positions, as a log with erased events
// does.
class HoleyStore : public sequencer::testing::ForwardingEventStore {
 public:
  HoleyStore(eventstore::EventStore* inner, std::set<uint64_t> holes)
      : ForwardingEventStore(inner), holes_(std::move(holes)) {}
  absl::StatusOr<std::vector<eventstore::StoredEvent>> ReadAll(
      uint64_t from_position, size_t max_count) const override {
    std::vector<eventstore::StoredEvent> out;
    auto all = ForwardingEventStore::ReadAll(
        from_position, std::numeric_limits<size_t>::max());
    if (!all.ok()) return all.status();
    for (auto& event : *all) {
      if (out.size() == max_count) break;
      if (holes_.count(event.position) == 0) out.push_back(std::move(event));
    }
    return out;
  }

 private:
  std::set<uint64_t> holes_;
};

TEST_F(AppAuditTest, ReadEventsPagesOverHolesAndOtherTenants) {
  const CallContext other{"tenant-b", kActor};
  ASSERT_TRUE(CreateSequence(kSeq, {EmailStep(absl::Hours(1))}).ok());  // 1
  {
    CreateSequenceRequest request;
    request.identity = Identity("other-create", "/test/CreateSequence");
    request.command.sequence_id = kSeq;
    request.command.name = "Theirs";
    request.command.steps = {EmailStep(absl::Hours(1))};
    ASSERT_TRUE(app::CreateSequence(deps_, other, request, nullptr).ok());  // 2
  }
  ASSERT_TRUE(Enroll(kSeq, {"a", "b", "c", "d", "e"}).ok());  // 3..7
  ASSERT_TRUE(Enroll(kSeq, {"f"}).ok());  // 8, erased: a hole at the end
  HoleyStore holey(&memory_, {4, 6, 8});
  Repository repository(&holey);
  AppDeps deps = deps_;
  deps.repository = &repository;

  for (int limit : {1, 2, 1000}) {
    SCOPED_TRACE(limit);
    std::vector<uint64_t> positions;
    uint64_t from = 0;
    for (int page = 0; page < 20; ++page) {
      auto events = ReadEvents(deps, Call(), from, limit);
      ASSERT_TRUE(events.ok()) << events.status();
      EXPECT_LE(events->events.size(), static_cast<size_t>(limit));
      for (const LoggedEvent& event : events->events) {
        positions.push_back(event.stored.position);
        EXPECT_EQ(event.event.metadata().tenant_id(), kTenant);
      }
      EXPECT_GT(events->next_position, from);
      from = events->next_position;
      if (from > events->last_position) break;
    }
    EXPECT_EQ(positions, (std::vector<uint64_t>{1, 3, 5, 7}));
  }
  // The page that reaches the end steps past a hole there.
  auto last = ReadEvents(deps, Call(), 7, 10);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->events.size(), 1u);
  EXPECT_EQ(last->next_position, 9u);
  auto past = ReadEvents(deps, Call(), 8, 10);
  ASSERT_TRUE(past.ok()) << past.status();
  EXPECT_TRUE(past->events.empty());
  EXPECT_EQ(past->next_position, 9u);
}

TEST_F(AppAuditTest, ReadEventsLooksAtABoundedNumberOfPositionsPerCall) {
  const CallContext other{"tenant-b", kActor};
  {
    CreateSequenceRequest request;
    request.identity = Identity("other-create", "/test/CreateSequence");
    request.command.sequence_id = kSeq;
    request.command.name = "Theirs";
    request.command.steps = {EmailStep(absl::Hours(1))};
    ASSERT_TRUE(app::CreateSequence(deps_, other, request, nullptr).ok());
  }
  EnrollRequest enroll;
  enroll.identity = Identity("other-enroll", "/test/EnrollRecipients");
  enroll.sequence_id = kSeq;
  for (const std::string& id : ManyIds(10000)) {
    enroll.recipients.push_back(Enrollee(id));
  }
  ASSERT_TRUE(EnrollRecipients(deps_, other, enroll, nullptr).ok());
  ASSERT_TRUE(CreateSequence(kSeq, {EmailStep(absl::Hours(1))}).ok());
  ASSERT_EQ(memory_.LastPosition(), 10002u);

  auto first = ReadEvents(deps_, Call(), 1, 10);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->events.empty());
  EXPECT_EQ(first->next_position, 1 + kMaxEventsScanned);
  EXPECT_EQ(first->last_position, 10002u);
  auto second = ReadEvents(deps_, Call(), first->next_position, 10);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->events.size(), 1u);
  EXPECT_EQ(second->events[0].stored.position, 10002u);
  EXPECT_TRUE(second->events[0].event.has_sequence_created());
  EXPECT_EQ(second->next_position, 10003u);
}

}  // namespace
}  // namespace sequencer::app::testing
