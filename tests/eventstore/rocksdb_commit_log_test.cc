// RocksDbEventStore as a commit log plus derived state in one database
// (eventstore/FORMAT.md, "Commit log"): the derived keys rebuilt from the l/
// records alone, the records replayed through the log seam, and the migration
// from format 1.

#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "eventstore/commit_log.h"
#include "eventstore/in_memory_derived_state.h"
#include "eventstore/log_backed_event_store.h"
#include "eventstore/rocksdb_event_store.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"
#include "tests/eventstore/store_dump.h"
#include "tests/util/temp_dir.h"
#include "tests/util/test_util.h"

namespace sequencer::eventstore {
namespace {

using ::sequencer::testing::TempDir;

// Counts the keys of each one-letter tag ("s", "g", "l", ...) and runs
// `change` (if any) on the raw database, with the store closed.
std::map<std::string, int> RawKeys(
    const std::string& path,
    const std::function<void(rocksdb::DB*)>& change = nullptr) {
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(rocksdb::Options(), path, &raw);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return {};
  std::unique_ptr<rocksdb::DB> db(raw);
  if (change) change(db.get());
  std::map<std::string, int> counts;
  std::unique_ptr<rocksdb::Iterator> it(
      db->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string key = it->key().ToString();
    ++counts[key[0] == 'm' ? key : key.substr(0, 1)];
  }
  it.reset();
  EXPECT_TRUE(db->Close().ok());
  return counts;
}

// What a test wipes: every derived key.
void DropDerived(rocksdb::DB* db) {
  rocksdb::WriteBatch batch;
  for (const char* tag : {"g", "v", "i"}) {
    batch.DeleteRange(absl::StrCat(tag, "/"), absl::StrCat(tag, "0"));
  }
  batch.Delete("m/last_position");
  batch.Delete("m/applied_position");
  rocksdb::WriteOptions sync;
  sync.sync = true;
  ASSERT_TRUE(db->Write(sync, &batch).ok());
}

// A varied history, part of it from concurrent committers, so that group
// commits hold several records.
void WriteHistory(RocksDbEventStore* store) {
  WriteVariedHistory(store, 300, /*seed=*/11);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([store, t] {
      for (int c = 0; c < 50; ++c) {
        auto result = store->Commit(CommitBatch{
            {StreamAppend{absl::StrCat("c/", t), c, {NewEvent{"E", "x"}}},
             StreamAppend{"c/shared", kAnyVersion, {NewEvent{"S", ""}}}},
            {IndexWrite{absl::StrCat("c/", t), absl::StrCat(c)},
             IndexWrite{absl::StrCat("c/", t, "/", c - 1), std::nullopt},
             IndexWrite{absl::StrCat("c/", t, "/", c), "here"}}});
        EXPECT_TRUE(result.ok()) << result.status();
      }
    });
  }
  for (auto& t : threads) t.join();
  WriteVariedHistory(store, 100, /*seed=*/12);
}

TEST(RocksDbCommitLogTest, DerivedKeysRebuiltFromTheLogAreTheSame) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  StoreDump before;
  uint64_t log_last = 0;
  {
    ASSIGN_OR_FAIL(auto store, RocksDbEventStore::Open(path));
    WriteHistory(store.get());
    before = DumpStore(*store);
    log_last = store->LastLogPosition();
    EXPECT_LT(store->GroupCommitCount(), log_last);
  }
  ASSERT_GT(before.log.size(), 500u);
  ASSERT_GT(before.index.size(), 50u);

  std::map<std::string, int> kept = RawKeys(path, DropDerived);
  EXPECT_EQ(kept.count("g") + kept.count("v") + kept.count("i") +
                kept.count("m/last_position") +
                kept.count("m/applied_position"),
            0u);
  EXPECT_EQ(kept["l"], static_cast<int>(log_last));
  EXPECT_EQ(kept["s"], static_cast<int>(before.log.size()));

  {
    // A read-only open cannot rebuild.
    RocksDbEventStore::Options read_only;
    read_only.read_only = true;
    auto refused = RocksDbEventStore::Open(path, read_only);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition)
        << refused.status();
  }
  {
    // Open catches the derived state up with the log.
    ASSIGN_OR_FAIL(auto store, RocksDbEventStore::Open(path));
    EXPECT_TRUE(DumpStore(*store) == before);
    EXPECT_EQ(store->LastLogPosition(), log_last);
    // And the store goes on from there.
    SEQ_ASSERT_OK(store->Commit(
        CommitBatch{{StreamAppend{"after", 0, {NewEvent{"A", ""}}}}, {}}));
    EXPECT_EQ(store->LastLogPosition(), log_last + 1);
    EXPECT_EQ(store->LastPosition(), before.last_position + 1);
  }
  {
    // The option drops and rebuilds by itself.
    RocksDbEventStore::Options rebuild;
    rebuild.rebuild_derived_state = true;
    ASSIGN_OR_FAIL(auto rebuilt, RocksDbEventStore::Open(path, rebuild));
    StoreDump after = DumpStore(*rebuilt);
    EXPECT_EQ(after.last_position, before.last_position + 1);
    ASSIGN_OR_FAIL(auto extra, rebuilt->ReadStream("after", 0, 10));
    EXPECT_EQ(extra.size(), 1u);
    EXPECT_EQ(after.index, before.index);
  }
  EXPECT_EQ(RawKeys(path)["m/applied_position"], 1);
}

TEST(RocksDbCommitLogTest, AnAbortedCommitWritesNoRecord) {
  TempDir dir;
  ASSIGN_OR_FAIL(auto store, RocksDbEventStore::Open(dir.Sub("db")));
  SEQ_ASSERT_OK(store->Commit(CommitBatch{
      {StreamAppend{"s", 0, {NewEvent{"A", "1"}}}}, {IndexWrite{"k", "1"}}}));
  EXPECT_EQ(store->LastLogPosition(), 1u);
  auto stale =
      store->Commit(CommitBatch{{StreamAppend{"t", 0, {NewEvent{"B", ""}}},
                                 StreamAppend{"s", 0, {NewEvent{"B", ""}}}},
                                {IndexWrite{"k", "2"}}});
  EXPECT_TRUE(absl::IsAborted(stale.status())) << stale.status();
  EXPECT_EQ(store->LastLogPosition(), 1u);
  ASSIGN_OR_FAIL(auto records, store->ReadLog(0, 10));
  ASSERT_EQ(records.size(), 1u);
  CommitRecord expected;
  expected.appends.push_back(StreamAppend{"s", 0, {NewEvent{"A", "1"}}});
  expected.index_writes.push_back(IndexWrite{"k", "1"});
  EXPECT_EQ(records[0].record, expected);
  EXPECT_EQ(records[0].position, 1u);
}

TEST(RocksDbCommitLogTest, RecordsReplayedThroughTheSeamGiveTheSameState) {
  TempDir dir;
  ASSIGN_OR_FAIL(auto store, RocksDbEventStore::Open(dir.Sub("db")));
  WriteHistory(store.get());
  // Writes nothing: no record.
  const uint64_t log_last = store->LastLogPosition();
  SEQ_ASSERT_OK(
      store->Commit(CommitBatch{{StreamAppend{"a", kAnyVersion, {}}}, {}}));
  EXPECT_EQ(store->LastLogPosition(), log_last);

  ASSIGN_OR_FAIL(auto records,
                 store->ReadLog(0, std::numeric_limits<size_t>::max()));
  ASSERT_EQ(records.size(), log_last);
  ASSIGN_OR_FAIL(auto tail, store->ReadLog(log_last, 10));
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0].record, records.back().record);

  InMemoryCommitLog log;
  for (const LoggedRecord& logged : records) {
    ASSIGN_OR_FAIL(uint64_t position,
                   log.Append(logged.record, logged.position - 1));
    ASSERT_EQ(position, logged.position);
  }
  InMemoryDerivedState state;
  ASSIGN_OR_FAIL(auto replayed, LogBackedEventStore::Open(&log, &state));
  EXPECT_TRUE(DumpStore(*replayed) == DumpStore(*store));
}

TEST(RocksDbCommitLogTest, FormatOneIsMigrated) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  StoreDump before;
  {
    ASSIGN_OR_FAIL(auto store, RocksDbEventStore::Open(path));
    WriteHistory(store.get());
    before = DumpStore(*store);
  }
  // Format 1 is format 2 without the log.
  std::map<std::string, int> old = RawKeys(path, [](rocksdb::DB* db) {
    rocksdb::WriteBatch batch;
    batch.DeleteRange("l/", "l0");
    batch.Delete("m/applied_position");
    batch.Put("m/format", "1");
    ASSERT_TRUE(db->Write(rocksdb::WriteOptions(), &batch).ok());
  });
  ASSERT_EQ(old.count("l"), 0u);

  {
    RocksDbEventStore::Options read_only;
    read_only.read_only = true;
    auto refused = RocksDbEventStore::Open(path, read_only);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(refused.status().message(), "format 1"))
        << refused.status();
  }
  {
    ASSIGN_OR_FAIL(auto store, RocksDbEventStore::Open(path));
    EXPECT_TRUE(absl::StrContains(store->RecoveryNote(), "migrated"))
        << store->RecoveryNote();
    EXPECT_TRUE(DumpStore(*store) == before);
    EXPECT_GT(store->LastLogPosition(), 0u);
  }
  {
    // The migrated log alone rebuilds the same state.
    RocksDbEventStore::Options rebuild;
    rebuild.rebuild_derived_state = true;
    ASSIGN_OR_FAIL(auto store, RocksDbEventStore::Open(path, rebuild));
    EXPECT_TRUE(store->RecoveryNote().empty()) << store->RecoveryNote();
    EXPECT_TRUE(DumpStore(*store) == before);
  }
}

TEST(RocksDbCommitLogTest, DerivedStateOfAnExternalLogCatchesUpAfterARestart) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  RocksDbEventStore::Options external;
  external.external_log = true;
  InMemoryCommitLog log;
  uint64_t kept = 0;
  {
    ASSIGN_OR_FAIL(auto state, RocksDbEventStore::Open(path, external));
    ASSIGN_OR_FAIL(auto store, LogBackedEventStore::Open(&log, state.get()));
    WriteVariedHistory(store.get(), 150, /*seed=*/3);
    kept = state->AppliedPosition();
    auto direct = state->Commit(CommitBatch{{}, {IndexWrite{"k", "v"}}});
    EXPECT_EQ(direct.status().code(), absl::StatusCode::kFailedPrecondition)
        << direct.status();
  }
  ASSERT_GT(kept, 50u);
  EXPECT_EQ(RawKeys(path).count("l"), 0u);

  // While it was down, another writer appended.
  InMemoryDerivedState other_state;
  {
    ASSIGN_OR_FAIL(auto other, LogBackedEventStore::Open(&log, &other_state));
    WriteVariedHistory(other.get(), 80, /*seed=*/4);
  }
  ASSIGN_OR_FAIL(uint64_t last, log.LastPosition());
  ASSERT_GT(last, kept + 20);

  {
    ASSIGN_OR_FAIL(auto state, RocksDbEventStore::Open(path, external));
    EXPECT_EQ(state->AppliedPosition(), kept);
    ASSIGN_OR_FAIL(auto store, LogBackedEventStore::Open(&log, state.get()));
    EXPECT_EQ(state->AppliedPosition(), last);
    EXPECT_TRUE(DumpStore(*store) == DumpStore(other_state));
  }
  {
    // Dropped and rebuilt: the whole log applied again.
    RocksDbEventStore::Options rebuild = external;
    rebuild.rebuild_derived_state = true;
    ASSIGN_OR_FAIL(auto state, RocksDbEventStore::Open(path, rebuild));
    EXPECT_EQ(state->AppliedPosition(), 0u);
    EXPECT_EQ(state->LastPosition(), 0u);
    ASSIGN_OR_FAIL(auto store, LogBackedEventStore::Open(&log, state.get()));
    EXPECT_TRUE(DumpStore(*store) == DumpStore(other_state));
  }

  // A database is opened in the mode it was created in.
  auto own_log = RocksDbEventStore::Open(path);
  EXPECT_EQ(own_log.status().code(), absl::StatusCode::kInvalidArgument)
      << own_log.status();
  {
    ASSIGN_OR_FAIL(auto own, RocksDbEventStore::Open(dir.Sub("own")));
    SEQ_ASSERT_OK(own->Commit(CommitBatch{{}, {IndexWrite{"k", "v"}}}));
    EXPECT_EQ(own->Apply(2, CommitRecord()).code(),
              absl::StatusCode::kFailedPrecondition);
  }
  auto external_on_own = RocksDbEventStore::Open(dir.Sub("own"), external);
  EXPECT_EQ(external_on_own.status().code(), absl::StatusCode::kInvalidArgument)
      << external_on_own.status();
}

}  // namespace
}  // namespace sequencer::eventstore
