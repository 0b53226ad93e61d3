// The EventStore contract (eventstore/event_store.h), run against every
// implementation.

#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "eventstore/commit_log.h"
#include "eventstore/event_store.h"
#include "eventstore/in_memory_derived_state.h"
#include "eventstore/in_memory_event_store.h"
#include "eventstore/log_backed_event_store.h"
#include "eventstore/rocksdb_event_store.h"
#include "gtest/gtest.h"
#include "tests/util/status_matchers.h"
#include "tests/util/temp_dir.h"
#include "tests/util/test_util.h"

namespace sequencer::eventstore {
namespace {

using ::sequencer::testing::StatusIs;

using ::sequencer::testing::TempDir;

class InMemoryFactory {
 public:
  std::unique_ptr<EventStore> Make() {
    return std::make_unique<InMemoryEventStore>();
  }
};

// A CommitLog and a DerivedState composed (both in memory).
class LogBackedFactory {
 public:
  std::unique_ptr<EventStore> Make() {
    auto store = LogBackedEventStore::Open(&log_, &state_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(store).value() : nullptr;
  }

 private:
  InMemoryCommitLog log_;
  InMemoryDerivedState state_;
};

// A CommitLog in memory, the derived state in RocksDB.
class LogBackedRocksDbFactory {
 public:
  std::unique_ptr<EventStore> Make() {
    RocksDbEventStore::Options options;
    options.external_log = true;
    auto state = RocksDbEventStore::Open(dir_.Sub("db"), options);
    EXPECT_TRUE(state.ok()) << state.status();
    if (!state.ok()) return nullptr;
    state_ = std::move(state).value();
    auto store = LogBackedEventStore::Open(&log_, state_.get());
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(store).value() : nullptr;
  }

 private:
  TempDir dir_;
  InMemoryCommitLog log_;
  std::unique_ptr<RocksDbEventStore> state_;
};

class RocksDbFactory {
 public:
  std::unique_ptr<EventStore> Make() {
    auto store = RocksDbEventStore::Open(dir_.Sub("db"));
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(store).value() : nullptr;
  }

 private:
  TempDir dir_;
};

NewEvent Ev(std::string type, std::string data = "") {
  return NewEvent{std::move(type), std::move(data)};
}

StreamAppend Append(std::string stream, int64_t expected,
                    std::vector<NewEvent> events) {
  return StreamAppend{std::move(stream), expected, std::move(events)};
}

CommitBatch Batch(std::vector<StreamAppend> appends,
                  std::vector<IndexWrite> index_writes = {}) {
  return CommitBatch{std::move(appends), std::move(index_writes)};
}

IndexWrite Put(std::string key, std::string value) {
  return IndexWrite{std::move(key), std::move(value)};
}

IndexWrite Del(std::string key) { return IndexWrite{std::move(key), {}}; }

template <typename Factory>
class EventStoreContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = factory_.Make();
    ASSERT_NE(store_, nullptr);
  }

  // Every event of the log, in position order.
  std::vector<StoredEvent> All() {
    auto events = store_->ReadAll(0, SIZE_MAX);
    EXPECT_TRUE(events.ok()) << events.status();
    return events.ok() ? *events : std::vector<StoredEvent>();
  }

  Factory factory_;
  std::unique_ptr<EventStore> store_;
};

using Implementations =
    ::testing::Types<InMemoryFactory, LogBackedFactory, LogBackedRocksDbFactory,
                     RocksDbFactory>;

class ImplementationNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    if (std::is_same_v<T, InMemoryFactory>) return "InMemory";
    if (std::is_same_v<T, LogBackedFactory>) return "LogBacked";
    if (std::is_same_v<T, LogBackedRocksDbFactory>) return "LogBackedRocksDb";
    return "RocksDb";
  }
};

TYPED_TEST_SUITE(EventStoreContractTest, Implementations, ImplementationNames);

TYPED_TEST(EventStoreContractTest, EmptyStore) {
  EXPECT_EQ(this->store_->LastPosition(), 0u);
  EXPECT_TRUE(this->All().empty());
  ASSIGN_OR_FAIL(uint64_t version, this->store_->StreamVersion("nope"));
  EXPECT_EQ(version, 0u);
  ASSIGN_OR_FAIL(auto events, this->store_->ReadStream("nope", 0, 10));
  EXPECT_TRUE(events.empty());
  ASSIGN_OR_FAIL(auto value, this->store_->GetIndex("nope"));
  EXPECT_FALSE(value.has_value());
}

TYPED_TEST(EventStoreContractTest, AppendToNewStreamWithExpectedZero) {
  ASSIGN_OR_FAIL(CommitResult result,
                 this->store_->Commit(Batch({Append(
                     "a", 0, {Ev("Created", "x"), Ev("Paused", "y")})})));
  EXPECT_EQ(result.first_position, 1u);
  EXPECT_EQ(result.last_position, 2u);
  EXPECT_EQ(result.stream_versions, std::vector<uint64_t>{2});
  EXPECT_EQ(this->store_->LastPosition(), 2u);
  ASSIGN_OR_FAIL(uint64_t version, this->store_->StreamVersion("a"));
  EXPECT_EQ(version, 2u);

  ASSIGN_OR_FAIL(auto events, this->store_->ReadStream("a", 0, 10));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].stream, "a");
  EXPECT_EQ(events[0].version, 1u);
  EXPECT_EQ(events[0].position, 1u);
  EXPECT_EQ(events[0].type, "Created");
  EXPECT_EQ(events[0].data, "x");
  EXPECT_EQ(events[1].version, 2u);
  EXPECT_EQ(events[1].position, 2u);
  EXPECT_EQ(events[1].type, "Paused");
  EXPECT_EQ(events[1].data, "y");

  ASSIGN_OR_FAIL(
      result, this->store_->Commit(Batch({Append("a", 2, {Ev("Resumed")})})));
  EXPECT_EQ(result.first_position, 3u);
  EXPECT_EQ(result.stream_versions, std::vector<uint64_t>{3});
}

TYPED_TEST(EventStoreContractTest, BinaryDataRoundTrips) {
  const std::string data("\0\x01\xff payload \0", 13);
  const std::string stream("r/t\x01\xff/seq", 9);
  SEQ_ASSERT_OK(this->store_->Commit(
      Batch({Append(stream, 0, {Ev(std::string("T\0y", 3), data)})})));
  ASSIGN_OR_FAIL(auto events, this->store_->ReadStream(stream, 1, 1));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, std::string("T\0y", 3));
  EXPECT_EQ(events[0].data, data);
  auto all = this->All();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].stream, stream);
  EXPECT_EQ(all[0].data, data);
}

TYPED_TEST(EventStoreContractTest, VersionMismatchIsAbortedAndWritesNothing) {
  SEQ_ASSERT_OK(this->store_->Commit(
      Batch({Append("a", 0, {Ev("E1"), Ev("E2")})}, {Put("k", "v1")})));
  auto result = this->store_->Commit(
      Batch({Append("a", 1, {Ev("E3")})}, {Put("k", "v2"), Put("k2", "x")}));
  ASSERT_THAT(result.status(), StatusIs(absl::StatusCode::kAborted))
      << result.status();
  EXPECT_NE(result.status().message().find("\"a\""), absl::string_view::npos)
      << result.status();
  EXPECT_NE(result.status().message().find("expected version 1"),
            absl::string_view::npos)
      << result.status();
  EXPECT_NE(result.status().message().find("actual version 2"),
            absl::string_view::npos)
      << result.status();

  EXPECT_EQ(this->store_->LastPosition(), 2u);
  EXPECT_EQ(this->All().size(), 2u);
  ASSIGN_OR_FAIL(uint64_t version, this->store_->StreamVersion("a"));
  EXPECT_EQ(version, 2u);
  ASSIGN_OR_FAIL(auto k, this->store_->GetIndex("k"));
  EXPECT_EQ(k, "v1");
  ASSIGN_OR_FAIL(auto k2, this->store_->GetIndex("k2"));
  EXPECT_FALSE(k2.has_value());

  // Expecting a stream to be new when it is not.
  result = this->store_->Commit(Batch({Append("a", 0, {Ev("E3")})}));
  EXPECT_THAT(result.status(), StatusIs(absl::StatusCode::kAborted));
  // Expecting events in a stream that is empty.
  result = this->store_->Commit(Batch({Append("b", 3, {Ev("E1")})}));
  EXPECT_THAT(result.status(), StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(this->store_->LastPosition(), 2u);
}

// Writes to one key in one batch, or in commits made together, apply in the
// order given (RocksDB's group commit hands them over in key order; the sort
// must keep each key's own order).
TYPED_TEST(EventStoreContractTest, WritesToOneKeyApplyInTheOrderGiven) {
  SEQ_ASSERT_OK(this->store_->Commit(
      Batch({Append("b", 0, {Ev("E1")}), Append("a", 0, {Ev("E1")}),
             Append("b", 1, {Ev("E2")})},
            {Put("z", "1"), Put("k", "v1"), Del("k"), Put("a", "x"),
             Put("k2", "v1"), Put("k2", "v2"), Del("z"), Put("z", "2")})));
  ASSIGN_OR_FAIL(auto k, this->store_->GetIndex("k"));
  EXPECT_FALSE(k.has_value());
  ASSIGN_OR_FAIL(auto k2, this->store_->GetIndex("k2"));
  EXPECT_EQ(k2, "v2");
  ASSIGN_OR_FAIL(auto z, this->store_->GetIndex("z"));
  EXPECT_EQ(z, "2");
  // Enough writes to one key, among others, that any unstable reordering of
  // them would show.
  std::vector<IndexWrite> many;
  for (int i = 0; i < 300; ++i) {
    many.push_back(Put(absl::StrCat("other-", (i * 7919) % 300), "x"));
    many.push_back(Put("same", absl::StrCat(i)));
    if (i % 3 == 0) many.push_back(Del("same"));
  }
  SEQ_ASSERT_OK(this->store_->Commit(Batch({}, many)));
  ASSIGN_OR_FAIL(auto same, this->store_->GetIndex("same"));
  EXPECT_EQ(same, "299");
  ASSIGN_OR_FAIL(auto b, this->store_->ReadStream("b", 0, 10));
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].type, "E1");
  EXPECT_EQ(b[1].type, "E2");
  EXPECT_LT(b[0].position, b[1].position);

  // Many commits at once (grouped by the durable store): each key ends with
  // the value of the last commit that wrote it.
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 20; ++i) {
        SEQ_EXPECT_OK(this->store_->Commit(
            Batch({}, {Put(absl::StrCat("t", t), absl::StrCat(i)),
                       Del(absl::StrCat("t", t, "-gone")),
                       Put(absl::StrCat("t", t, "-gone"), "back"),
                       Del(absl::StrCat("t", t, "-gone"))})));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 8; ++t) {
    ASSIGN_OR_FAIL(auto last, this->store_->GetIndex(absl::StrCat("t", t)));
    EXPECT_EQ(last, "19") << t;
    ASSIGN_OR_FAIL(auto gone,
                   this->store_->GetIndex(absl::StrCat("t", t, "-gone")));
    EXPECT_FALSE(gone.has_value()) << t;
  }
}

TYPED_TEST(EventStoreContractTest, AnyVersionAppendsWhateverTheVersion) {
  ASSIGN_OR_FAIL(
      CommitResult r1,
      this->store_->Commit(Batch({Append("a", kAnyVersion, {Ev("E1")})})));
  EXPECT_EQ(r1.stream_versions, std::vector<uint64_t>{1});
  ASSIGN_OR_FAIL(CommitResult r2,
                 this->store_->Commit(
                     Batch({Append("a", kAnyVersion, {Ev("E2"), Ev("E3")})})));
  EXPECT_EQ(r2.stream_versions, std::vector<uint64_t>{3});
  EXPECT_EQ(r2.first_position, 2u);
  EXPECT_EQ(r2.last_position, 3u);
}

TYPED_TEST(EventStoreContractTest, MultiStreamBatchIsAtomic) {
  SEQ_ASSERT_OK(this->store_->Commit(Batch({Append("b", 0, {Ev("B1")})})));
  auto bad = this->store_->Commit(
      Batch({Append("a", 0, {Ev("A1")}), Append("b", 0, {Ev("B2")}),
             Append("c", kAnyVersion, {Ev("C1")})},
            {Put("idx", "1")}));
  EXPECT_THAT(bad.status(), StatusIs(absl::StatusCode::kAborted))
      << bad.status();
  EXPECT_EQ(this->store_->LastPosition(), 1u);
  EXPECT_EQ(this->All().size(), 1u);
  ASSIGN_OR_FAIL(uint64_t a, this->store_->StreamVersion("a"));
  ASSIGN_OR_FAIL(uint64_t c, this->store_->StreamVersion("c"));
  EXPECT_EQ(a, 0u);
  EXPECT_EQ(c, 0u);
  ASSIGN_OR_FAIL(auto idx, this->store_->GetIndex("idx"));
  EXPECT_FALSE(idx.has_value());

  ASSIGN_OR_FAIL(CommitResult ok, this->store_->Commit(Batch(
                                      {Append("a", 0, {Ev("A1")}),
                                       Append("b", 1, {Ev("B2"), Ev("B3")}),
                                       Append("c", kAnyVersion, {Ev("C1")})},
                                      {Put("idx", "1")})));
  EXPECT_EQ(ok.first_position, 2u);
  EXPECT_EQ(ok.last_position, 5u);
  EXPECT_EQ(ok.stream_versions, (std::vector<uint64_t>{1, 3, 1}));
  auto all = this->All();
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[1].stream, "a");
  EXPECT_EQ(all[2].stream, "b");
  EXPECT_EQ(all[2].version, 2u);
  EXPECT_EQ(all[3].stream, "b");
  EXPECT_EQ(all[3].version, 3u);
  EXPECT_EQ(all[4].stream, "c");
  ASSIGN_OR_FAIL(idx, this->store_->GetIndex("idx"));
  EXPECT_EQ(idx, "1");
}

TYPED_TEST(EventStoreContractTest, TwoAppendsOnSameStreamInOneBatch) {
  ASSIGN_OR_FAIL(CommitResult r,
                 this->store_->Commit(Batch({Append("a", 0, {Ev("E1")}),
                                             Append("a", 1, {Ev("E2")}),
                                             Append("a", kAnyVersion, {})})));
  EXPECT_EQ(r.stream_versions, (std::vector<uint64_t>{1, 2, 2}));
  EXPECT_EQ(r.first_position, 1u);
  EXPECT_EQ(r.last_position, 2u);
  ASSIGN_OR_FAIL(auto events, this->store_->ReadStream("a", 0, 10));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].type, "E2");
  EXPECT_EQ(events[1].version, 2u);

  // The second append's expectation ignores the first: rejected as a whole.
  auto bad = this->store_->Commit(
      Batch({Append("a", 2, {Ev("E3")}), Append("a", 2, {Ev("E4")})}));
  EXPECT_THAT(bad.status(), StatusIs(absl::StatusCode::kAborted));
  ASSIGN_OR_FAIL(uint64_t version, this->store_->StreamVersion("a"));
  EXPECT_EQ(version, 2u);
  EXPECT_EQ(this->store_->LastPosition(), 2u);
}

TYPED_TEST(EventStoreContractTest, GlobalPositionsAreContiguous) {
  uint64_t expected_first = 1;
  for (int i = 0; i < 20; ++i) {
    std::vector<NewEvent> events(1 + i % 3, Ev("E"));
    ASSIGN_OR_FAIL(CommitResult r,
                   this->store_->Commit(Batch({Append(absl::StrCat("s", i % 4),
                                                      kAnyVersion, events)})));
    EXPECT_EQ(r.first_position, expected_first);
    EXPECT_EQ(r.last_position, expected_first + events.size() - 1);
    expected_first += events.size();
  }
  // A commit without events takes no position.
  ASSIGN_OR_FAIL(CommitResult r,
                 this->store_->Commit(Batch({}, {Put("k", "v")})));
  EXPECT_EQ(r.first_position, 0u);
  EXPECT_EQ(r.last_position, 0u);
  EXPECT_EQ(this->store_->LastPosition(), expected_first - 1);
  auto all = this->All();
  ASSERT_EQ(all.size(), expected_first - 1);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].position, i + 1);
}

TYPED_TEST(EventStoreContractTest, ReadStreamFromVersionAndMaxCount) {
  for (int i = 1; i <= 5; ++i) {
    SEQ_ASSERT_OK(this->store_->Commit(
        Batch({Append("a", i - 1, {Ev(absl::StrCat("A", i))}),
               Append("b", kAnyVersion, {Ev("B")})})));
  }
  ASSIGN_OR_FAIL(auto events, this->store_->ReadStream("a", 3, 10));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].version, 3u);
  EXPECT_EQ(events[0].type, "A3");
  EXPECT_EQ(events[0].position, 5u);
  EXPECT_EQ(events[2].version, 5u);
  ASSIGN_OR_FAIL(events, this->store_->ReadStream("a", 2, 2));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].version, 2u);
  EXPECT_EQ(events[1].version, 3u);
  ASSIGN_OR_FAIL(events, this->store_->ReadStream("a", 6, 10));
  EXPECT_TRUE(events.empty());
  ASSIGN_OR_FAIL(events, this->store_->ReadStream("a", 1, 0));
  EXPECT_TRUE(events.empty());
}

// Short and long reads of one stream (the RocksDB store reads up to 32
// events by key and longer ranges with an iterator) give the same events.
TYPED_TEST(EventStoreContractTest, ReadStreamOfShortAndLongRangesAgree) {
  for (int i = 1; i <= 40; ++i) {
    SEQ_ASSERT_OK(this->store_->Commit(
        Batch({Append("a", i - 1, {Ev(absl::StrCat("A", i))}),
               Append("z", kAnyVersion, {Ev("Z")})})));
  }
  for (const auto& [from, max] : std::vector<std::pair<uint64_t, size_t>>{
           {0, 100}, {1, 32}, {1, 33}, {9, 32}, {9, 31}, {5, 100}, {40, 5}}) {
    ASSIGN_OR_FAIL(auto events, this->store_->ReadStream("a", from, max));
    const uint64_t first = std::max<uint64_t>(from, 1);
    const size_t expected = std::min<size_t>(max, 40 - first + 1);
    ASSERT_EQ(events.size(), expected) << from << " " << max;
    for (size_t i = 0; i < events.size(); ++i) {
      EXPECT_EQ(events[i].stream, "a");
      EXPECT_EQ(events[i].version, first + i);
      EXPECT_EQ(events[i].type, absl::StrCat("A", first + i));
      EXPECT_EQ(events[i].position, 2 * (first + i) - 1);
    }
  }
}

TYPED_TEST(EventStoreContractTest, StreamsWithSharedPrefixesStayApart) {
  const std::vector<std::string> streams = {"a", "ab", "a\x01", "a/b", "b"};
  for (const std::string& s : streams) {
    SEQ_ASSERT_OK(this->store_->Commit(Batch({Append(s, 0, {Ev(s), Ev(s)})})));
  }
  for (const std::string& s : streams) {
    ASSIGN_OR_FAIL(auto events, this->store_->ReadStream(s, 0, 100));
    ASSERT_EQ(events.size(), 2u) << s;
    for (const StoredEvent& e : events) {
      EXPECT_EQ(e.stream, s);
      EXPECT_EQ(e.type, s);
    }
    ASSIGN_OR_FAIL(uint64_t version, this->store_->StreamVersion(s));
    EXPECT_EQ(version, 2u);
  }
}

TYPED_TEST(EventStoreContractTest, ReadAllFromPositionAndMaxCount) {
  for (int i = 0; i < 10; ++i) {
    SEQ_ASSERT_OK(this->store_->Commit(Batch({Append(
        absl::StrCat("s", i % 3), kAnyVersion, {Ev(absl::StrCat("E", i))})})));
  }
  ASSIGN_OR_FAIL(auto events, this->store_->ReadAll(4, 3));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].position, 4u);
  EXPECT_EQ(events[0].type, "E3");
  EXPECT_EQ(events[0].stream, "s0");
  EXPECT_EQ(events[0].version, 2u);
  EXPECT_EQ(events[2].position, 6u);
  ASSIGN_OR_FAIL(events, this->store_->ReadAll(9, 100));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].position, 10u);
  ASSIGN_OR_FAIL(events, this->store_->ReadAll(11, 100));
  EXPECT_TRUE(events.empty());
  ASSIGN_OR_FAIL(events, this->store_->ReadAll(0, 0));
  EXPECT_TRUE(events.empty());
  ASSIGN_OR_FAIL(events, this->store_->ReadAll(0, 1));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].position, 1u);
}

TYPED_TEST(EventStoreContractTest, ScanStreamsVisitsStreamsInNameOrder) {
  // Positions interleave the streams; the scan gives stream-name order, each
  // stream's events by version, with positions, types and data as stored.
  SEQ_ASSERT_OK(
      this->store_->Commit(Batch({Append("seq/b", 0, {Ev("B1", "b1")}),
                                  Append("rcp/a", 0, {Ev("A1", "a1")})})));
  SEQ_ASSERT_OK(
      this->store_->Commit(Batch({Append("rcp/a", 1,
                                         {Ev("A2", std::string("a\0"
                                                               "2",
                                                               3))}),
                                  Append("rcp/a/x", 0, {Ev("X1", "")}),
                                  Append("seq/b", 1, {Ev("B2", "b2")})})));
  struct Seen {
    std::string stream;
    uint64_t version;
    uint64_t position;
    std::string type;
    std::string data;
  };
  auto scan = [&](absl::string_view prefix) {
    std::vector<Seen> seen;
    absl::Status status =
        this->store_->ScanStreams(prefix, [&](const StoredEventView& e) {
          seen.push_back({std::string(e.stream), e.version, e.position,
                          std::string(e.type), std::string(e.data)});
          return absl::OkStatus();
        });
    EXPECT_TRUE(status.ok()) << status;
    return seen;
  };
  std::vector<Seen> all = scan("");
  ASSERT_EQ(all.size(), 5u);
  const std::vector<std::pair<std::string, uint64_t>> order = {
      {"rcp/a", 1}, {"rcp/a", 2}, {"rcp/a/x", 1}, {"seq/b", 1}, {"seq/b", 2}};
  const std::vector<uint64_t> positions = {2, 3, 4, 1, 5};
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].stream, order[i].first) << i;
    EXPECT_EQ(all[i].version, order[i].second) << i;
    EXPECT_EQ(all[i].position, positions[i]) << i;
  }
  EXPECT_EQ(all[0].type, "A1");
  EXPECT_EQ(all[0].data, "a1");
  EXPECT_EQ(all[1].data, std::string("a\0"
                                     "2",
                                     3));
  EXPECT_EQ(all[2].data, "");

  std::vector<Seen> sequences = scan("seq/");
  ASSERT_EQ(sequences.size(), 2u);
  EXPECT_EQ(sequences[0].type, "B1");
  EXPECT_EQ(sequences[1].type, "B2");
  EXPECT_TRUE(scan("zzz").empty());

  // The visitor's error stops the scan and is returned.
  int calls = 0;
  absl::Status stopped =
      this->store_->ScanStreams("", [&](const StoredEventView&) {
        ++calls;
        return absl::CancelledError("enough");
      });
  EXPECT_THAT(stopped, StatusIs(absl::StatusCode::kCancelled));
  EXPECT_EQ(calls, 1);
}

TYPED_TEST(EventStoreContractTest, ScanStreamRangeVisitsTheStreamsBetween) {
  SEQ_ASSERT_OK(this->store_->Commit(
      Batch({Append("c", 0, {Ev("C1", "c1")}), Append("b", 0, {Ev("B1")}),
             Append("a", 0, {Ev("A1")})})));
  SEQ_ASSERT_OK(this->store_->Commit(
      Batch({Append("bb", 0, {Ev("BB1")}), Append("b/x", 0, {Ev("X1")}),
             Append("b", 1, {Ev("B2", "b2")})})));
  // "stream vversion @position type data" per visited event.
  auto scan = [&](absl::string_view from, absl::string_view to) {
    std::vector<std::string> seen;
    absl::Status status =
        this->store_->ScanStreamRange(from, to, [&](const StoredEventView& e) {
          seen.push_back(absl::StrCat(e.stream, " v", e.version, " @",
                                      e.position, " ", e.type, " ", e.data));
          return absl::OkStatus();
        });
    EXPECT_TRUE(status.ok()) << status;
    return seen;
  };
  using Seen = std::vector<std::string>;
  EXPECT_EQ(scan("", ""),
            (Seen{"a v1 @3 A1 ", "b v1 @2 B1 ", "b v2 @6 B2 b2",
                  "b/x v1 @5 X1 ", "bb v1 @4 BB1 ", "c v1 @1 C1 c1"}));
  EXPECT_EQ(scan("b", "c"), (Seen{"b v1 @2 B1 ", "b v2 @6 B2 b2",
                                  "b/x v1 @5 X1 ", "bb v1 @4 BB1 "}));
  // `from` is included, `to` is not, and a name that only starts with `to`
  // is after it.
  EXPECT_EQ(scan("b", "bb"),
            (Seen{"b v1 @2 B1 ", "b v2 @6 B2 b2", "b/x v1 @5 X1 "}));
  EXPECT_EQ(scan("b/", "b/y"), (Seen{"b/x v1 @5 X1 "}));
  EXPECT_EQ(scan("bb", ""), (Seen{"bb v1 @4 BB1 ", "c v1 @1 C1 c1"}));
  EXPECT_EQ(scan("", "a"), Seen{});
  EXPECT_EQ(scan("c", "b"), Seen{});
  EXPECT_EQ(scan("d", ""), Seen{});

  int calls = 0;
  absl::Status stopped =
      this->store_->ScanStreamRange("a", "", [&](const StoredEventView&) {
        ++calls;
        return absl::CancelledError("enough");
      });
  EXPECT_THAT(stopped, StatusIs(absl::StatusCode::kCancelled));
  EXPECT_EQ(calls, 1);
}

TYPED_TEST(EventStoreContractTest, StreamSplitPointsCoverEveryStream) {
  ASSIGN_OR_FAIL(std::vector<std::string> none,
                 this->store_->StreamSplitPoints("", 4));
  EXPECT_TRUE(none.empty());

  // 60 streams under "r/" of different sizes, and one stream on each side.
  CommitBatch batch;
  batch.appends.push_back(Append("q", 0, {Ev("Q", std::string(500, 'q'))}));
  batch.appends.push_back(Append("s", 0, {Ev("S", std::string(500, 's'))}));
  for (int i = 0; i < 60; ++i) {
    std::vector<NewEvent> events;
    for (int e = 0; e <= i % 3; ++e) {
      events.push_back(Ev("E", std::string(100 + i, 'a' + i % 26)));
    }
    batch.appends.push_back(
        Append(absl::StrCat("r/", i * 7919 % 1000), 0, std::move(events)));
  }
  SEQ_ASSERT_OK(this->store_->Commit(batch));

  std::vector<std::string> all;
  SEQ_ASSERT_OK(this->store_->ScanStreams("r/", [&](const StoredEventView& e) {
    all.push_back(absl::StrCat(e.stream, " v", e.version));
    return absl::OkStatus();
  }));
  ASSERT_EQ(all.size(), 120u);
  for (int parts : {1, 2, 3, 8}) {
    ASSIGN_OR_FAIL(std::vector<std::string> points,
                   this->store_->StreamSplitPoints("r/", parts));
    EXPECT_LE(points.size(), static_cast<size_t>(parts - 1));
    // Each point names a stream of the prefix, in ascending order; the ranges
    // between them hold every stream once, in order.
    std::vector<std::string> bounds = {"r/"};
    for (const std::string& point : points) {
      EXPECT_GT(point, bounds.back());
      ASSIGN_OR_FAIL(uint64_t version, this->store_->StreamVersion(point));
      EXPECT_GT(version, 0u) << point;
      bounds.push_back(point);
    }
    bounds.push_back("r0");
    std::vector<std::string> ranged;
    for (size_t i = 0; i + 1 < bounds.size(); ++i) {
      SEQ_ASSERT_OK(this->store_->ScanStreamRange(
          bounds[i], bounds[i + 1], [&](const StoredEventView& e) {
            ranged.push_back(absl::StrCat(e.stream, " v", e.version));
            return absl::OkStatus();
          }));
    }
    EXPECT_EQ(ranged, all) << parts << " parts";
  }
  ASSIGN_OR_FAIL(none, this->store_->StreamSplitPoints("zz/", 4));
  EXPECT_TRUE(none.empty());
}

TYPED_TEST(EventStoreContractTest, VisitIndexVisitsEntriesInKeyOrder) {
  SEQ_ASSERT_OK(this->store_->Commit(
      Batch({}, {Put("p/b", "2"), Put("p/a", std::string("1\0x", 3)),
                 Put("q/a", "4"), Put("p", "5"), Put("p/\xff", "6")})));
  using Entries = std::vector<std::pair<std::string, std::string>>;
  auto visit = [&](absl::string_view prefix,
                   absl::string_view start_after = "") {
    Entries seen;
    absl::Status status = this->store_->VisitIndex(
        prefix, start_after,
        [&](absl::string_view key, absl::string_view value) {
          seen.emplace_back(std::string(key), std::string(value));
          return absl::OkStatus();
        });
    EXPECT_TRUE(status.ok()) << status;
    return seen;
  };
  EXPECT_EQ(visit("p/"), (Entries{{"p/a", std::string("1\0x", 3)},
                                  {"p/b", "2"},
                                  {"p/\xff", "6"}}));
  EXPECT_EQ(visit(""), (Entries{{"p", "5"},
                                {"p/a", std::string("1\0x", 3)},
                                {"p/b", "2"},
                                {"p/\xff", "6"},
                                {"q/a", "4"}}));
  EXPECT_EQ(visit("zz"), Entries{});
  // Past `start_after`, as ScanIndex.
  EXPECT_EQ(visit("p/", "p/a"), (Entries{{"p/b", "2"}, {"p/\xff", "6"}}));
  EXPECT_EQ(visit("p/", "p/a\x01"), (Entries{{"p/b", "2"}, {"p/\xff", "6"}}));
  EXPECT_EQ(visit("p/", "p/\xff"), Entries{});
  EXPECT_EQ(visit("p/", "a"), visit("p/"));
  EXPECT_EQ(visit("p/", "z"), Entries{});
  EXPECT_EQ(visit("", "p/b"), (Entries{{"p/\xff", "6"}, {"q/a", "4"}}));
  // More entries than one chunk of the default implementation.
  CommitBatch many;
  for (int i = 0; i < 2500; ++i) {
    many.index_writes.push_back(Put(absl::StrCat("m/", 10000 + i), "v"));
  }
  SEQ_ASSERT_OK(this->store_->Commit(many));
  Entries m = visit("m/");
  ASSERT_EQ(m.size(), 2500u);
  EXPECT_EQ(m.front().first, "m/10000");
  EXPECT_EQ(m.back().first, "m/12499");
  m = visit("m/", "m/11200");
  ASSERT_EQ(m.size(), 1299u);
  EXPECT_EQ(m.front().first, "m/11201");

  int calls = 0;
  absl::Status stopped = this->store_->VisitIndex(
      "p/", "", [&](absl::string_view, absl::string_view) {
        ++calls;
        return absl::CancelledError("enough");
      });
  EXPECT_THAT(stopped, StatusIs(absl::StatusCode::kCancelled));
  EXPECT_EQ(calls, 1);
}

TYPED_TEST(EventStoreContractTest, IndexPutDeleteGetScan) {
  SEQ_ASSERT_OK(this->store_->Commit(
      Batch({}, {Put("p/a", "1"), Put("p/b", "2"), Put("p/c", "3"),
                 Put("q/a", "4"), Put("p", "5"), Put("p/\xff", "6")})));
  ASSIGN_OR_FAIL(auto v, this->store_->GetIndex("p/b"));
  EXPECT_EQ(v, "2");

  using Entries = std::vector<std::pair<std::string, std::string>>;
  ASSIGN_OR_FAIL(Entries entries, this->store_->ScanIndex("p/", "", 100));
  EXPECT_EQ(
      entries,
      (Entries{{"p/a", "1"}, {"p/b", "2"}, {"p/c", "3"}, {"p/\xff", "6"}}));
  ASSIGN_OR_FAIL(entries, this->store_->ScanIndex("p/", "p/a", 2));
  EXPECT_EQ(entries, (Entries{{"p/b", "2"}, {"p/c", "3"}}));
  ASSIGN_OR_FAIL(entries, this->store_->ScanIndex("p/", "p/c", 100));
  EXPECT_EQ(entries, (Entries{{"p/\xff", "6"}}));
  ASSIGN_OR_FAIL(entries, this->store_->ScanIndex("p/", "a", 100));
  EXPECT_EQ(entries.size(), 4u);
  ASSIGN_OR_FAIL(entries, this->store_->ScanIndex("p/", "z", 100));
  EXPECT_TRUE(entries.empty());
  ASSIGN_OR_FAIL(entries, this->store_->ScanIndex("", "", 100));
  EXPECT_EQ(entries.size(), 6u);
  EXPECT_EQ(entries.front().first, "p");
  EXPECT_EQ(entries.back().first, "q/a");
  ASSIGN_OR_FAIL(entries, this->store_->ScanIndex("", "p/\xff", 100));
  EXPECT_EQ(entries, (Entries{{"q/a", "4"}}));
  ASSIGN_OR_FAIL(entries, this->store_->ScanIndex("p/", "", 0));
  EXPECT_TRUE(entries.empty());

  // Overwrite, delete (also of an absent key), all in one commit with an event.
  SEQ_ASSERT_OK(this->store_->Commit(
      Batch({Append("a", 0, {Ev("E")})},
            {Put("p/a", "10"), Del("p/b"), Del("absent")})));
  ASSIGN_OR_FAIL(v, this->store_->GetIndex("p/a"));
  EXPECT_EQ(v, "10");
  ASSIGN_OR_FAIL(v, this->store_->GetIndex("p/b"));
  EXPECT_FALSE(v.has_value());
  ASSIGN_OR_FAIL(entries, this->store_->ScanIndex("p/", "", 100));
  EXPECT_EQ(entries, (Entries{{"p/a", "10"}, {"p/c", "3"}, {"p/\xff", "6"}}));

  // Writes to one key within a batch apply in order.
  SEQ_ASSERT_OK(this->store_->Commit(
      Batch({}, {Put("k", "1"), Del("k"), Put("k", "2")})));
  ASSIGN_OR_FAIL(v, this->store_->GetIndex("k"));
  EXPECT_EQ(v, "2");
}

TYPED_TEST(EventStoreContractTest, InvalidArguments) {
  auto r = this->store_->Commit(Batch({Append("", 0, {Ev("E")})}));
  EXPECT_THAT(r.status(), StatusIs(absl::StatusCode::kInvalidArgument));
  r = this->store_->Commit(
      Batch({Append(std::string("a\0b", 3), 0, {Ev("E")})}));
  EXPECT_THAT(r.status(), StatusIs(absl::StatusCode::kInvalidArgument));
  r = this->store_->Commit(Batch({Append("a", 0, {Ev("E")})}, {Put("", "v")}));
  EXPECT_THAT(r.status(), StatusIs(absl::StatusCode::kInvalidArgument));
  r = this->store_->Commit(Batch({Append("a", 0, {Ev("E")})}, {Del("")}));
  EXPECT_THAT(r.status(), StatusIs(absl::StatusCode::kInvalidArgument));
  r = this->store_->Commit(Batch({Append("a", -2, {Ev("E")})}));
  EXPECT_THAT(r.status(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(this->store_->LastPosition(), 0u);
  EXPECT_TRUE(this->All().empty());

  EXPECT_THAT(this->store_->ReadStream("", 0, 1).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(this->store_->StreamVersion("").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(this->store_->GetIndex("").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TYPED_TEST(EventStoreContractTest, ConcurrentCommitsFromEightThreads) {
  constexpr int kThreads = 8;
  constexpr int kCommitsPerThread = 40;
  std::vector<std::vector<CommitResult>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &results] {
      const std::string own = absl::StrCat("own/", t);
      for (int i = 0; i < kCommitsPerThread; ++i) {
        const std::string tag = absl::StrCat(t, "/", i);
        auto r = this->store_->Commit(
            Batch({Append(own, i, {Ev("Own", tag)}),
                   Append("shared", kAnyVersion, {Ev("Shared", tag)})},
                  {Put(absl::StrCat("done/", tag), "1")}));
        ASSERT_TRUE(r.ok()) << r.status();
        results[t].push_back(*r);
      }
    });
  }
  for (std::thread& t : threads) t.join();

  constexpr uint64_t kTotal = 2 * kThreads * kCommitsPerThread;
  EXPECT_EQ(this->store_->LastPosition(), kTotal);
  std::set<uint64_t> positions;
  for (const auto& per_thread : results) {
    for (const CommitResult& r : per_thread) {
      EXPECT_EQ(r.last_position, r.first_position + 1);
      positions.insert(r.first_position);
      positions.insert(r.last_position);
    }
  }
  ASSERT_EQ(positions.size(), kTotal);
  EXPECT_EQ(*positions.begin(), 1u);
  EXPECT_EQ(*positions.rbegin(), kTotal);

  auto all = this->All();
  ASSERT_EQ(all.size(), kTotal);
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(all[i].position, i + 1);
  }
  for (int t = 0; t < kThreads; ++t) {
    ASSIGN_OR_FAIL(auto events,
                   this->store_->ReadStream(absl::StrCat("own/", t), 0, 1000));
    ASSERT_EQ(events.size(), kCommitsPerThread);
    for (int i = 0; i < kCommitsPerThread; ++i) {
      EXPECT_EQ(events[i].version, i + 1u);
      EXPECT_EQ(events[i].data, absl::StrCat(t, "/", i));
      // The shared event of the same commit follows it directly.
      EXPECT_EQ(all[events[i].position].data, events[i].data);
      EXPECT_EQ(all[events[i].position].stream, "shared");
    }
  }
  ASSIGN_OR_FAIL(auto shared, this->store_->ReadStream("shared", 0, 10000));
  ASSERT_EQ(shared.size(), kThreads * kCommitsPerThread);
  for (size_t i = 0; i < shared.size(); ++i) {
    EXPECT_EQ(shared[i].version, i + 1);
  }
  ASSIGN_OR_FAIL(auto done, this->store_->ScanIndex("done/", "", 10000));
  EXPECT_EQ(done.size(), kThreads * kCommitsPerThread);
}

// Optimistic concurrency on one stream: the losers of each race get ABORTED,
// the winners' events form the stream without gaps, and conflicting commits
// never disturb unrelated ones.
TYPED_TEST(EventStoreContractTest, ConcurrentConflictsAbortOnlyTheLosers) {
  constexpr int kThreads = 8;
  constexpr int kAttempts = 30;
  std::vector<int> wins(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &wins] {
      for (int i = 0; i < kAttempts; ++i) {
        auto version = this->store_->StreamVersion("hot");
        ASSERT_TRUE(version.ok()) << version.status();
        auto r = this->store_->Commit(
            Batch({Append("hot", static_cast<int64_t>(*version),
                          {Ev("Hot", absl::StrCat(t, "/", i))})}));
        if (r.ok()) {
          ++wins[t];
        } else {
          ASSERT_THAT(r.status(), StatusIs(absl::StatusCode::kAborted))
              << r.status();
        }
        // Always stale: must fail alone, whatever group it lands in.
        auto stale = this->store_->Commit(
            Batch({Append("hot", 1000000, {Ev("Stale")})}));
        ASSERT_THAT(stale.status(), StatusIs(absl::StatusCode::kAborted));
        SEQ_ASSERT_OK(this->store_->Commit(
            Batch({Append(absl::StrCat("calm/", t), i, {Ev("Calm")})})));
      }
    });
  }
  for (std::thread& t : threads) t.join();

  int total_wins = 0;
  for (int w : wins) total_wins += w;
  EXPECT_GE(total_wins, kAttempts);
  ASSIGN_OR_FAIL(uint64_t hot, this->store_->StreamVersion("hot"));
  EXPECT_EQ(hot, static_cast<uint64_t>(total_wins));
  ASSIGN_OR_FAIL(auto events, this->store_->ReadStream("hot", 0, 100000));
  ASSERT_EQ(events.size(), static_cast<size_t>(total_wins));
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].version, i + 1);
    EXPECT_EQ(events[i].type, "Hot");
  }
  EXPECT_EQ(this->store_->LastPosition(),
            static_cast<uint64_t>(total_wins + kThreads * kAttempts));
  auto all = this->All();
  ASSERT_EQ(all.size(), this->store_->LastPosition());
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i].position, i + 1);
}

// The implementations that can erase; the others refuse and write nothing.
template <typename Factory>
constexpr bool kCanErase = std::is_same_v<Factory, InMemoryFactory> ||
                           std::is_same_v<Factory, RocksDbFactory>;

CommitBatch Erase(std::string stream, int64_t expected,
                  std::vector<std::string> forget_keys = {},
                  std::vector<StreamAppend> appends = {}) {
  CommitBatch batch;
  batch.appends = std::move(appends);
  batch.erasures.push_back(
      StreamErasure{std::move(stream), expected, std::move(forget_keys)});
  return batch;
}

TYPED_TEST(EventStoreContractTest, ErasureRemovesTheStreamAndKeepsPositions) {
  SEQ_ASSERT_OK(this->store_->Commit(
      Batch({Append("a", 0, {Ev("A1", "alice"), Ev("A2", "alice")}),
             Append("b", 0, {Ev("B1")})},
            {Put("idem/a", "alice's answer"), Put("other", "kept")})));
  SEQ_ASSERT_OK(this->store_->Commit(
      Batch({Append("a", 2, {Ev("A3", "alice")})}, {Put("idem/a2", "x")})));
  auto erased = this->store_->Commit(
      Erase("a", 3, {"idem/a", "idem/a2"}, {Append("tomb", 0, {Ev("T")})}));
  if (!kCanErase<TypeParam>) {
    EXPECT_THAT(erased.status(), StatusIs(absl::StatusCode::kUnimplemented));
    ASSIGN_OR_FAIL(auto version, this->store_->StreamVersion("a"));
    EXPECT_EQ(version, 3u);
    EXPECT_EQ(this->All().size(), 4u);
    return;
  }
  SEQ_ASSERT_OK(erased);
  // The tombstone append took the next position; the erased ones stay used.
  EXPECT_EQ(erased->first_position, 5u);
  EXPECT_EQ(this->store_->LastPosition(), 5u);
  ASSIGN_OR_FAIL(auto events, this->store_->ReadStream("a", 0, 100));
  EXPECT_TRUE(events.empty());
  ASSIGN_OR_FAIL(auto version, this->store_->StreamVersion("a"));
  EXPECT_EQ(version, 0u);
  std::vector<StoredEvent> all = this->All();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].stream, "b");
  EXPECT_EQ(all[0].position, 3u);
  EXPECT_EQ(all[1].stream, "tomb");
  EXPECT_EQ(all[1].position, 5u);
  std::vector<uint64_t> erased_positions;
  SEQ_ASSERT_OK(this->store_->VisitErasedPositions([&](uint64_t position) {
    erased_positions.push_back(position);
    return absl::OkStatus();
  }));
  EXPECT_EQ(erased_positions, (std::vector<uint64_t>{1, 2, 4}));
  ASSIGN_OR_FAIL(auto from_four, this->store_->ReadAll(4, 1));
  ASSERT_EQ(from_four.size(), 1u);
  EXPECT_EQ(from_four[0].position, 5u);
  ASSIGN_OR_FAIL(auto forgotten, this->store_->GetIndex("idem/a"));
  EXPECT_FALSE(forgotten.has_value());
  ASSIGN_OR_FAIL(auto forgotten2, this->store_->GetIndex("idem/a2"));
  EXPECT_FALSE(forgotten2.has_value());
  ASSIGN_OR_FAIL(auto kept, this->store_->GetIndex("other"));
  EXPECT_EQ(kept, "kept");
  std::vector<std::string> scanned;
  SEQ_ASSERT_OK(
      this->store_->ScanStreams("", [&](const StoredEventView& event) {
        scanned.push_back(std::string(event.stream));
        return absl::OkStatus();
      }));
  EXPECT_EQ(scanned, (std::vector<std::string>{"b", "tomb"}));

  // The stream starts again from version 1; positions are never reused.
  auto again = this->store_->Commit(Batch({Append("a", 0, {Ev("A1", "new")})}));
  SEQ_ASSERT_OK(again);
  EXPECT_EQ(again->first_position, 6u);
  ASSIGN_OR_FAIL(auto reborn, this->store_->ReadStream("a", 0, 100));
  ASSERT_EQ(reborn.size(), 1u);
  EXPECT_EQ(reborn[0].version, 1u);
  EXPECT_EQ(reborn[0].data, "new");
  // And can be erased again.
  SEQ_ASSERT_OK(this->store_->Commit(Erase("a", 1)));
  ASSIGN_OR_FAIL(auto gone, this->store_->ReadStream("a", 0, 100));
  EXPECT_TRUE(gone.empty());
  EXPECT_EQ(this->All().size(), 2u);
}

TYPED_TEST(EventStoreContractTest, ErasureAtTheWrongVersionWritesNothing) {
  if (!kCanErase<TypeParam>) {
    EXPECT_THAT(this->store_->Commit(Erase("a", kAnyVersion)).status(),
                StatusIs(absl::StatusCode::kUnimplemented));
    return;
  }
  SEQ_ASSERT_OK(this->store_->Commit(
      Batch({Append("a", 0, {Ev("A1")})}, {Put("idem/a", "v")})));
  EXPECT_THAT(this->store_->Commit(Erase("a", 2, {"idem/a"})).status(),
              StatusIs(absl::StatusCode::kAborted));
  ASSIGN_OR_FAIL(auto events, this->store_->ReadStream("a", 0, 100));
  EXPECT_EQ(events.size(), 1u);
  ASSIGN_OR_FAIL(auto value, this->store_->GetIndex("idem/a"));
  EXPECT_EQ(value, "v");
  // Erasing an empty stream at version 0 is allowed and changes nothing.
  SEQ_ASSERT_OK(this->store_->Commit(Erase("never", 0)));
  EXPECT_EQ(this->All().size(), 1u);

  CommitBatch twice = Erase("a", 1);
  twice.erasures.push_back(StreamErasure{"a", 1, {}});
  EXPECT_THAT(this->store_->Commit(twice).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(this->store_->Commit(Erase("a", 1, {""})).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(this->store_->Commit(Erase("", 1)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSIGN_OR_FAIL(auto still, this->store_->ReadStream("a", 0, 100));
  EXPECT_EQ(still.size(), 1u);
}

TYPED_TEST(EventStoreContractTest, ErasuresRaceCommitsOfOtherStreams) {
  if (!kCanErase<TypeParam>) {
    EXPECT_THAT(this->store_->Commit(Erase("a", kAnyVersion)).status(),
                StatusIs(absl::StatusCode::kUnimplemented));
    return;
  }
  constexpr int kStreams = 40;
  for (int i = 0; i < kStreams; ++i) {
    SEQ_ASSERT_OK(this->store_->Commit(
        Batch({Append(absl::StrCat("e", i), 0, {Ev("E"), Ev("E")})})));
  }
  std::thread eraser([&] {
    for (int i = 0; i < kStreams; ++i) {
      SEQ_EXPECT_OK(this->store_->Commit(Erase(absl::StrCat("e", i), 2)));
    }
  });
  for (int i = 0; i < kStreams; ++i) {
    SEQ_EXPECT_OK(this->store_->Commit(
        Batch({Append(absl::StrCat("k", i), 0, {Ev("K")})})));
  }
  eraser.join();
  std::vector<StoredEvent> all = this->All();
  ASSERT_EQ(all.size(), static_cast<size_t>(kStreams));
  for (const StoredEvent& event : all) EXPECT_EQ(event.stream[0], 'k');
  EXPECT_EQ(this->store_->LastPosition(), 3u * kStreams);
}

}  // namespace
}  // namespace sequencer::eventstore
