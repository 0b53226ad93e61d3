// Erasure in RocksDbEventStore beyond the contract suite: what the commit log
// keeps of an erased stream, replaying it, events written before their
// records were named (format 2), and that PurgeErased leaves no byte of the
// erased data in any file of the directory.

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "eventstore/commit_log.h"
#include "eventstore/rocksdb_event_store.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/eventstore/store_dump.h"
#include "tests/util/temp_dir.h"
#include "tests/util/test_util.h"

namespace sequencer::eventstore {
namespace {

using ::sequencer::testing::FilesContaining;
using ::sequencer::testing::TempDir;

// Unique bytes that appear nowhere but where a test puts them.
constexpr char kMarker[] = "ZQX7-personal-9F3K-data-W2M8";

std::unique_ptr<RocksDbEventStore> OpenStore(
    const std::string& dir,
    RocksDbEventStore::Options options = RocksDbEventStore::Options()) {
  auto store = RocksDbEventStore::Open(dir, options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(store).value() : nullptr;
}

CommitBatch EraseBatch(std::string stream, int64_t expected,
                       std::vector<std::string> forget_keys = {}) {
  CommitBatch batch;
  batch.erasures.push_back(
      StreamErasure{std::move(stream), expected, std::move(forget_keys)});
  return batch;
}

// A history around one stream "victim" holding kMarker: shared records with
// other streams, index writes to forget and to keep.
void WriteHistoryWithVictim(EventStore* store) {
  WriteVariedHistory(store, 60);
  CommitBatch shared;
  shared.appends.push_back(
      StreamAppend{"victim", 0, {NewEvent{"Enrolled", kMarker}}});
  shared.appends.push_back(StreamAppend{"bystander", 0, {NewEvent{"E", "b"}}});
  shared.index_writes.push_back(IndexWrite{"idem/victim-1", kMarker});
  shared.index_writes.push_back(IndexWrite{"listing/bystander", "kept"});
  ASSERT_TRUE(store->Commit(shared).ok());
  WriteVariedHistory(store, 30, 11);
  CommitBatch edit;
  edit.appends.push_back(StreamAppend{
      "victim", 1, {NewEvent{"Edited", absl::StrCat("hello ", kMarker)}}});
  edit.index_writes.push_back(IndexWrite{"idem/victim-2", kMarker});
  ASSERT_TRUE(store->Commit(edit).ok());
  WriteVariedHistory(store, 30, 13);
}

TEST(ErasureTest, ErasingRecordsRoundTripInBothFormats) {
  CommitRecord record;
  record.appends.push_back(StreamAppend{"a", 0, {NewEvent{"", ""}, {"", ""}}});
  record.appends.push_back(StreamAppend{"b", 3, {NewEvent{"T", "data"}}});
  record.erased_appends = {true};
  record.index_writes.push_back(IndexWrite{"k", std::nullopt});
  record.erasures.push_back(StreamErasure{"c", 7, {}});
  bool without_events = true;
  ASSIGN_OR_FAIL(auto decoded, DecodeCommitRecord(EncodeCommitRecord(record),
                                                  &without_events));
  EXPECT_FALSE(without_events);
  EXPECT_TRUE(decoded == record);
  EXPECT_TRUE(decoded.IsErased(0));
  EXPECT_FALSE(decoded.IsErased(1));

  ASSIGN_OR_FAIL(
      auto compact,
      DecodeCommitRecord(EncodeCommitRecordWithoutEvents(
                             record.appends, {0, 3}, record.index_writes,
                             record.erasures, record.erased_appends),
                         &without_events));
  EXPECT_TRUE(without_events);
  ASSERT_EQ(compact.erasures.size(), 1u);
  EXPECT_EQ(compact.erasures[0].stream, "c");
  EXPECT_EQ(compact.erasures[0].expected_version, 7);
  EXPECT_TRUE(compact.IsErased(0));
  EXPECT_EQ(compact.appends[1].events.size(), 1u);

  // Without erasures the older formats are written, byte for byte as before.
  CommitRecord plain = record;
  plain.erasures.clear();
  plain.erased_appends.clear();
  EXPECT_EQ(EncodeCommitRecord(plain)[0], 1);
  EXPECT_EQ(EncodeCommitRecordWithoutEvents(plain.appends, {0, 3},
                                            plain.index_writes)[0],
            2);
  EXPECT_FALSE(record == plain);
}

TEST(ErasureTest, TheLogKeepsNoErasedDataAndReplaysToTheSameState) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_NE(store, nullptr);
  WriteHistoryWithVictim(store.get());
  SEQ_ASSERT_OK(store->Commit(
      EraseBatch("victim", 2, {"idem/victim-1", "idem/victim-2"})));
  // Re-created and erased again, then re-created once more.
  SEQ_ASSERT_OK(store->Commit(CommitBatch{
      {StreamAppend{"victim", 0, {NewEvent{"Enrolled", "v2"}}}}, {}}));
  SEQ_ASSERT_OK(store->Commit(EraseBatch("victim", 1)));
  SEQ_ASSERT_OK(store->Commit(CommitBatch{
      {StreamAppend{"victim", 0, {NewEvent{"Enrolled", "v3"}}}}, {}}));
  WriteVariedHistory(store.get(), 20, 17);

  ASSIGN_OR_FAIL(auto records, store->ReadLog(1, SIZE_MAX));
  int erased_appends = 0;
  int erasure_records = 0;
  for (const LoggedRecord& logged : records) {
    const CommitRecord& record = logged.record;
    const std::string encoded = EncodeCommitRecord(record);
    EXPECT_FALSE(absl::StrContains(encoded, kMarker)) << logged.position;
    for (size_t i = 0; i < record.appends.size(); ++i) {
      if (record.appends[i].stream != "victim") continue;
      const bool current = !record.IsErased(i);
      if (current) {
        ASSERT_EQ(record.appends[i].events.size(), 1u);
        EXPECT_EQ(record.appends[i].events[0].data, "v3");
      } else {
        ++erased_appends;
      }
    }
    for (const IndexWrite& write : record.index_writes) {
      if (absl::StartsWith(write.key, "idem/victim")) {
        EXPECT_FALSE(write.value.has_value()) << "only the erasure's deletes";
      }
    }
    erasure_records += static_cast<int>(record.erasures.size());
  }
  EXPECT_EQ(erased_appends, 3);
  EXPECT_EQ(erasure_records, 2);

  const StoreDump before = DumpStore(*store);
  ASSERT_EQ(before.versions.at("victim"), 1u);
  ASSERT_EQ(before.versions.at("bystander"), 1u);
  store.reset();
  RocksDbEventStore::Options rebuild;
  rebuild.rebuild_derived_state = true;
  store = OpenStore(dir.path(), rebuild);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(DumpStore(*store) == before);
  store.reset();
  store = OpenStore(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(DumpStore(*store) == before);
}

// Events written before format 3 do not name their commit record: the
// erasure finds the records by reading the log.
TEST(ErasureTest, EventsThatDoNotNameTheirRecordAreFoundInTheLog) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_NE(store, nullptr);
  WriteHistoryWithVictim(store.get());
  store.reset();
  {
    // Rewrite the victim's s/ values the way format 2 wrote them: the
    // position without bit 63 and no log position.
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir.path(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::unique_ptr<rocksdb::Iterator> it(
        db->NewIterator(rocksdb::ReadOptions()));
    int rewritten = 0;
    for (it->Seek("s/victim"); it->Valid() && it->key().starts_with("s/victim");
         it->Next()) {
      std::string value = it->value().ToString();
      ASSERT_NE(value[0] & 0x80, 0);
      value[0] = static_cast<char>(value[0] & 0x7f);
      size_t varint_end = 8;
      while (static_cast<unsigned char>(value[varint_end]) & 0x80) ++varint_end;
      value.erase(8, varint_end - 8 + 1);
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), it->key(), value).ok());
      ++rewritten;
    }
    ASSERT_EQ(rewritten, 2);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "m/format", "2").ok());
  }
  store = OpenStore(dir.path());
  ASSERT_NE(store, nullptr);
  ASSIGN_OR_FAIL(auto events, store->ReadStream("victim", 0, 10));
  ASSERT_EQ(events.size(), 2u);  // format 2 values still read
  SEQ_ASSERT_OK(store->Commit(
      EraseBatch("victim", 2, {"idem/victim-1", "idem/victim-2"})));
  ASSIGN_OR_FAIL(auto records, store->ReadLog(1, SIZE_MAX));
  for (const LoggedRecord& logged : records) {
    EXPECT_FALSE(absl::StrContains(EncodeCommitRecord(logged.record), kMarker))
        << logged.position;
  }
  const StoreDump before = DumpStore(*store);
  store.reset();
  RocksDbEventStore::Options rebuild;
  rebuild.rebuild_derived_state = true;
  store = OpenStore(dir.path(), rebuild);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(DumpStore(*store) == before);
}

TEST(ErasureTest, PurgeLeavesNoByteOfTheErasedDataInAnyFile) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_NE(store, nullptr);
  WriteHistoryWithVictim(store.get());
  store.reset();
  // Closing flushed the memtable: the data is in table files now, and the
  // test can see it there (so the scan below would find it if it stayed).
  EXPECT_FALSE(FilesContaining(dir.path(), kMarker).empty());
  store = OpenStore(dir.path());
  ASSERT_NE(store, nullptr);
  WriteVariedHistory(store.get(), 10, 19);  // and some in the WAL again
  EXPECT_FALSE(store->PurgePending());
  SEQ_ASSERT_OK(store->Commit(
      EraseBatch("victim", 2, {"idem/victim-1", "idem/victim-2"})));
  EXPECT_TRUE(store->PurgePending());
  EXPECT_FALSE(FilesContaining(dir.path(), kMarker).empty());
  SEQ_ASSERT_OK(store->PurgeErased());
  EXPECT_FALSE(store->PurgePending());
  EXPECT_EQ(FilesContaining(dir.path(), kMarker), std::vector<std::string>());
  // The rest is intact.
  ASSIGN_OR_FAIL(auto bystander, store->ReadStream("bystander", 0, 10));
  EXPECT_EQ(bystander.size(), 1u);
  ASSIGN_OR_FAIL(auto listing, store->GetIndex("listing/bystander"));
  EXPECT_EQ(listing, "kept");
  store.reset();
  EXPECT_EQ(FilesContaining(dir.path(), kMarker), std::vector<std::string>());
}

TEST(ErasureTest, AnErasureNotPurgedBeforeAStopIsPurgedAfterTheRestart) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_NE(store, nullptr);
  WriteHistoryWithVictim(store.get());
  SEQ_ASSERT_OK(store->Commit(EraseBatch("victim", 2, {"idem/victim-1"})));
  store.reset();  // stopped before any purge
  EXPECT_FALSE(FilesContaining(dir.path(), kMarker).empty());
  store = OpenStore(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->PurgePending());
  SEQ_ASSERT_OK(store->PurgeErased());
  EXPECT_FALSE(store->PurgePending());
  // idem/victim-2 was not forgotten: its value (written by a record that
  // appended to the victim) is the only copy left.
  EXPECT_FALSE(FilesContaining(dir.path(), kMarker).empty());
  ASSIGN_OR_FAIL(auto kept, store->GetIndex("idem/victim-2"));
  EXPECT_EQ(kept, kMarker);
  store.reset();
  store = OpenStore(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(store->PurgePending());
}

TEST(ErasureTest, ACheckpointPurgesFirstSoTheCopyHoldsNoErasedByte) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  auto store = OpenStore(data);
  ASSERT_NE(store, nullptr);
  WriteHistoryWithVictim(store.get());
  store.reset();  // the data is in table files, which a checkpoint links
  store = OpenStore(data);
  ASSERT_NE(store, nullptr);
  SEQ_ASSERT_OK(store->Commit(
      EraseBatch("victim", 2, {"idem/victim-1", "idem/victim-2"})));
  ASSERT_TRUE(store->PurgePending());
  SEQ_ASSERT_OK(store->Checkpoint(dir.Sub("copy")));
  EXPECT_FALSE(store->PurgePending());
  EXPECT_EQ(FilesContaining(dir.Sub("copy"), kMarker),
            std::vector<std::string>());
  auto copy = OpenStore(dir.Sub("copy"));
  ASSERT_NE(copy, nullptr);
  EXPECT_FALSE(copy->PurgePending());
  ASSIGN_OR_FAIL(auto victim, copy->ReadStream("victim", 0, 10));
  EXPECT_TRUE(victim.empty());
  ASSIGN_OR_FAIL(auto bystander, copy->ReadStream("bystander", 0, 10));
  EXPECT_EQ(bystander.size(), 1u);
}

}  // namespace
}  // namespace sequencer::eventstore
