// Test helpers: a varied history of commits, and everything a store answers
// (every event, every stream, every index key), to compare two stores.

#ifndef SEQUENCER_TESTS_EVENTSTORE_STORE_DUMP_H_
#define SEQUENCER_TESTS_EVENTSTORE_STORE_DUMP_H_

#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "eventstore/event_store.h"
#include "gtest/gtest.h"

namespace sequencer::eventstore {

struct StoreDump {
  uint64_t last_position = 0;
  // ReadAll: (position, stream, version, type, data).
  std::vector<
      std::tuple<uint64_t, std::string, uint64_t, std::string, std::string>>
      log;
  // ScanStreams(""), then StreamVersion and ReadStream of each stream.
  std::vector<
      std::tuple<std::string, uint64_t, uint64_t, std::string, std::string>>
      streams;
  std::map<std::string, uint64_t> versions;
  std::vector<std::pair<std::string, std::string>> index;

  bool operator==(const StoreDump& o) const {
    return std::tie(last_position, log, streams, versions, index) ==
           std::tie(o.last_position, o.log, o.streams, o.versions, o.index);
  }
};

// Works with anything that has EventStore's read methods (an EventStore, a
// DerivedState).
template <typename Reader>
StoreDump DumpStore(const Reader& store) {
  StoreDump dump;
  dump.last_position = store.LastPosition();
  auto all = store.ReadAll(0, std::numeric_limits<size_t>::max());
  EXPECT_TRUE(all.ok()) << all.status();
  if (all.ok()) {
    for (const StoredEvent& e : *all) {
      dump.log.emplace_back(e.position, e.stream, e.version, e.type, e.data);
    }
  }
  absl::Status scanned =
      store.ScanStreams("", [&](const StoredEventView& e) -> absl::Status {
        dump.streams.emplace_back(std::string(e.stream), e.version, e.position,
                                  std::string(e.type), std::string(e.data));
        return absl::OkStatus();
      });
  EXPECT_TRUE(scanned.ok()) << scanned;
  for (const auto& [stream, version, position, type, data] : dump.streams) {
    if (dump.versions.count(stream) > 0) continue;
    auto v = store.StreamVersion(stream);
    EXPECT_TRUE(v.ok()) << v.status();
    dump.versions[stream] = v.ok() ? *v : 0;
    auto events =
        store.ReadStream(stream, 0, std::numeric_limits<size_t>::max());
    EXPECT_TRUE(events.ok()) << events.status();
    if (events.ok()) {
      EXPECT_EQ(events->size(), dump.versions[stream]) << stream;
    }
  }
  auto index = store.ScanIndex("", "", std::numeric_limits<size_t>::max());
  EXPECT_TRUE(index.ok()) << index.status();
  if (index.ok()) dump.index = *index;
  for (const auto& [key, value] : dump.index) {
    auto got = store.GetIndex(key);
    EXPECT_TRUE(got.ok() && got->has_value() && **got == value) << key;
  }
  return dump;
}

// `commits` commits over a dozen streams (names with shared prefixes and
// binary bytes), from a fixed seed: several streams per batch, the same
// stream twice in a batch, kAnyVersion and exact expected versions, some
// stale (ABORTED, writing nothing), empty events, index puts, overwrites and
// deletes (of present and absent keys), index-only and empty batches.
inline void WriteVariedHistory(EventStore* store, int commits,
                               uint32_t seed = 7) {
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  const std::vector<std::string> streams = {
      "a",        "ab",      "a/b", "r/t/s/1",
      "r/t/s/10", "r/t/s/2", "s",   std::string("bin\x01\xff", 5),
      "zz",       "r/u/x/1", "q",   "a\x01"};
  std::map<std::string, uint64_t> versions;
  for (const std::string& stream : streams) {
    auto version = store->StreamVersion(stream);
    ASSERT_TRUE(version.ok()) << version.status();
    versions[stream] = *version;
  }
  for (int c = 0; c < commits; ++c) {
    CommitBatch batch;
    std::map<std::string, uint64_t> local = versions;
    const int appends = pick(4);
    bool stale = false;
    for (int a = 0; a < appends; ++a) {
      const std::string& stream = streams[pick(streams.size())];
      int64_t expected = kAnyVersion;
      const int mode = pick(10);
      if (mode < 5) expected = static_cast<int64_t>(local[stream]);
      if (mode == 9) {
        expected = static_cast<int64_t>(local[stream]) + 1;
        stale = true;
      }
      StreamAppend append{stream, expected, {}};
      const int events = pick(4);
      for (int e = 0; e < events; ++e) {
        append.events.push_back(
            NewEvent{absl::StrCat("T", pick(5)),
                     std::string(pick(300), static_cast<char>('a' + c % 26)) +
                         std::string(1, '\0') + absl::StrCat(c, "/", e)});
      }
      local[stream] += events;
      batch.appends.push_back(std::move(append));
    }
    const int writes = pick(5);
    for (int w = 0; w < writes; ++w) {
      std::string key = absl::StrCat("k/", pick(3), "/", pick(40));
      if (pick(3) == 0) {
        batch.index_writes.push_back(IndexWrite{std::move(key), std::nullopt});
      } else {
        batch.index_writes.push_back(
            IndexWrite{std::move(key), absl::StrCat("v", c, "-", w)});
      }
    }
    auto result = store->Commit(batch);
    if (stale) {
      EXPECT_TRUE(absl::IsAborted(result.status())) << result.status();
    } else {
      ASSERT_TRUE(result.ok()) << result.status();
      versions = local;
    }
  }
}

}  // namespace sequencer::eventstore

#endif  // SEQUENCER_TESTS_EVENTSTORE_STORE_DUMP_H_
