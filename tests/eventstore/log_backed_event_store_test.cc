// The log seam: CommitRecord's encoding, InMemoryCommitLog's expected-position
// appends, and LogBackedEventStore's rebuild and catch-up. (The EventStore
// contract itself runs against LogBackedEventStore in
// event_store_contract_test.cc.)

#include "eventstore/log_backed_event_store.h"

#include <atomic>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "eventstore/commit_log.h"
#include "eventstore/in_memory_derived_state.h"
#include "gtest/gtest.h"
#include "tests/eventstore/store_dump.h"
#include "tests/util/test_util.h"

namespace sequencer::eventstore {
namespace {

CommitRecord SampleRecord() {
  CommitRecord record;
  record.appends.push_back(StreamAppend{
      "r/t/s/1", 3, {NewEvent{"Paused", std::string("x\0y", 3)}, NewEvent{}}});
  record.appends.push_back(StreamAppend{"s", 0, {}});
  record.index_writes.push_back(IndexWrite{"due/1", std::string(1000, 'v')});
  record.index_writes.push_back(IndexWrite{"due/0", std::nullopt});
  record.index_writes.push_back(IndexWrite{"empty", ""});
  return record;
}

// Every record of the log.
std::vector<LoggedRecord> ReadLog(const CommitLog& log) {
  auto records = log.Read(0, std::numeric_limits<size_t>::max());
  EXPECT_TRUE(records.ok()) << records.status();
  return records.ok() ? *records : std::vector<LoggedRecord>();
}

TEST(CommitRecordTest, EncodingRoundTripsAndIsDeterministic) {
  const CommitRecord record = SampleRecord();
  const std::string bytes = EncodeCommitRecord(record);
  EXPECT_EQ(bytes, EncodeCommitRecord(SampleRecord()));
  ASSIGN_OR_FAIL(CommitRecord decoded, DecodeCommitRecord(bytes));
  EXPECT_EQ(decoded, record);
  // A put of "" and a delete stay apart.
  EXPECT_TRUE(decoded.index_writes[2].value.has_value());
  EXPECT_FALSE(decoded.index_writes[1].value.has_value());

  ASSIGN_OR_FAIL(CommitRecord empty,
                 DecodeCommitRecord(EncodeCommitRecord({})));
  EXPECT_EQ(empty, CommitRecord());
}

TEST(CommitRecordTest, MalformedBytesAreRefused) {
  const std::string bytes = EncodeCommitRecord(SampleRecord());
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_EQ(DecodeCommitRecord(bytes.substr(0, cut)).status().code(),
              absl::StatusCode::kInternal)
        << cut;
  }
  EXPECT_EQ(DecodeCommitRecord(bytes + "x").status().code(),
            absl::StatusCode::kInternal);
  std::string other_format = bytes;
  other_format[0] = 2;
  EXPECT_EQ(DecodeCommitRecord(other_format).status().code(),
            absl::StatusCode::kInternal);
}

TEST(InMemoryCommitLogTest,
     AppendWithStaleExpectedPositionIsAbortedAndWritesNothing) {
  InMemoryCommitLog log;
  ASSIGN_OR_FAIL(uint64_t first, log.Append(SampleRecord(), 0));
  EXPECT_EQ(first, 1u);
  ASSIGN_OR_FAIL(uint64_t second, log.Append(CommitRecord(), 1));
  EXPECT_EQ(second, 2u);

  for (uint64_t stale : {0, 1, 3}) {
    EXPECT_TRUE(absl::IsAborted(log.Append(SampleRecord(), stale).status()))
        << stale;
  }
  ASSIGN_OR_FAIL(uint64_t last, log.LastPosition());
  EXPECT_EQ(last, 2u);
  std::vector<LoggedRecord> records = ReadLog(log);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].position, 1u);
  EXPECT_EQ(records[0].record, SampleRecord());
  EXPECT_EQ(records[1].position, 2u);
  EXPECT_EQ(records[1].record, CommitRecord());

  ASSIGN_OR_FAIL(auto tail, log.Read(2, 10));
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0].position, 2u);
  ASSIGN_OR_FAIL(auto past_end, log.Read(3, 10));
  EXPECT_TRUE(past_end.empty());
}

TEST(InMemoryCommitLogTest, RefusesAnyVersionAndInvalidNames) {
  InMemoryCommitLog log;
  CommitRecord any;
  any.appends.push_back(StreamAppend{"a", kAnyVersion, {NewEvent{"T", ""}}});
  EXPECT_EQ(log.Append(any, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  CommitRecord unnamed;
  unnamed.appends.push_back(StreamAppend{"", 0, {}});
  EXPECT_EQ(log.Append(unnamed, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSIGN_OR_FAIL(uint64_t last, log.LastPosition());
  EXPECT_EQ(last, 0u);
}

TEST(LogBackedEventStoreTest, EachCommitIsOneRecordWithTheVersionsAsChecked) {
  InMemoryCommitLog log;
  InMemoryDerivedState state;
  ASSIGN_OR_FAIL(auto store, LogBackedEventStore::Open(&log, &state));
  SEQ_ASSERT_OK(store->Commit(CommitBatch{
      {StreamAppend{"a", 0, {NewEvent{"A", "1"}}},
       StreamAppend{"b", kAnyVersion, {NewEvent{"B", "2"}, NewEvent{"B", "3"}}},
       StreamAppend{"a", kAnyVersion, {NewEvent{"A", "4"}}}},
      {IndexWrite{"k", "v"}}}));
  // Writes nothing: no record.
  SEQ_ASSERT_OK(store->Commit(CommitBatch{{StreamAppend{"a", 2, {}}}, {}}));
  SEQ_ASSERT_OK(
      store->Commit(CommitBatch{{}, {IndexWrite{"k", std::nullopt}}}));

  std::vector<LoggedRecord> records = ReadLog(log);
  ASSERT_EQ(records.size(), 2u);
  const CommitRecord& first = records[0].record;
  ASSERT_EQ(first.appends.size(), 3u);
  EXPECT_EQ(first.appends[0].expected_version, 0);
  EXPECT_EQ(first.appends[1].expected_version, 0);
  EXPECT_EQ(first.appends[2].expected_version, 1);
  EXPECT_EQ(first.appends[2].events[0].data, "4");
  ASSERT_EQ(first.index_writes.size(), 1u);
  EXPECT_EQ(records[1].record.appends.size(), 0u);
  EXPECT_EQ(state.AppliedPosition(), 2u);
  EXPECT_EQ(store->LastPosition(), 4u);
}

TEST(LogBackedEventStoreTest, DerivedStateRebuiltFromTheLogAloneIsTheSame) {
  InMemoryCommitLog log;
  InMemoryDerivedState original_state;
  ASSIGN_OR_FAIL(auto original,
                 LogBackedEventStore::Open(&log, &original_state));
  WriteVariedHistory(original.get(), 400);
  const StoreDump before = DumpStore(*original);
  ASSERT_GT(before.log.size(), 300u);
  ASSERT_GT(before.index.size(), 20u);

  InMemoryDerivedState rebuilt_state;
  ASSIGN_OR_FAIL(auto rebuilt, LogBackedEventStore::Open(&log, &rebuilt_state));
  EXPECT_EQ(rebuilt_state.AppliedPosition(), original_state.AppliedPosition());
  EXPECT_TRUE(DumpStore(*rebuilt) == before);
  EXPECT_TRUE(DumpStore(rebuilt_state) == before);
}

// Counts the records applied to a state it forwards to.
class CountingState final : public DerivedState {
 public:
  explicit CountingState(DerivedState* inner) : inner_(inner) {}
  absl::Status Apply(uint64_t log_position,
                     const CommitRecord& record) override {
    if (!fail_next.ok()) {
      return std::exchange(fail_next, absl::OkStatus());
    }
    applied.push_back(log_position);
    return inner_->Apply(log_position, record);
  }
  uint64_t AppliedPosition() const override {
    return inner_->AppliedPosition();
  }
  absl::StatusOr<std::vector<StoredEvent>> ReadStream(
      absl::string_view stream, uint64_t from_version,
      size_t max_count) const override {
    return inner_->ReadStream(stream, from_version, max_count);
  }
  absl::StatusOr<uint64_t> StreamVersion(
      absl::string_view stream) const override {
    return inner_->StreamVersion(stream);
  }
  absl::StatusOr<std::vector<StoredEvent>> ReadAll(
      uint64_t from_position, size_t max_count) const override {
    return inner_->ReadAll(from_position, max_count);
  }
  absl::Status ScanStreams(
      absl::string_view prefix,
      const std::function<absl::Status(const StoredEventView&)>& visit)
      const override {
    return inner_->ScanStreams(prefix, visit);
  }
  uint64_t LastPosition() const override { return inner_->LastPosition(); }
  absl::StatusOr<std::optional<std::string>> GetIndex(
      absl::string_view key) const override {
    return inner_->GetIndex(key);
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanIndex(
      absl::string_view prefix, absl::string_view start_after,
      size_t max_count) const override {
    return inner_->ScanIndex(prefix, start_after, max_count);
  }

  std::vector<uint64_t> applied;
  // The next Apply fails with this, applying nothing.
  absl::Status fail_next;

 private:
  DerivedState* const inner_;
};

TEST(LogBackedEventStoreTest,
     CatchUpAfterARestartAppliesExactlyTheMissingRecords) {
  InMemoryCommitLog log;
  InMemoryDerivedState kept_state;  // Survives the "restart".
  {
    ASSIGN_OR_FAIL(auto store, LogBackedEventStore::Open(&log, &kept_state));
    WriteVariedHistory(store.get(), 100, /*seed=*/1);
  }
  const uint64_t kept = kept_state.AppliedPosition();
  ASSERT_GT(kept, 50u);

  // While it was down, another writer appended more records.
  InMemoryDerivedState other_state;
  {
    ASSIGN_OR_FAIL(auto other, LogBackedEventStore::Open(&log, &other_state));
    WriteVariedHistory(other.get(), 60, /*seed=*/2);
  }
  ASSIGN_OR_FAIL(uint64_t last, log.LastPosition());
  ASSERT_GT(last, kept + 20);

  CountingState counting(&kept_state);
  ASSIGN_OR_FAIL(auto restarted, LogBackedEventStore::Open(&log, &counting));
  std::vector<uint64_t> missing;
  for (uint64_t p = kept + 1; p <= last; ++p) missing.push_back(p);
  EXPECT_EQ(counting.applied, missing);
  EXPECT_EQ(counting.AppliedPosition(), last);
  EXPECT_TRUE(DumpStore(*restarted) == DumpStore(other_state));

  // Nothing new: nothing applied.
  counting.applied.clear();
  SEQ_ASSERT_OK(restarted->CatchUp());
  EXPECT_TRUE(counting.applied.empty());
}

TEST(LogBackedEventStoreTest, ApplyFailingForIoIsAppliedByTheNextCommit) {
  InMemoryCommitLog log;
  InMemoryDerivedState inner;
  CountingState state(&inner);
  ASSIGN_OR_FAIL(auto store, LogBackedEventStore::Open(&log, &state));
  state.fail_next = absl::UnavailableError("disk full");
  auto failed = store->Commit(
      CommitBatch{{StreamAppend{"s", 0, {NewEvent{"A", ""}}}}, {}});
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  SEQ_EXPECT_OK(store->WriteState());
  ASSIGN_OR_FAIL(uint64_t last, log.LastPosition());
  EXPECT_EQ(last, 1u);  // In the log, not applied.
  EXPECT_EQ(state.AppliedPosition(), 0u);

  // The next Commit applies it first, then decides on it.
  auto conflict = store->Commit(
      CommitBatch{{StreamAppend{"s", 0, {NewEvent{"B", ""}}}}, {}});
  EXPECT_TRUE(absl::IsAborted(conflict.status())) << conflict.status();
  EXPECT_EQ(state.applied, std::vector<uint64_t>{1});
  SEQ_ASSERT_OK(store->Commit(
      CommitBatch{{StreamAppend{"s", 1, {NewEvent{"B", ""}}}}, {}}));
  EXPECT_EQ(state.applied, (std::vector<uint64_t>{1, 2}));

  // A record that does not apply fails the store.
  state.fail_next = absl::InternalError("disagrees");
  auto broken = store->Commit(CommitBatch{{}, {IndexWrite{"k", "v"}}});
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(store->WriteState().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(
      store->Commit(CommitBatch{{}, {IndexWrite{"k", "v"}}}).status().code(),
      absl::StatusCode::kInternal);
}

TEST(LogBackedEventStoreTest, WriterBehindTheLogCatchesUpAndDecidesAgain) {
  InMemoryCommitLog log;
  InMemoryDerivedState state_a;
  InMemoryDerivedState state_b;
  ASSIGN_OR_FAIL(auto a, LogBackedEventStore::Open(&log, &state_a));
  ASSIGN_OR_FAIL(auto b, LogBackedEventStore::Open(&log, &state_b));

  SEQ_ASSERT_OK(a->Commit(CommitBatch{
      {StreamAppend{"s", 0, {NewEvent{"A", "1"}}}}, {IndexWrite{"k", "a"}}}));
  ASSERT_EQ(state_b.AppliedPosition(), 0u);

  // b still sees "s" empty; the log refuses its append (expected position
  // 0), b applies a's record and finds the stream's version is 1 now.
  auto conflict = b->Commit(CommitBatch{
      {StreamAppend{"s", 0, {NewEvent{"B", "2"}}}}, {IndexWrite{"k", "b"}}});
  EXPECT_TRUE(absl::IsAborted(conflict.status())) << conflict.status();
  ASSIGN_OR_FAIL(uint64_t last, log.LastPosition());
  EXPECT_EQ(last, 1u);
  ASSIGN_OR_FAIL(auto value, b->GetIndex("k"));
  EXPECT_EQ(value, std::optional<std::string>("a"));

  // A batch that still holds after catching up commits.
  SEQ_ASSERT_OK(
      a->Commit(CommitBatch{{StreamAppend{"t", 0, {NewEvent{}}}}, {}}));
  ASSIGN_OR_FAIL(
      CommitResult result,
      b->Commit(CommitBatch{{StreamAppend{"s", 1, {NewEvent{"B", "2"}}}}, {}}));
  EXPECT_EQ(result.first_position, 3u);
  EXPECT_EQ(result.stream_versions, std::vector<uint64_t>{2});
  SEQ_ASSERT_OK(a->CatchUp());
  EXPECT_TRUE(DumpStore(*a) == DumpStore(*b));
}

TEST(LogBackedEventStoreTest, ConcurrentWritersOnOneLogAgree) {
  InMemoryCommitLog log;
  constexpr int kWriters = 4;
  std::vector<std::unique_ptr<InMemoryDerivedState>> states;
  std::vector<std::unique_ptr<LogBackedEventStore>> stores;
  for (int i = 0; i < kWriters; ++i) {
    states.push_back(std::make_unique<InMemoryDerivedState>());
    ASSIGN_OR_FAIL(auto store,
                   LogBackedEventStore::Open(&log, states.back().get()));
    stores.push_back(std::move(store));
  }
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      for (int c = 0; c < 100; ++c) {
        // Each writer appends to its own stream and to a shared one.
        auto result = stores[i]->Commit(CommitBatch{
            {StreamAppend{absl::StrCat("own/", i), c, {NewEvent{"E", ""}}},
             StreamAppend{"shared", kAnyVersion, {NewEvent{"E", ""}}}},
            {}});
        if (result.ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  // A writer gives up only after kMaxAppendAttempts refusals in a row, which
  // four writers may cause; a failed commit wrote nothing and the writer's
  // own stream version then stays behind, so its later commits abort too.
  EXPECT_GT(ok.load(), 0);
  for (auto& store : stores) SEQ_ASSERT_OK(store->CatchUp());
  const StoreDump first = DumpStore(*stores[0]);
  EXPECT_EQ(first.versions.at("shared"), static_cast<uint64_t>(ok.load()));
  for (int i = 1; i < kWriters; ++i)
    EXPECT_TRUE(DumpStore(*stores[i]) == first);
}

}  // namespace
}  // namespace sequencer::eventstore
