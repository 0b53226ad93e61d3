// Every key the layout makes parses back to what made it, and nothing else
// parses; the typed queue scans stop where they say.

#include "app/storage/store_layout.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "app/storage/indexes.h"
#include "eventstore/in_memory_event_store.h"
#include "gtest/gtest.h"

namespace sequencer::app {
namespace {

const absl::Time kAt = absl::FromUnixSeconds(1'800'000'000);

TEST(StoreLayoutTest, StreamsParseBackToTheirIds) {
  EXPECT_EQ(layout::ParseStream(layout::SequenceStream("t1", "s1")),
            (layout::KeyRef{"t1", "s1", ""}));
  EXPECT_EQ(layout::ParseStream(layout::RecipientStream("t1", "s1", "r1")),
            (layout::KeyRef{"t1", "s1", "r1"}));
  for (const char* other : {"", "seq/t1", "seq/t1/", "rcp/t1/s1",
                            "rcp/t1/s1/r1/x", "xyz/t1/s1", "seq//s1"}) {
    EXPECT_FALSE(layout::ParseStream(other).has_value()) << other;
  }
}

TEST(StoreLayoutTest, DeletionStreamsParseBackToTheirIds) {
  const std::string stream = layout::DeletionStream("t1", "s1", "r1");
  auto ref = layout::ParseDeletionStreamView(stream);
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->tenant, "t1");
  EXPECT_EQ(ref->sequence_id, "s1");
  EXPECT_EQ(ref->recipient_id, "r1");
  // Neither a recipient's nor a sequence's stream.
  EXPECT_FALSE(layout::ParseStream(stream).has_value());
  for (const char* other :
       {"del/t1/s1", "del/t1/s1/r1/x", "rcp/t1/s1/r1", "del//s1/r1"}) {
    EXPECT_FALSE(layout::ParseDeletionStreamView(other).has_value()) << other;
  }
}

TEST(StoreLayoutTest, ListingKeysParseBackToTheirIds) {
  EXPECT_EQ(layout::ParseSequenceListKey(layout::SequenceListKey("t", "s")),
            (layout::KeyRef{"t", "s", ""}));
  EXPECT_EQ(
      layout::ParseRecipientListKey(layout::RecipientListKey("t", "s", "r")),
      (layout::KeyRef{"t", "s", "r"}));
  std::string status;
  EXPECT_EQ(layout::ParseStatusIndexKey(
                layout::StatusIndexKey("t", "s", "PAUSED", "r"), &status),
            (layout::KeyRef{"t", "s", "r"}));
  EXPECT_EQ(status, "PAUSED");
  EXPECT_EQ(layout::ParseSequenceOpKey(layout::SequenceOpKey("t", "s")),
            (layout::KeyRef{"t", "s", ""}));
  // A key of one kind is not a key of another.
  EXPECT_FALSE(
      layout::ParseRecipientListKey(layout::SequenceListKey("t", "s")));
  EXPECT_FALSE(
      layout::ParseSequenceListKey(layout::RecipientListKey("t", "s", "r")));
  EXPECT_FALSE(layout::ParseSequenceOpKey(layout::SequenceListKey("t", "s")));
}

TEST(StoreLayoutTest, ReportEntryKeysParseBackAndShareTheSequencePrefix) {
  const std::string key = layout::ReportEntryKey("t", "s", "r");
  EXPECT_EQ(key, "rp/t/s/r");
  EXPECT_EQ(layout::ParseReportEntryKey(key), (layout::KeyRef{"t", "s", "r"}));
  std::string appended = "x";
  layout::AppendReportEntryKey(&appended, "t", "s", "r");
  EXPECT_EQ(appended, "x" + key);
  EXPECT_TRUE(absl::StartsWith(key, layout::ReportPrefix("t", "s")));
  // Another sequence whose id extends this one's is not under its prefix.
  EXPECT_FALSE(absl::StartsWith(layout::ReportEntryKey("t", "s2", "r"),
                                layout::ReportPrefix("t", "s")));
  EXPECT_FALSE(layout::ParseReportEntryKey("rp/t/s"));
  EXPECT_FALSE(layout::ParseReportEntryKey("rp/t/s/r/x"));
  EXPECT_FALSE(layout::ParseReportEntryKey("rp/t//r"));
  EXPECT_FALSE(
      layout::ParseReportEntryKey(layout::RecipientListKey("t", "s", "r")));
  EXPECT_FALSE(
      layout::ParseRecipientListKey(layout::ReportEntryKey("t", "s", "r")));
  // The backfill marker is no key of the compared indexes.
  EXPECT_FALSE(layout::ParseReportEntryKey(layout::kReportBackfillMarker));
}

TEST(StoreLayoutTest, QueueKeysParseBackToTimeAndIds) {
  const std::optional<layout::DueEntry> due =
      layout::ParseDueKey(layout::DueKey(kAt, "t", "s", "r"));
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(due->due, kAt);
  EXPECT_EQ(due->recipient, (layout::KeyRef{"t", "s", "r"}));

  const std::optional<layout::ReadyEntry> ready =
      layout::ParseReadyKey(layout::ReadyKey("t", "EMAIL", kAt, "s", "r"));
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(ready->channel, "EMAIL");
  EXPECT_EQ(ready->due, kAt);
  EXPECT_EQ(ready->recipient, (layout::KeyRef{"t", "s", "r"}));

  EXPECT_EQ(layout::ParseTimeKey(layout::TimeKey(kAt)), kAt);
  EXPECT_FALSE(layout::ParseTimeKey("not-hex-at-all!!").has_value());
  EXPECT_FALSE(layout::ParseTimeKey("0123").has_value());
  EXPECT_FALSE(layout::ParseDueKey("due/zz/t/s/r").has_value());
  EXPECT_FALSE(
      layout::ParseDueKey(layout::ReadyKey("t", "EMAIL", kAt, "s", "r")));
  EXPECT_FALSE(layout::ParseReadyKey(layout::DueKey(kAt, "t", "s", "r")));
}

TEST(StoreLayoutTest, KeysKeepTheirStoredBytes) {
  // The stored format: these bytes are on disk and must not change.
  EXPECT_EQ(layout::TimeKey(absl::FromUnixMicros(0x1234abcd)),
            "000000001234abcd");
  EXPECT_EQ(layout::TimeKey(absl::FromUnixMicros(-5)), "0000000000000000");
  EXPECT_EQ(layout::TimeKey(absl::FromUnixMicros(int64_t{0x7fedcba987654321})),
            "7fedcba987654321");
  EXPECT_EQ(layout::DueKey(absl::FromUnixMicros(255), "t", "s", "r"),
            "due/00000000000000ff/t/s/r");
  EXPECT_EQ(layout::ReadyKey("t", "EMAIL", absl::FromUnixMicros(16), "s", "r"),
            "ready/t/EMAIL/0000000000000010/s/r");
  EXPECT_EQ(layout::StatusIndexKey("t", "s", "PAUSED", "r"), "rs/t/s/PAUSED/r");
  EXPECT_EQ(layout::RecipientListKey("t", "s", "r"), "rl/t/s/r");
  EXPECT_EQ(layout::StatusKey(domain::RecipientStatus::kMeetingBooked),
            "MEETING_BOOKED");
  // The Append forms append.
  std::string keys = "x";
  layout::AppendRecipientListKey(&keys, "t", "s", "r");
  layout::AppendDueKey(&keys, absl::FromUnixMicros(1), "t", "s", "r");
  EXPECT_EQ(keys, "xrl/t/s/rdue/0000000000000001/t/s/r");
}

TEST(StoreLayoutTest, DueBeforeStopsAtTheFirstEntryNotDue) {
  eventstore::InMemoryEventStore store;
  eventstore::CommitBatch batch;
  batch.index_writes.push_back({layout::DueKey(kAt, "t", "s", "r1"), ""});
  batch.index_writes.push_back(
      {layout::DueKey(kAt + absl::Minutes(1), "t", "s", "r2"), ""});
  // Sorts first: a valid time, but not a recipient.
  batch.index_writes.push_back({"due/0000000000000000/x", ""});
  batch.index_writes.push_back(
      {layout::DueKey(kAt + absl::Hours(1), "t", "s", "r3"), ""});
  ASSERT_TRUE(store.Commit(batch).ok());

  absl::StatusOr<indexes::DueScan> scan =
      indexes::DueBefore(store, kAt + absl::Minutes(1), "", 10);
  ASSERT_TRUE(scan.ok()) << scan.status();
  ASSERT_EQ(scan->items.size(), 3u);
  EXPECT_FALSE(scan->items[0].entry.has_value());  // malformed, left alone
  EXPECT_EQ(scan->items[1].entry->recipient.recipient_id, "r1");
  EXPECT_EQ(scan->items[2].entry->recipient.recipient_id, "r2");
  EXPECT_EQ(
      scan->first_later,
      layout::QueueEntryOf(layout::DueKey(kAt + absl::Hours(1), "t", "s", "r3"),
                           layout::kDuePrefix));
  EXPECT_FALSE(scan->end);

  // Chunked: the cursor continues where the last chunk ended.
  scan = indexes::DueBefore(store, kAt + absl::Hours(2), "", 2);
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(scan->items.size(), 2u);
  EXPECT_FALSE(scan->end);
  scan = indexes::DueBefore(store, kAt + absl::Hours(2), scan->last_key, 2);
  ASSERT_TRUE(scan.ok());
  ASSERT_EQ(scan->items.size(), 2u);
  EXPECT_EQ(scan->items[1].entry->recipient.recipient_id, "r3");
  EXPECT_TRUE(scan->first_later.empty());
}

TEST(StoreLayoutTest, ReadyForReadsOneTenantsChannelOldestFirst) {
  eventstore::InMemoryEventStore store;
  eventstore::CommitBatch batch;
  batch.index_writes.push_back(
      {layout::ReadyKey("t", "EMAIL", kAt + absl::Minutes(1), "s", "late"),
       ""});
  batch.index_writes.push_back(
      {layout::ReadyKey("t", "EMAIL", kAt, "s", "early"), ""});
  batch.index_writes.push_back(
      {layout::ReadyKey("t", "SMS", kAt, "s", "sms"), ""});
  batch.index_writes.push_back(
      {layout::ReadyKey("other", "EMAIL", kAt, "s", "foreign"), ""});
  ASSERT_TRUE(store.Commit(batch).ok());

  absl::StatusOr<indexes::QueueScan<layout::ReadyEntry>> scan =
      indexes::ReadyFor(store, "t", "EMAIL", "", 10);
  ASSERT_TRUE(scan.ok()) << scan.status();
  ASSERT_EQ(scan->items.size(), 2u);
  EXPECT_EQ(scan->items[0].entry->recipient.recipient_id, "early");
  EXPECT_EQ(scan->items[1].entry->recipient.recipient_id, "late");
  EXPECT_TRUE(scan->end);
}

}  // namespace
}  // namespace sequencer::app
