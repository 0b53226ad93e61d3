// EraseKeptDeletions: recipients deleted before deletions erased are erased
// at start-up, once, each with its own Deleted event as its tombstone.

#include "app/use_cases/kept_deletions.h"

#include <string>

#include "app/pipeline/command_runner.h"
#include "app/storage/store_layout.h"
#include "gtest/gtest.h"
#include "sequencer/v1/events.pb.h"
#include "tests/app/app_fixture.h"

namespace sequencer::app::testing {
namespace {

constexpr char kSeq[] = "seq-1";

class KeptDeletionsTest : public AppFixture {
 protected:
  void SetUp() override {
    ASSERT_TRUE(CreateSequence(kSeq, {EmailStep(absl::Hours(1))}).ok());
    ASSERT_TRUE(Enroll(kSeq, {"old", "alive"}).ok());
    RecipientCommandRequest pause;
    pause.identity = Identity("pause-old", "/test/Pause");
    pause.sequence_id = kSeq;
    pause.recipient_id = "old";
    ASSERT_TRUE(CommandRunner(deps_)
                    .RunRecipient(Call(), pause, domain::PauseRecipient{},
                                  EncodeOutcome)
                    .ok());
  }

  // What a deletion wrote before deletions erased: the Deleted event
  // appended to the recipient's own stream, its listing entries removed.
  void DeleteTheOldWay(const std::string& id) {
    const domain::Recipient before = Recipient(kSeq, id);
    const domain::RecipientEvent deleted{
        {kTenant, kActor, "delete-" + id, clock_.Now()}, domain::Deleted{}};
    eventstore::CommitBatch batch;
    CommandRunner::AddRecipientEvents(kTenant, kSeq, id, before, {deleted},
                                      Sequence(kSeq), &batch);
    ASSERT_TRUE(memory_.Commit(batch).ok());
    ASSERT_TRUE(Recipient(kSeq, id).deleted);
  }
};

TEST_F(KeptDeletionsTest, ErasesEachKeptDeletionOnceWithItsOwnTombstone) {
  ASSERT_NO_FATAL_FAILURE(DeleteTheOldWay("old"));
  const std::string pause_record = layout::IdempotencyKey(kTenant, "pause-old");
  ASSERT_TRUE(HasIndex(pause_record));
  const uint64_t last = memory_.LastPosition();

  absl::StatusOr<uint64_t> erased = EraseKeptDeletions(deps_);
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_EQ(*erased, 1u);
  EXPECT_FALSE(Recipient(kSeq, "old").exists);
  EXPECT_FALSE(HasIndex(pause_record));
  EXPECT_TRUE(Recipient(kSeq, "alive").exists);
  auto tombstones =
      memory_.ReadStream(layout::DeletionStream(kTenant, kSeq, "old"), 1, 10);
  ASSERT_TRUE(tombstones.ok());
  ASSERT_EQ(tombstones->size(), 1u);
  v1::Event tombstone;
  ASSERT_TRUE(tombstone.ParseFromString((*tombstones)[0].data));
  EXPECT_TRUE(tombstone.has_deleted());
  EXPECT_EQ(tombstone.metadata().request_id(), "delete-old");
  EXPECT_EQ(tombstone.metadata().actor(), kActor);
  EXPECT_GT(memory_.LastPosition(), last);

  // Done once: a second run reads nothing and writes nothing.
  const StoreImage before = Image();
  erased = EraseKeptDeletions(deps_);
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_EQ(*erased, 0u);
  EXPECT_EQ(Image(), before);
}

TEST_F(KeptDeletionsTest, AStoreWithoutKeptDeletionsIsOnlyMarked) {
  absl::StatusOr<uint64_t> erased = EraseKeptDeletions(deps_);
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_EQ(*erased, 0u);
  EXPECT_TRUE(HasIndex(kKeptDeletionsErasedKey));
  EXPECT_TRUE(Recipient(kSeq, "old").exists);
  EXPECT_TRUE(Recipient(kSeq, "alive").exists);
}

}  // namespace
}  // namespace sequencer::app::testing
