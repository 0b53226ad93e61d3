#include "eventstore/rocksdb_event_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <unordered_map>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "eventstore/batch_validation.h"
#include "eventstore/commit_log.h"
#include "eventstore/wal_files.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/listener.h"
#include "rocksdb/options.h"
#include "rocksdb/snapshot.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"

namespace sequencer::eventstore {
namespace {

constexpr char kFormatKey[] = "m/format";
constexpr char kFormatVersion[] = "3";
// Format 2 differs only in what it cannot hold (erasures, events with their
// log position); a read-write Open marks it 3.
constexpr char kFormatVersionBeforeErasure[] = "2";
// Format 1 had no commit log (l/); Open migrates it (MigrateToLog).
constexpr char kFormatVersionWithoutLog[] = "1";
constexpr char kLastPositionKey[] = "m/last_position";
constexpr char kAppliedPositionKey[] = "m/applied_position";
// Present (value "external") in a database opened with Options::external_log.
constexpr char kCommitLogKey[] = "m/commit_log";
constexpr char kExternalLog[] = "external";
constexpr char kLogPrefix[] = "l/";
constexpr char kLogEnd[] = "l0";  // '0' follows '/'.
// Upper bound on the bytes of one WriteBatch while rebuilding or migrating.
constexpr size_t kRebuildBatchBytes = 4 << 20;
constexpr char kMemtableMarkerKey[] = "m/memtable_marker";
constexpr char kGlobalPrefix[] = "g/";
constexpr char kGlobalEnd[] = "g0";  // '0' follows '/'.
// Present while erasures may still be in the files (PurgeErased).
constexpr char kPurgePendingKey[] = "m/purge_pending";
// Bit 63 of an s/ value's position: a varint log position follows.
constexpr uint64_t kWithLogPosition = uint64_t{1} << 63;
// More ranges than this, and PurgeErased compacts everything at once.
constexpr size_t kMaxPurgeRanges = 256;

void PutBe64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

uint64_t GetBe64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// Read options of a pass over a whole key range (ScanStreamRange, VisitIndex):
// sequential reads from one snapshot, and nothing the service's working set
// would gain from being evicted for.
rocksdb::ReadOptions WholeRangeScan(rocksdb::ManagedSnapshot& snapshot,
                                    const rocksdb::Slice& upper) {
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot.snapshot();
  read_options.iterate_upper_bound = &upper;
  read_options.fill_cache = false;
  read_options.readahead_size = 2 << 20;
  read_options.adaptive_readahead = true;
  return read_options;
}

std::string Be64(uint64_t v) {
  std::string out;
  PutBe64(&out, v);
  return out;
}

void PutVarint64(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool GetVarint64(absl::string_view* in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift <= 63 && !in->empty(); shift += 7) {
    const uint64_t byte = static_cast<unsigned char>(in->front());
    in->remove_prefix(1);
    *v |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

std::string StreamPrefix(absl::string_view stream) {
  return absl::StrCat("s/", stream, absl::string_view("\0", 1));
}

std::string StreamEventKey(absl::string_view stream, uint64_t version) {
  std::string key = StreamPrefix(stream);
  PutBe64(&key, version);
  return key;
}

std::string StreamEnd(absl::string_view stream) {
  return absl::StrCat("s/", stream, "\x01");
}

std::string GlobalKey(uint64_t position) {
  std::string key = kGlobalPrefix;
  PutBe64(&key, position);
  return key;
}

// e/<be64 position>: an erased global position (derived, for
// VisitErasedPositions).
std::string ErasedKey(uint64_t position) {
  std::string key = "e/";
  PutBe64(&key, position);
  return key;
}

std::string LogKey(uint64_t log_position) {
  std::string key = kLogPrefix;
  PutBe64(&key, log_position);
  return key;
}

std::string VersionKey(absl::string_view stream) {
  return absl::StrCat("v/", stream);
}

std::string IndexKey(absl::string_view key) { return absl::StrCat("i/", key); }

// The smallest string greater than every string that starts with `prefix`;
// `prefix` must contain a byte other than 0xff.
std::string PrefixSuccessor(std::string prefix) {
  while (static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  prefix.back() =
      static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

// The i/ keys of ScanIndex and VisitIndex: [first key after start_after (or
// of the prefix), end of the prefix).
std::pair<std::string, std::string> IndexRange(absl::string_view prefix,
                                               absl::string_view start_after) {
  std::string lower = IndexKey(prefix);
  std::string end = PrefixSuccessor(lower);
  if (!start_after.empty()) {
    std::string after = IndexKey(start_after);
    after.push_back('\0');
    lower = std::max(lower, after);
  }
  return {std::move(lower), std::move(end)};
}

// s/ value: be64 position (bit 63 set: a varint64 log position follows),
// varint64 type length, type, data.
std::string EncodeRecord(uint64_t position, uint64_t log_position,
                         const NewEvent& event) {
  std::string out;
  out.reserve(8 + 4 + 2 + event.type.size() + event.data.size());
  PutBe64(&out, position | kWithLogPosition);
  PutVarint64(&out, log_position);
  PutVarint64(&out, event.type.size());
  out.append(event.type);
  out.append(event.data);
  return out;
}

// `log_position` (if not null) gets the position of the commit record that
// wrote the event, 0 when the value does not say (written by format 2).
bool DecodeRecord(absl::string_view in, StoredEvent* event,
                  uint64_t* log_position = nullptr) {
  if (in.size() < 8) return false;
  const uint64_t position = GetBe64(in.data());
  in.remove_prefix(8);
  event->position = position & ~kWithLogPosition;
  uint64_t logged = 0;
  if ((position & kWithLogPosition) != 0 && !GetVarint64(&in, &logged)) {
    return false;
  }
  if (log_position != nullptr) *log_position = logged;
  uint64_t type_size;
  if (!GetVarint64(&in, &type_size) || type_size > in.size()) return false;
  event->type = std::string(in.substr(0, type_size));
  event->data = std::string(in.substr(type_size));
  return true;
}

// g/ value: be64 version, stream name.
std::string EncodePointer(uint64_t version, absl::string_view stream) {
  std::string out = Be64(version);
  out.append(stream.data(), stream.size());
  return out;
}

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  const std::string message = absl::StrCat(what, ": ", s.ToString());
  if (s.IsInvalidArgument() || s.IsNotSupported()) {
    return absl::InvalidArgumentError(message);
  }
  if (s.IsIOError() || s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

absl::Status Corruption(absl::string_view what) {
  return absl::InternalError(absl::StrCat("event store corruption: ", what));
}

// The log position of the last l/ key; 0 when there is none.
absl::StatusOr<uint64_t> LastLogKey(rocksdb::DB* db) {
  const rocksdb::Slice lower(kLogPrefix);
  const rocksdb::Slice upper(kLogEnd);
  rocksdb::ReadOptions read_options;
  read_options.iterate_lower_bound = &lower;
  read_options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read_options));
  it->SeekToLast();
  if (!it->Valid()) {
    absl::Status status = FromRocks(it->status(), "reading the commit log");
    if (!status.ok()) return status;
    return 0;
  }
  if (it->key().size() != 10) return Corruption("malformed l/ key");
  return GetBe64(it->key().data() + 2);
}

// A be64 value under `key`, 0 when absent.
absl::StatusOr<uint64_t> GetBe64Key(rocksdb::DB* db, absl::string_view key) {
  std::string value;
  const rocksdb::Status s = db->Get(
      rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return 0;
  if (!s.ok()) return FromRocks(s, absl::StrCat("reading ", key));
  if (value.size() != 8) return Corruption(absl::StrCat("malformed ", key));
  return GetBe64(value.data());
}

// Applies the l/ records after `applied` up to `log_last` to the derived keys
// (g/, v/, i/, m/last_position, m/applied_position), which must reflect
// exactly the records up to `applied`. Each record's events are its s/ keys;
// their versions and positions must be the ones the record implies. Writes
// in fsync'd batches of about kRebuildBatchBytes, each advancing
// m/applied_position, so an interrupted catch-up resumes where it stopped.
absl::Status ApplyLogRecords(rocksdb::DB* db, uint64_t applied,
                             uint64_t log_last) {
  absl::StatusOr<uint64_t> last_position = GetBe64Key(db, kLastPositionKey);
  if (!last_position.ok()) return last_position.status();
  uint64_t position = *last_position;

  rocksdb::WriteBatch batch;
  // Stream versions written to `batch` and not yet to the database.
  std::unordered_map<std::string, uint64_t> versions;
  auto write = [&](uint64_t applied_now) -> absl::Status {
    batch.Put(kAppliedPositionKey, Be64(applied_now));
    batch.Put(kLastPositionKey, Be64(position));
    rocksdb::WriteOptions write_options;
    write_options.sync = true;
    absl::Status status = FromRocks(db->Write(write_options, &batch),
                                    "writing the derived state");
    batch.Clear();
    versions.clear();
    return status;
  };

  const rocksdb::Slice upper(kLogEnd);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read_options));
  uint64_t expected = applied + 1;
  std::string value;
  for (it->Seek(LogKey(expected)); it->Valid() && expected <= log_last;
       it->Next(), ++expected) {
    if (it->key().size() != 10 || GetBe64(it->key().data() + 2) != expected) {
      return Corruption(
          absl::StrCat("commit log position ", expected, " is missing"));
    }
    bool without_events = false;
    absl::StatusOr<CommitRecord> record = DecodeCommitRecord(
        absl::string_view(it->value().data(), it->value().size()),
        &without_events);
    if (!record.ok() || !without_events) {
      return Corruption(
          absl::StrCat("malformed l/ record at log position ", expected));
    }
    auto version_of =
        [&](const std::string& stream) -> absl::StatusOr<uint64_t> {
      if (auto found = versions.find(stream); found != versions.end()) {
        return found->second;
      }
      return GetBe64Key(db, VersionKey(stream));
    };
    for (const StreamErasure& erasure : record->erasures) {
      absl::StatusOr<uint64_t> current = version_of(erasure.stream);
      if (!current.ok()) return current.status();
      if (static_cast<int64_t>(*current) != erasure.expected_version) {
        return Corruption(absl::StrFormat(
            "commit record %d erases stream \"%s\" at version %d, but the "
            "stream is at version %d",
            expected, absl::CHexEscape(erasure.stream),
            erasure.expected_version, *current));
      }
      batch.Delete(VersionKey(erasure.stream));
      versions[erasure.stream] = 0;
    }
    for (size_t a = 0; a < record->appends.size(); ++a) {
      const StreamAppend& append = record->appends[a];
      absl::StatusOr<uint64_t> stored = version_of(append.stream);
      if (!stored.ok()) return stored.status();
      uint64_t current = *stored;
      if (static_cast<int64_t>(current) != append.expected_version) {
        return Corruption(absl::StrFormat(
            "commit record %d appends to stream \"%s\" at version %d, but "
            "the stream is at version %d",
            expected, absl::CHexEscape(append.stream), append.expected_version,
            current));
      }
      if (record->IsErased(a)) {
        // The events are gone; their positions stay used, and the stream's
        // version counts them until the record that erased it.
        for (size_t e = 0; e < append.events.size(); ++e) {
          ++current;
          ++position;
          batch.Put(GlobalKey(position), std::string());
          batch.Put(ErasedKey(position), std::string());
        }
        if (!append.events.empty()) {
          batch.Put(VersionKey(append.stream), Be64(current));
          versions[append.stream] = current;
        }
        continue;
      }
      for (size_t e = 0; e < append.events.size(); ++e) {
        ++current;
        ++position;
        const rocksdb::Status s =
            db->Get(rocksdb::ReadOptions(),
                    StreamEventKey(append.stream, current), &value);
        StoredEvent event;
        if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "reading an event");
        if (s.IsNotFound() || !DecodeRecord(value, &event) ||
            event.position != position) {
          return Corruption(absl::StrFormat(
              "commit record %d: event %s/%d is missing or not at global "
              "position %d",
              expected, absl::CHexEscape(append.stream), current, position));
        }
        batch.Put(GlobalKey(position), EncodePointer(current, append.stream));
      }
      if (!append.events.empty()) {
        batch.Put(VersionKey(append.stream), Be64(current));
        versions[append.stream] = current;
      }
    }
    for (const IndexWrite& write : record->index_writes) {
      if (write.value.has_value()) {
        batch.Put(IndexKey(write.key), *write.value);
      } else {
        batch.Delete(IndexKey(write.key));
      }
    }
    if (batch.GetDataSize() > kRebuildBatchBytes) {
      absl::Status status = write(expected);
      if (!status.ok()) return status;
    }
  }
  absl::Status status = FromRocks(it->status(), "reading the commit log");
  if (!status.ok()) return status;
  if (expected != log_last + 1) {
    return Corruption(
        absl::StrCat("commit log position ", expected, " is missing"));
  }
  return write(log_last);
}

// Deletes every derived key (what ApplyLogRecords writes; with an external
// log, the s/ events too), in one write.
absl::Status DropDerivedState(rocksdb::DB* db, bool external_log) {
  rocksdb::WriteBatch batch;
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  if (external_log) batch.DeleteRange("s/", "s0");
  for (const char* tag : {"g", "v", "i", "e"}) {
    batch.DeleteRange(absl::StrCat(tag, "/"), absl::StrCat(tag, "0"));
  }
  batch.Delete(kLastPositionKey);
  batch.Delete(kAppliedPositionKey);
  return FromRocks(db->Write(write_options, &batch),
                   "dropping the derived state");
}

// Format 1 -> 2: writes the l/ records that rebuild the database's derived
// state as it is: its events in global position order (runs of one stream's
// events as one append), up to 1024 events per record, then its index
// entries as puts, up to 1024 or 1 MiB per record. Then m/applied_position
// and m/format, in the last write; an interrupted migration starts again
// (format 1 still), deleting what it had written.
absl::Status MigrateToLog(rocksdb::DB* db) {
  rocksdb::WriteBatch batch;
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  batch.DeleteRange(kLogPrefix, kLogEnd);
  uint64_t log_position = 0;
  std::vector<StreamAppend> appends;
  std::vector<uint64_t> versions_before;
  std::vector<IndexWrite> index_writes;
  size_t record_items = 0;
  size_t record_bytes = 0;
  auto end_record = [&]() -> absl::Status {
    if (record_items == 0) return absl::OkStatus();
    ++log_position;
    batch.Put(LogKey(log_position),
              EncodeCommitRecordWithoutEvents(appends, versions_before,
                                              index_writes));
    appends.clear();
    versions_before.clear();
    index_writes.clear();
    record_items = 0;
    record_bytes = 0;
    if (batch.GetDataSize() < kRebuildBatchBytes) return absl::OkStatus();
    absl::Status status =
        FromRocks(db->Write(write_options, &batch), "migrating to format 2");
    batch.Clear();
    return status;
  };

  {
    const rocksdb::Slice upper(kGlobalEnd);
    rocksdb::ReadOptions read_options;
    read_options.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read_options));
    for (it->Seek(kGlobalPrefix); it->Valid(); it->Next()) {
      const rocksdb::Slice pointer = it->value();
      if (it->key().size() != 10 || pointer.size() < 9) {
        return Corruption("malformed g/ entry");
      }
      const uint64_t version = GetBe64(pointer.data());
      const absl::string_view stream(pointer.data() + 8, pointer.size() - 8);
      if (!appends.empty() && appends.back().stream == stream) {
        appends.back().events.emplace_back();
      } else {
        appends.push_back(StreamAppend{std::string(stream), 0, {NewEvent()}});
        versions_before.push_back(version - 1);
      }
      if (++record_items >= 1024) {
        absl::Status status = end_record();
        if (!status.ok()) return status;
      }
    }
    absl::Status status = FromRocks(it->status(), "migrating to format 2");
    if (status.ok()) status = end_record();
    if (!status.ok()) return status;
  }
  {
    const rocksdb::Slice upper("i0");
    rocksdb::ReadOptions read_options;
    read_options.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read_options));
    for (it->Seek("i/"); it->Valid(); it->Next()) {
      index_writes.push_back(
          IndexWrite{std::string(it->key().data() + 2, it->key().size() - 2),
                     it->value().ToString()});
      record_bytes += it->key().size() + it->value().size();
      if (++record_items >= 1024 || record_bytes >= (1 << 20)) {
        absl::Status status = end_record();
        if (!status.ok()) return status;
      }
    }
    absl::Status status = FromRocks(it->status(), "migrating to format 2");
    if (status.ok()) status = end_record();
    if (!status.ok()) return status;
  }
  batch.Put(kAppliedPositionKey, Be64(log_position));
  batch.Put(kFormatKey, kFormatVersion);
  return FromRocks(db->Write(write_options, &batch), "migrating to format 2");
}

size_t PayloadBytes(const CommitBatch& batch) {
  size_t bytes = 0;
  for (const StreamAppend& append : batch.appends) {
    bytes += append.stream.size() + 16;
    for (const NewEvent& event : append.events) {
      bytes +=
          2 * append.stream.size() + event.type.size() + event.data.size() + 48;
    }
  }
  for (const IndexWrite& write : batch.index_writes) {
    bytes += write.key.size() + (write.value ? write.value->size() : 0) + 8;
  }
  return bytes;
}

// RocksDB's info log, written with plain write(2) whose errors are ignored
// (RocksDB's own logger asserts on a second failed append: a full disk would
// abort the process). Also remembers the last "dropping N bytes" line of WAL
// recovery. An empty path logs nowhere (read-only stores write nothing).
class StoreLogger final : public rocksdb::Logger {
 public:
  explicit StoreLogger(const std::string& path) {
    if (path.empty()) return;
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && st.st_size > (64 << 20)) {
      std::rename(path.c_str(), (path + ".old").c_str());
    }
    fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }
  ~StoreLogger() override {
    if (fd_ >= 0) close(fd_);
  }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format,
            va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char message[4096];
    std::vsnprintf(message, sizeof(message), format, ap);
    if (std::strstr(message, ": dropping ") != nullptr) {
      absl::MutexLock lock(&mu_);
      last_drop_ = message;
    }
    if (fd_ < 0) return;
    static constexpr const char* kLevels[] = {
        "", "", "[WARN] ", "[ERROR] ", "[FATAL] ", "[HEADER] "};
    const std::string line = absl::StrCat(
        absl::FormatTime("%Y/%m/%d-%H:%M:%E6S ", absl::Now(),
                         absl::UTCTimeZone()),
        level < rocksdb::InfoLogLevel::NUM_INFO_LOG_LEVELS ? kLevels[level]
                                                           : "",
        message, "\n");
    const ssize_t ignored = write(fd_, line.data(), line.size());
    (void)ignored;
  }

  std::string last_drop() const {
    absl::MutexLock lock(&mu_);
    return last_drop_;
  }

 private:
  int fd_ = -1;
  mutable absl::Mutex mu_;
  std::string last_drop_ ABSL_GUARDED_BY(mu_);
};

// Keeps RocksDB from starting its own recovery after a background error: the
// SstFileManager's waits for free space of several write buffers (64 MiB by
// default), which a small disk never has, and blocks DB::Resume() meanwhile.
// The store retries Resume() itself.
class NoAutoRecovery final : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason reason,
                            rocksdb::Status bg_error,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }
};

}  // namespace

// The writes of one group commit, handed to RocksDB in key order. A memtable
// insert searches the skip list from where the previous insert ended (its
// sequential splice), so a batch in key order costs far less than the same
// batch in the order commits produce it (a recipient's event, version, global
// pointer and index keys, then the next recipient's). Writes to one key keep
// their order (a stable sort), and a WriteBatch is applied atomically, so what
// readers see is unchanged.
class KeyOrderedBatch {
 public:
  void Put(std::string key, std::string value) {
    bytes_ += key.size() + value.size() + 16;
    ops_.push_back({std::move(key), std::move(value), false});
  }
  void Delete(std::string key) {
    bytes_ += key.size() + 16;
    ops_.push_back({std::move(key), std::string(), true});
  }
  bool empty() const { return ops_.empty(); }

  rocksdb::WriteBatch Build() const {
    std::vector<uint32_t> order(ops_.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(
        order.begin(), order.end(),
        [this](uint32_t a, uint32_t b) { return ops_[a].key < ops_[b].key; });
    rocksdb::WriteBatch batch(bytes_);
    for (uint32_t i : order) {
      const Op& op = ops_[i];
      if (op.erase) {
        batch.Delete(op.key);
      } else {
        batch.Put(op.key, op.value);
      }
    }
    return batch;
  }

 private:
  struct Op {
    std::string key;
    std::string value;
    bool erase;
  };
  std::vector<Op> ops_;
  size_t bytes_ = 32;
};

struct RocksDbEventStore::Writer {
  explicit Writer(const CommitBatch* b) : batch(b), bytes(PayloadBytes(*b)) {}

  const CommitBatch* const batch;
  const size_t bytes;
  bool done = false;
  absl::StatusOr<CommitResult> result;
  absl::CondVar cv;
};

struct RocksDbEventStore::Opened {
  std::shared_ptr<StoreLogger> logger;
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::FileLock* lock = nullptr;
  std::string note;
};

absl::StatusOr<std::unique_ptr<RocksDbEventStore>> RocksDbEventStore::Open(
    const std::string& dir, Options options) {
  rocksdb::Options db_options;
  db_options.create_if_missing =
      options.create_if_missing && !options.read_only;
  db_options.write_buffer_size = options.write_buffer_bytes;
  db_options.max_background_jobs = options.max_background_jobs;
  if (options.env != nullptr) db_options.env = options.env;
  db_options.listeners.push_back(std::make_shared<NoAutoRecovery>());
  // Table options: the reasons for each are in eventstore/FORMAT.md
  // ("RocksDB options").
  rocksdb::LRUCacheOptions cache_options;
  cache_options.capacity = options.block_cache_bytes;
  cache_options.num_shard_bits = options.block_cache_shard_bits;
  cache_options.high_pri_pool_ratio = 0.5;
  rocksdb::BlockBasedTableOptions table_options;
  table_options.block_cache = rocksdb::NewLRUCache(cache_options);
  table_options.cache_index_and_filter_blocks = true;
  table_options.cache_index_and_filter_blocks_with_high_priority = true;
  table_options.pin_l0_filter_and_index_blocks_in_cache = true;
  table_options.index_type =
      rocksdb::BlockBasedTableOptions::IndexType::kTwoLevelIndexSearch;
  table_options.partition_filters = options.bloom_bits_per_key > 0;
  table_options.metadata_block_size = 4096;
  table_options.pin_top_level_index_and_filter = true;
  if (options.bloom_bits_per_key > 0) {
    table_options.filter_policy.reset(rocksdb::NewBloomFilterPolicy(
        options.bloom_bits_per_key, /*use_block_based_builder=*/false));
  }
  db_options.table_factory.reset(
      rocksdb::NewBlockBasedTableFactory(table_options));

  Opened opened;
  rocksdb::Env* env = db_options.env;
  if (options.read_only) {
    if (!env->FileExists(dir + "/CURRENT").ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(dir, " holds no event store database"));
    }
    rocksdb::Status locked = env->LockFile(dir + "/LOCK", &opened.lock);
    if (!locked.ok()) {
      return absl::UnavailableError(absl::StrCat(
          dir, " is in use (stop the sequencerd that holds it first): ",
          locked.ToString()));
    }
  } else if (options.create_if_missing) {
    env->CreateDirIfMissing(dir).PermitUncheckedError();
  }
  struct Unlock {
    rocksdb::Env* env;
    rocksdb::FileLock** lock;
    ~Unlock() {
      if (*lock != nullptr) env->UnlockFile(*lock).PermitUncheckedError();
    }
  } unlock_on_error{env, &opened.lock};

  opened.logger =
      std::make_shared<StoreLogger>(options.read_only ? "" : dir + "/LOG");
  db_options.info_log = opened.logger;
  auto open_db = [&](rocksdb::WALRecoveryMode mode, bool read_only) {
    rocksdb::Options attempt = db_options;
    attempt.wal_recovery_mode = mode;
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = read_only
                            ? rocksdb::DB::OpenForReadOnly(attempt, dir, &raw)
                            : rocksdb::DB::Open(attempt, dir, &raw);
    opened.db.reset(raw);
    return s;
  };

  rocksdb::Status s = open_db(rocksdb::WALRecoveryMode::kAbsoluteConsistency,
                              options.read_only);
  if (s.IsCorruption()) {
    const rocksdb::Status strict = s;
    rocksdb::Status tail =
        open_db(rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords, true);
    if (tail.ok()) {
      // RocksDB accepts a record cut by the end of any WAL file; only the last
      // one can be torn by a crash (older ones were complete and fsync'd).
      const std::vector<std::string> wals = WalFiles(dir);
      for (size_t i = 0; i < wals.size() && tail.ok(); ++i) {
        std::optional<WalDamage> damage = FindWalDamage(dir + "/" + wals[i]);
        if (damage && (i + 1 < wals.size() || !damage->at_end)) {
          tail = rocksdb::Status::Corruption("not a torn tail", damage->what);
        }
      }
    }
    if (!tail.ok()) {
      opened.db.reset();
      return absl::DataLossError(absl::StrCat(
          DescribeWalDamage(dir, strict.ToString(), opened.logger->last_drop()),
          ". Opening would silently drop the acknowledged writes after that "
          "point, so the event store refuses to open and has changed nothing. "
          "Keep ",
          dir,
          " as it is (copy it away for analysis) and restore the data "
          "directory from a backup."));
    }
    const std::string torn = DescribeWalDamage(dir, strict.ToString(), "");
    if (options.read_only) {
      s = tail;
      opened.note = absl::StrCat(
          torn,
          ": an incomplete last record (a write cut by a crash, never "
          "acknowledged); read past in memory, nothing changed on disk");
    } else {
      opened.db.reset();
      absl::StatusOr<std::string> kept = KeepWalEvidence(dir);
      if (!kept.ok()) {
        return absl::UnavailableError(absl::StrCat(
            torn,
            ": an incomplete last record, which recovery would drop, but no "
            "copy of the log could be kept, so the event store refuses to "
            "open: ",
            kept.status().message()));
      }
      s = open_db(rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords,
                  false);
      opened.note = absl::StrCat(
          torn,
          ": an incomplete last record (a write cut by a crash, never "
          "acknowledged) was dropped; the log as found is kept in ",
          *kept);
    }
  }
  if (!s.ok()) {
    opened.db.reset();
    const std::string message =
        absl::StrCat("opening ", dir, ": ", s.ToString());
    if (s.IsNoSpace()) {
      return absl::ResourceExhaustedError(absl::StrCat(
          message, " (the disk is full: free space there, then start again)"));
    }
    if (s.IsCorruption()) return absl::DataLossError(message);
    return FromRocks(s, absl::StrCat("opening ", dir));
  }
  rocksdb::DB* db = opened.db.get();

  std::string value;
  s = db->Get(rocksdb::ReadOptions(), kFormatKey, &value);
  if (s.IsNotFound()) {
    std::unique_ptr<rocksdb::Iterator> it(
        db->NewIterator(rocksdb::ReadOptions()));
    it->SeekToFirst();
    if (it->Valid() || options.read_only) {
      return absl::InvalidArgumentError(
          absl::StrCat(dir, " holds a database that is not an event store"));
    }
    rocksdb::WriteOptions write_options;
    write_options.sync = true;
    rocksdb::WriteBatch created;
    created.Put(kFormatKey, kFormatVersion);
    if (options.external_log) created.Put(kCommitLogKey, kExternalLog);
    absl::Status status = FromRocks(db->Write(write_options, &created),
                                    "writing the format version");
    if (!status.ok()) return status;
  } else if (!s.ok()) {
    return FromRocks(s, "reading the format version");
  } else if (value == kFormatVersionWithoutLog && options.external_log) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir,
        " holds event store format 1, which keeps no commit log; it cannot be "
        "opened as the derived state of an external one"));
  } else if (value == kFormatVersionWithoutLog && !options.read_only) {
    absl::Status migrated = MigrateToLog(db);
    if (!migrated.ok()) return migrated;
    opened.note = absl::StrCat(opened.note, opened.note.empty() ? "" : "; ",
                               "migrated from event store format 1 to 2 (the "
                               "commit log, l/ keys, written from the events "
                               "and index entries)");
  } else if (value == kFormatVersionWithoutLog) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s holds event store format 1, which a read-only open cannot migrate "
        "to format %s: open it read-write once (start sequencerd on it), "
        "then try again",
        dir, kFormatVersion));
  } else if (value == kFormatVersionBeforeErasure) {
    if (!options.read_only) {
      rocksdb::WriteOptions write_options;
      write_options.sync = true;
      absl::Status status =
          FromRocks(db->Put(write_options, kFormatKey, kFormatVersion),
                    "writing the format version");
      if (!status.ok()) return status;
    }
  } else if (value != kFormatVersion) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s holds event store format %s, expected %s", dir,
                        absl::CHexEscape(value), kFormatVersion));
  }

  // The commit log and the derived state it reflects.
  s = db->Get(rocksdb::ReadOptions(), kCommitLogKey, &value);
  if (!s.ok() && !s.IsNotFound()) {
    return FromRocks(s, "reading where the commit log is");
  }
  if (s.ok() != options.external_log) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir, s.ok() ? " holds the derived state of a commit log kept elsewhere "
                      "(it was opened with external_log)"
                    : " keeps its own commit log (it cannot be opened with "
                      "external_log)"));
  }
  if (options.rebuild_derived_state) {
    if (options.read_only) {
      return absl::InvalidArgumentError(
          "rebuild_derived_state needs a read-write open");
    }
    absl::Status dropped = DropDerivedState(db, options.external_log);
    if (!dropped.ok()) return dropped;
  }
  absl::StatusOr<uint64_t> applied = GetBe64Key(db, kAppliedPositionKey);
  if (!applied.ok()) return applied.status();
  // With an external log, the log's records past `applied` are applied by
  // its LogBackedEventStore (DerivedState::Apply).
  absl::StatusOr<uint64_t> last_log_position =
      options.external_log ? *applied : LastLogKey(db);
  if (!last_log_position.ok()) return last_log_position.status();
  if (*applied > *last_log_position) {
    return Corruption(absl::StrCat("derived state at log position ", *applied,
                                   " is past the log's last record ",
                                   *last_log_position));
  }
  if (*applied < *last_log_position) {
    if (options.read_only) {
      return absl::FailedPreconditionError(absl::StrCat(
          dir, ": the derived state reflects the commit log up to ", *applied,
          " of ", *last_log_position,
          " (a rebuild was interrupted); a read-write open finishes it"));
    }
    absl::Status caught_up = ApplyLogRecords(db, *applied, *last_log_position);
    if (!caught_up.ok()) return caught_up;
  }

  uint64_t last_position = 0;
  s = db->Get(rocksdb::ReadOptions(), kLastPositionKey, &value);
  if (s.ok()) {
    if (value.size() != 8) return Corruption("malformed m/last_position");
    last_position = GetBe64(value.data());
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading the last position");
  }
  if (last_position > 0) {
    s = db->Get(rocksdb::ReadOptions(), GlobalKey(last_position), &value);
    if (!s.ok()) {
      return s.IsNotFound()
                 ? Corruption(absl::StrCat("last position ", last_position,
                                           " has no g/ entry"))
                 : FromRocks(s, "checking the last position");
    }
  }
  s = db->Get(rocksdb::ReadOptions(), GlobalKey(last_position + 1), &value);
  if (!s.IsNotFound()) {
    return s.ok() ? Corruption(absl::StrCat("g/ entry beyond last position ",
                                            last_position))
                  : FromRocks(s, "checking the last position");
  }

  s = db->Get(rocksdb::ReadOptions(), kPurgePendingKey, &value);
  if (!s.ok() && !s.IsNotFound()) {
    return FromRocks(s, "reading whether erasures are purged");
  }
  const bool purge_pending = s.ok();

  rocksdb::FileLock* lock = opened.lock;
  opened.lock = nullptr;  // Now owned by the store.
  auto store = std::unique_ptr<RocksDbEventStore>(new RocksDbEventStore(
      std::move(opened), options, last_position, *last_log_position));
  store->read_only_lock_ = lock;
  if (purge_pending) {
    // Which ranges were not kept: the next PurgeErased compacts everything.
    absl::MutexLock purge_lock(&store->purge_mu_);
    store->purge_everything_ = true;
    ++store->erasures_written_;
  }
  return store;
}

RocksDbEventStore::RocksDbEventStore(Opened opened, Options options,
                                     uint64_t last_position,
                                     uint64_t last_log_position)
    : logger_(std::move(opened.logger)),
      db_(std::move(opened.db)),
      options_(options),
      recovery_note_(std::move(opened.note)),
      last_position_(last_position),
      last_log_position_(last_log_position) {
  if (!options_.read_only) {
    WriteMemtableMarker();
    recovery_thread_ = std::thread([this] { RecoveryLoop(); });
  }
}

void RocksDbEventStore::WriteMemtableMarker() {
  rocksdb::WriteOptions no_wal;
  no_wal.disableWAL = true;
  db_->Put(no_wal, kMemtableMarkerKey, "").PermitUncheckedError();
}

RocksDbEventStore::~RocksDbEventStore() {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    recovery_cv_.SignalAll();
  }
  if (recovery_thread_.joinable()) recovery_thread_.join();
  // A clean close leaves nothing in the write-ahead log to replay at the next
  // open (best effort: a crash is recovered from the log as usual).
  if (!options_.read_only) {
    db_->Flush(rocksdb::FlushOptions()).PermitUncheckedError();
  }
  db_->Close().PermitUncheckedError();
  db_.reset();
  if (read_only_lock_ != nullptr) {
    (options_.env != nullptr ? options_.env : rocksdb::Env::Default())
        ->UnlockFile(read_only_lock_)
        .PermitUncheckedError();
  }
}

void RocksDbEventStore::RecoveryLoop() {
  absl::MutexLock lock(&mu_);
  while (!closing_) {
    if (failed_.ok()) {
      recovery_cv_.Wait(&mu_);
      continue;
    }
    recovery_cv_.WaitWithTimeout(&mu_, options_.recovery_interval);
    if (closing_ || failed_.ok()) continue;
    mu_.Unlock();
    const rocksdb::Status resumed = db_->Resume();
    mu_.Lock();
    if (resumed.ok() && !failed_.ok()) {
      WriteMemtableMarker();
      failed_ = absl::OkStatus();
      mu_.Unlock();
      NotifyWriteState();
      mu_.Lock();
    }
  }
}

absl::Status RocksDbEventStore::Checkpoint(const std::string& directory) {
  if (directory.empty()) {
    return absl::InvalidArgumentError("directory: must not be empty");
  }
  if (directory.front() != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "directory: must be an absolute path, got \"", directory, "\""));
  }
  std::string path = directory;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  struct stat info;
  if (lstat(path.c_str(), &info) == 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("directory: ", path, " already exists"));
  }
  const std::string parent =
      path.rfind('/') == 0 ? "/" : path.substr(0, path.rfind('/'));
  if (stat(parent.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("directory: its parent ", parent, " is not a directory"));
  }
  if (options_.read_only) {
    return absl::FailedPreconditionError(
        "a store opened read-only cannot make a checkpoint");
  }
  if (PurgePending()) {
    absl::Status purged = PurgeErased();
    if (!purged.ok()) return purged;
  }
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db_.get(), &raw);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush 0: always flush first, so the copy needs no WAL.
  if (s.ok()) s = checkpoint->CreateCheckpoint(path, /*log_size_for_flush=*/0);
  if (s.ok()) return absl::OkStatus();
  const std::string message =
      absl::StrCat("checkpoint into ", path, ": ", s.ToString());
  if (s.IsNoSpace()) return absl::ResourceExhaustedError(message);
  if (s.IsIOError()) return absl::UnavailableError(message);
  return absl::InternalError(message);
}

absl::Status RocksDbEventStore::WriteState() const {
  if (options_.read_only) {
    return absl::FailedPreconditionError("the event store is open read-only");
  }
  absl::MutexLock lock(&mu_);
  if (failed_.ok()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(
      "the event store refuses writes until it recovers from a failed write "
      "(it retries by itself; reads still work): ",
      failed_.message()));
}

void RocksDbEventStore::SetWriteStateObserver(
    std::function<void(const absl::Status&)> observer) {
  absl::MutexLock lock(&observer_mu_);
  observer_ = std::move(observer);
}

void RocksDbEventStore::NotifyWriteState() {
  absl::MutexLock lock(&observer_mu_);
  if (observer_) observer_(WriteState());
}

absl::StatusOr<CommitResult> RocksDbEventStore::Commit(
    const CommitBatch& batch) {
  absl::Status valid = ValidateCommitBatch(batch);
  if (!valid.ok()) return valid;
  if (options_.read_only) return WriteState();
  if (options_.external_log) {
    return absl::FailedPreconditionError(
        "the event store was opened with external_log: commits go through "
        "the commit log (LogBackedEventStore), which applies them here");
  }

  Writer w(&batch);
  mu_.Lock();
  writers_.push_back(&w);
  while (!w.done && writers_.front() != &w) w.cv.Wait(&mu_);
  if (w.done) {
    mu_.Unlock();
    return std::move(w.result);
  }

  // This writer leads a group.
  std::vector<Writer*> group;
  bool newly_failed = false;
  if (!failed_.ok()) {
    group.assign(writers_.begin(), writers_.end());
    const absl::Status refusal = absl::UnavailableError(absl::StrCat(
        "the event store refuses writes until it recovers from a failed write "
        "(it retries by itself; reads still work): ",
        failed_.message()));
    for (Writer* x : group) x->result = refusal;
    refused_commits_.fetch_add(group.size(), std::memory_order_relaxed);
  } else {
    size_t bytes = 0;
    for (Writer* x : writers_) {
      if (!group.empty() && bytes + x->bytes > options_.max_group_bytes) break;
      // A batch that erases reads the log as the groups before it left it,
      // and is always alone in its group.
      const bool erasing = !x->batch->erasures.empty();
      if (!group.empty() && erasing) break;
      group.push_back(x);
      bytes += x->bytes;
      if (erasing) break;
    }
    mu_.Unlock();
    absl::StatusOr<Positions> last = WriteGroup(
        group, Positions{last_position_.load(std::memory_order_relaxed),
                         last_log_position_.load(std::memory_order_relaxed)});
    mu_.Lock();
    if (last.ok()) {
      last_position_.store(last->events, std::memory_order_release);
      last_log_position_.store(last->log, std::memory_order_release);
    } else {
      failed_ = last.status();
      newly_failed = true;
      recovery_cv_.SignalAll();
    }
  }
  if (newly_failed) {
    // Before anyone of the group is answered: a caller that sees the refusal
    // and then asks (e.g. health) sees the failed state.
    mu_.Unlock();
    NotifyWriteState();
    mu_.Lock();
  }
  for (Writer* x : group) {
    writers_.pop_front();
    x->done = true;
    if (x != &w) x->cv.Signal();
  }
  if (!writers_.empty()) writers_.front()->cv.Signal();
  mu_.Unlock();
  return std::move(w.result);
}

absl::StatusOr<RocksDbEventStore::Positions> RocksDbEventStore::WriteGroup(
    const std::vector<Writer*>& group, Positions last) {
  const uint64_t last_position = last.events;
  uint64_t log_position = last.log;
  KeyOrderedBatch writes;
  // Stream versions as read from the database or left by earlier batches of the
  // group.
  std::unordered_map<std::string, uint64_t> versions;
  std::vector<Writer*> written;
  uint64_t position = last_position;

  for (Writer* w : group) {
    const CommitBatch& batch = *w->batch;
    // Versions as left by the earlier appends of this batch.
    std::unordered_map<std::string, uint64_t> local;
    std::vector<uint64_t> before(batch.appends.size());
    absl::Status check;
    auto version_of = [&](const std::string& stream) -> uint64_t {
      if (auto it = local.find(stream); it != local.end()) return it->second;
      if (auto it = versions.find(stream); it != versions.end()) {
        return it->second;
      }
      if (auto cached = version_cache_.find(stream);
          cached != version_cache_.end()) {
        return versions[stream] = cached->second;
      }
      absl::StatusOr<uint64_t> stored = StreamVersion(stream);
      if (!stored.ok()) {
        check = stored.status();
        return 0;
      }
      return versions[stream] = *stored;
    };
    // Erasures apply first (a batch that erases commits alone: see Commit).
    std::vector<StreamErasure> erased(batch.erasures.size());
    for (size_t i = 0; i < batch.erasures.size() && check.ok(); ++i) {
      const StreamErasure& erasure = batch.erasures[i];
      const uint64_t actual = version_of(erasure.stream);
      if (!check.ok()) break;
      if (erasure.expected_version != kAnyVersion &&
          static_cast<uint64_t>(erasure.expected_version) != actual) {
        check = absl::AbortedError(absl::StrFormat(
            "stream \"%s\": expected version %d, actual version %d",
            absl::CHexEscape(erasure.stream), erasure.expected_version,
            actual));
        break;
      }
      erased[i].stream = erasure.stream;
      erased[i].expected_version = static_cast<int64_t>(actual);
      local[erasure.stream] = 0;
    }
    for (size_t i = 0; i < batch.appends.size() && check.ok(); ++i) {
      const StreamAppend& append = batch.appends[i];
      const uint64_t actual = version_of(append.stream);
      if (!check.ok()) break;
      if (append.expected_version != kAnyVersion &&
          static_cast<uint64_t>(append.expected_version) != actual) {
        check = absl::AbortedError(absl::StrFormat(
            "stream \"%s\": expected version %d, actual version %d",
            absl::CHexEscape(append.stream), append.expected_version, actual));
        break;
      }
      before[i] = actual;
      local[append.stream] = actual + append.events.size();
    }
    if (!check.ok()) {
      w->result = check;
      continue;
    }

    // The log position of the batch's record, if it writes one.
    const uint64_t record_position = log_position + 1;
    std::vector<IndexWrite> forgotten;
    if (!batch.erasures.empty()) {
      absl::Status erasing = WriteErasures(batch.erasures, &writes, &forgotten);
      if (!erasing.ok()) {
        w->result = erasing;
        continue;
      }
    }
    CommitResult result;
    for (size_t i = 0; i < batch.appends.size(); ++i) {
      const StreamAppend& append = batch.appends[i];
      uint64_t version = before[i];
      for (const NewEvent& event : append.events) {
        ++position;
        ++version;
        writes.Put(StreamEventKey(append.stream, version),
                   EncodeRecord(position, record_position, event));
        writes.Put(GlobalKey(position), EncodePointer(version, append.stream));
        if (result.first_position == 0) result.first_position = position;
        result.last_position = position;
      }
      if (!append.events.empty()) {
        writes.Put(VersionKey(append.stream), Be64(version));
      }
      result.stream_versions.push_back(version);
    }
    for (const IndexWrite& write : batch.index_writes) {
      if (write.value.has_value()) {
        writes.Put(IndexKey(write.key), *write.value);
      } else {
        writes.Delete(IndexKey(write.key));
      }
    }
    // The commit record, when the batch writes anything. Its events are the
    // s/ keys just written, so the record names them by stream, version
    // before and count (eventstore/FORMAT.md, "Commit log").
    if (result.first_position != 0 || !batch.index_writes.empty() ||
        !batch.erasures.empty()) {
      ++log_position;
      if (batch.erasures.empty()) {
        writes.Put(LogKey(log_position),
                   EncodeCommitRecordWithoutEvents(batch.appends, before,
                                                   batch.index_writes));
      } else {
        for (const IndexWrite& write : batch.index_writes) {
          forgotten.push_back(write);
        }
        writes.Put(LogKey(log_position),
                   EncodeCommitRecordWithoutEvents(batch.appends, before,
                                                   forgotten, erased));
      }
    }
    for (auto& [stream, version] : local) versions[stream] = version;
    w->result = std::move(result);
    written.push_back(w);
  }

  if (writes.empty()) return last;
  if (position != last_position) {
    writes.Put(kLastPositionKey, Be64(position));
  }
  if (log_position != last.log) {
    writes.Put(kAppliedPositionKey, Be64(log_position));
  }
  rocksdb::WriteBatch write_batch = writes.Build();
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync;
  const absl::Time write_start = absl::Now();
  const rocksdb::Status s = db_->Write(write_options, &write_batch);
  const double write_seconds = absl::ToDoubleSeconds(absl::Now() - write_start);
  group_commits_.fetch_add(1, std::memory_order_relaxed);
  write_nanos_.fetch_add(static_cast<uint64_t>(write_seconds * 1e9),
                         std::memory_order_relaxed);
  constexpr size_t kBounds =
      sizeof(StoreStats::kWriteSecondsBounds) / sizeof(double);
  for (size_t i = 0; i < kBounds; ++i) {
    if (write_seconds <= StoreStats::kWriteSecondsBounds[i]) {
      writes_at_most_[i].fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (s.ok()) {
    commits_written_.fetch_add(written.size(), std::memory_order_relaxed);
  }
  if (!s.ok()) {
    version_cache_.clear();
    const std::string message =
        absl::StrCat("event store write failed: ", s.ToString());
    const absl::Status error =
        s.IsNoSpace()
            ? absl::UnavailableError(absl::StrCat(
                  message, " (the disk is full; retry once space is freed)"))
            : absl::InternalError(message);
    for (Writer* w : written) w->result = error;
    return error;
  }
  if (version_cache_.size() + versions.size() > kVersionCacheEntries) {
    version_cache_.clear();
  }
  for (auto& [stream, version] : versions) {
    version_cache_.insert_or_assign(stream, version);
  }
  return Positions{position, log_position};
}

absl::Status RocksDbEventStore::WriteErasures(
    const std::vector<StreamErasure>& erasures, KeyOrderedBatch* writes,
    std::vector<IndexWrite>* forgotten) {
  // Everything is read before anything is added to `writes`, so a read error
  // leaves the group's writes untouched.
  std::vector<std::pair<std::string, std::optional<std::string>>> ops;
  absl::flat_hash_set<std::string> streams;
  absl::flat_hash_set<std::string> forget;
  std::set<uint64_t> records;
  bool scan_log = false;
  std::vector<std::pair<std::string, std::string>> ranges;
  for (const StreamErasure& erasure : erasures) {
    streams.insert(erasure.stream);
    const std::string prefix = StreamPrefix(erasure.stream);
    const std::string end = StreamEnd(erasure.stream);
    const rocksdb::Slice upper(end);
    rocksdb::ReadOptions read_options;
    read_options.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options));
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      StoredEvent event;
      uint64_t log_position = 0;
      if (!DecodeRecord(
              absl::string_view(it->value().data(), it->value().size()), &event,
              &log_position)) {
        return Corruption(absl::StrCat("malformed event of stream ",
                                       absl::CHexEscape(erasure.stream)));
      }
      ops.emplace_back(it->key().ToString(), std::nullopt);
      // An erased position keeps its g/ key, with an empty value.
      ops.emplace_back(GlobalKey(event.position), std::string());
      ops.emplace_back(ErasedKey(event.position), std::string());
      if (log_position == 0) {
        scan_log = true;
      } else {
        records.insert(log_position);
      }
    }
    absl::Status status = FromRocks(it->status(), "reading a stream to erase");
    if (!status.ok()) return status;
    ops.emplace_back(VersionKey(erasure.stream), std::nullopt);
    ranges.emplace_back(prefix, end);
    for (const std::string& key : erasure.forget_keys) {
      if (!forget.insert(key).second) continue;
      ops.emplace_back(IndexKey(key), std::nullopt);
      forgotten->push_back(IndexWrite{key, std::nullopt});
      ranges.emplace_back(IndexKey(key), IndexKey(key) + '\0');
    }
  }
  if (scan_log) {
    // Events written by format 2 do not name their record: find the records
    // that append to the streams by reading the whole log.
    const rocksdb::Slice upper(kLogEnd);
    rocksdb::ReadOptions read_options;
    read_options.iterate_upper_bound = &upper;
    read_options.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options));
    for (it->Seek(kLogPrefix); it->Valid(); it->Next()) {
      absl::StatusOr<CommitRecord> record = DecodeCommitRecord(
          absl::string_view(it->value().data(), it->value().size()));
      if (!record.ok() || it->key().size() != 10) {
        return Corruption("malformed l/ record");
      }
      for (size_t i = 0; i < record->appends.size(); ++i) {
        if (!record->IsErased(i) &&
            streams.contains(record->appends[i].stream)) {
          records.insert(GetBe64(it->key().data() + 2));
          break;
        }
      }
    }
    absl::Status status = FromRocks(it->status(), "reading the commit log");
    if (!status.ok()) return status;
  }
  std::string value;
  for (uint64_t log_position : records) {
    const rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), LogKey(log_position), &value);
    if (!s.ok()) {
      return s.IsNotFound()
                 ? Corruption(absl::StrCat("an erased event names commit "
                                           "record ",
                                           log_position, ", which is missing"))
                 : FromRocks(s, "reading a commit record");
    }
    bool without_events = false;
    absl::StatusOr<CommitRecord> record =
        DecodeCommitRecord(value, &without_events);
    if (!record.ok() || !without_events) {
      return Corruption(
          absl::StrCat("malformed l/ record at log position ", log_position));
    }
    std::vector<bool> erased_appends(record->appends.size(), false);
    std::vector<uint64_t> versions_before;
    for (size_t i = 0; i < record->appends.size(); ++i) {
      erased_appends[i] =
          record->IsErased(i) || streams.contains(record->appends[i].stream);
      versions_before.push_back(
          static_cast<uint64_t>(record->appends[i].expected_version));
    }
    std::vector<IndexWrite> kept;
    for (IndexWrite& write : record->index_writes) {
      if (!forget.contains(write.key)) kept.push_back(std::move(write));
    }
    ops.emplace_back(
        LogKey(log_position),
        EncodeCommitRecordWithoutEvents(record->appends, versions_before, kept,
                                        record->erasures, erased_appends));
    ranges.emplace_back(LogKey(log_position), LogKey(log_position + 1));
  }
  for (auto& [key, op] : ops) {
    if (op.has_value()) {
      writes->Put(std::move(key), *std::move(op));
    } else {
      writes->Delete(std::move(key));
    }
  }
  writes->Put(kPurgePendingKey, std::string());
  absl::MutexLock lock(&purge_mu_);
  for (auto& range : ranges) purge_ranges_.push_back(std::move(range));
  ++erasures_written_;
  return absl::OkStatus();
}

absl::Status RocksDbEventStore::CompactAll() {
  {
    absl::MutexLock lock(&purge_mu_);
    purge_everything_ = true;
    ++erasures_written_;
  }
  return PurgeErased();
}

bool RocksDbEventStore::PurgePending() const {
  absl::MutexLock lock(&purge_mu_);
  return erasures_written_ != erasures_purged_;
}

absl::Status RocksDbEventStore::PurgeErased() {
  if (options_.read_only) return WriteState();
  absl::MutexLock serial(&purging_mu_);
  uint64_t written;
  bool everything;
  std::vector<std::pair<std::string, std::string>> ranges;
  {
    absl::MutexLock lock(&purge_mu_);
    written = erasures_written_;
    if (written == erasures_purged_) return absl::OkStatus();
    everything = purge_everything_ || purge_ranges_.size() > kMaxPurgeRanges;
    ranges.swap(purge_ranges_);
    purge_everything_ = false;
  }
  auto give_back = [&] {
    absl::MutexLock lock(&purge_mu_);
    purge_everything_ = purge_everything_ || everything;
    for (auto& range : ranges) purge_ranges_.push_back(std::move(range));
  };
  // The memtables go to table files, so the write-ahead logs holding the
  // erased writes become obsolete and are deleted.
  rocksdb::FlushOptions flush_options;
  flush_options.wait = true;
  absl::Status status =
      FromRocks(db_->Flush(flush_options), "flushing erased data");
  // Then every table file holding an older version of an erased key is
  // rewritten without it, down to the last level.
  rocksdb::CompactRangeOptions compact_options;
  compact_options.bottommost_level_compaction =
      rocksdb::BottommostLevelCompaction::kForce;
  if (status.ok() && everything) {
    status = FromRocks(db_->CompactRange(compact_options, nullptr, nullptr),
                       "compacting erased data");
  } else {
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 0; i < ranges.size() && status.ok(); ++i) {
      const rocksdb::Slice begin(ranges[i].first);
      const rocksdb::Slice end(ranges[i].second);
      status = FromRocks(db_->CompactRange(compact_options, &begin, &end),
                         "compacting erased data");
    }
  }
  if (!status.ok()) {
    give_back();
    return status;
  }
  {
    absl::MutexLock lock(&purge_mu_);
    erasures_purged_ = written;
    if (erasures_written_ != written) return absl::OkStatus();
  }
  // Nothing erased since: the marker can go (a crash before this line only
  // costs one more purge at the next Open).
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  return FromRocks(db_->Delete(write_options, kPurgePendingKey),
                   "clearing the purge marker");
}

absl::StatusOr<std::vector<StoredEvent>> RocksDbEventStore::ReadStream(
    absl::string_view stream, uint64_t from_version, size_t max_count) const {
  absl::Status valid = ValidateStreamName(stream);
  if (!valid.ok()) return valid;
  std::vector<StoredEvent> events;
  if (max_count == 0) return events;

  // A short read (an action's recipient) is the version, then one MultiGet of
  // the events by key: each key is found through the Bloom filters of only
  // the files that hold it, where an iterator seeks in every sorted run.
  // Events never change once written and one MultiGet sees one state, so
  // what it finds of [first, version] is a prefix of the stream as it was
  // then (an erasure deletes a stream's events and version in one write).
  const uint64_t first = std::max<uint64_t>(from_version, 1);
  {
    std::string value;
    const rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), VersionKey(stream), &value);
    if (s.IsNotFound()) return events;
    if (!s.ok()) return FromRocks(s, "reading a stream version");
    if (value.size() != 8) {
      return Corruption(absl::StrCat("malformed version of stream ",
                                     absl::CHexEscape(stream)));
    }
    const uint64_t version = GetBe64(value.data());
    if (first > version) return events;
    const uint64_t last =
        version - first + 1 > max_count ? first + max_count - 1 : version;
    if (last - first + 1 <= kPointReadEvents) {
      std::vector<std::string> keys;
      keys.reserve(last - first + 1);
      for (uint64_t v = first; v <= last; ++v) {
        keys.push_back(StreamEventKey(stream, v));
      }
      std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
      std::vector<std::string> values(keys.size());
      const std::vector<rocksdb::Status> found =
          db_->MultiGet(rocksdb::ReadOptions(), slices, &values);
      for (size_t i = 0; i < keys.size(); ++i) {
        if (found[i].IsNotFound()) break;
        if (!found[i].ok()) return FromRocks(found[i], "reading a stream");
        StoredEvent event;
        if (!DecodeRecord(values[i], &event)) {
          return Corruption(absl::StrCat("malformed event of stream ",
                                         absl::CHexEscape(stream)));
        }
        event.stream = std::string(stream);
        event.version = first + i;
        events.push_back(std::move(event));
      }
      return events;
    }
  }
  const std::string prefix = StreamPrefix(stream);
  const std::string end = StreamEnd(stream);
  const rocksdb::Slice upper(end);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options));
  for (it->Seek(StreamEventKey(stream, first));
       it->Valid() && events.size() < max_count; it->Next()) {
    const rocksdb::Slice key = it->key();
    StoredEvent event;
    if (key.size() != prefix.size() + 8 ||
        !DecodeRecord(absl::string_view(it->value().data(), it->value().size()),
                      &event)) {
      return Corruption(
          absl::StrCat("malformed event of stream ", absl::CHexEscape(stream)));
    }
    event.stream = std::string(stream);
    event.version = GetBe64(key.data() + prefix.size());
    events.push_back(std::move(event));
  }
  absl::Status status = FromRocks(it->status(), "reading a stream");
  if (!status.ok()) return status;
  return events;
}

absl::StatusOr<uint64_t> RocksDbEventStore::StreamVersion(
    absl::string_view stream) const {
  absl::Status valid = ValidateStreamName(stream);
  if (!valid.ok()) return valid;
  std::string value;
  const rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), VersionKey(stream), &value);
  if (s.IsNotFound()) return 0;
  if (!s.ok()) return FromRocks(s, "reading a stream version");
  if (value.size() != 8) {
    return Corruption(
        absl::StrCat("malformed version of stream ", absl::CHexEscape(stream)));
  }
  return GetBe64(value.data());
}

absl::StatusOr<std::vector<StoredEvent>> RocksDbEventStore::ReadAll(
    uint64_t from_position, size_t max_count) const {
  std::vector<StoredEvent> events;
  if (max_count == 0) return events;

  rocksdb::ManagedSnapshot snapshot(db_.get());
  const rocksdb::Slice upper(kGlobalEnd);
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot.snapshot();
  read_options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options));
  uint64_t expected = std::max<uint64_t>(from_position, 1);
  std::string value;
  for (it->Seek(GlobalKey(expected)); it->Valid() && events.size() < max_count;
       it->Next(), ++expected) {
    const rocksdb::Slice key = it->key();
    const rocksdb::Slice pointer = it->value();
    if (key.size() != 10 || (!pointer.empty() && pointer.size() < 9)) {
      return Corruption("malformed g/ entry");
    }
    const uint64_t position = GetBe64(key.data() + 2);
    if (position != expected) {
      return Corruption(absl::StrCat("global position ", expected,
                                     " is missing (next is ", position, ")"));
    }
    if (pointer.empty()) continue;  // An erased event.
    StoredEvent event;
    event.version = GetBe64(pointer.data());
    event.stream = std::string(pointer.data() + 8, pointer.size() - 8);
    const rocksdb::Status s = db_->Get(
        read_options, StreamEventKey(event.stream, event.version), &value);
    if (!s.ok()) {
      return s.IsNotFound()
                 ? Corruption(absl::StrFormat(
                       "global position %d points at missing event %s/%d",
                       position, absl::CHexEscape(event.stream), event.version))
                 : FromRocks(s, "reading an event");
    }
    if (!DecodeRecord(value, &event) || event.position != position) {
      return Corruption(
          absl::StrCat("malformed event at global position ", position));
    }
    events.push_back(std::move(event));
  }
  absl::Status status = FromRocks(it->status(), "reading the log");
  if (!status.ok()) return status;
  return events;
}

absl::Status RocksDbEventStore::ScanStreams(
    absl::string_view prefix,
    const std::function<absl::Status(const StoredEventView&)>& visit) const {
  const std::string lower = absl::StrCat("s/", prefix);
  return ScanEventKeys(lower, PrefixSuccessor(lower), visit);
}

absl::Status RocksDbEventStore::ScanStreamRange(
    absl::string_view from, absl::string_view to,
    const std::function<absl::Status(const StoredEventView&)>& visit) const {
  // Stream names hold no NUL, so "s/<name>\x00<version>" < "s/<to>" exactly
  // when name < to, and >= "s/<from>" exactly when name >= from.
  return ScanEventKeys(
      absl::StrCat("s/", from),
      to.empty() ? PrefixSuccessor("s/") : absl::StrCat("s/", to), visit);
}

absl::Status RocksDbEventStore::ScanEventKeys(
    const std::string& lower, const std::string& end,
    const std::function<absl::Status(const StoredEventView&)>& visit) const {
  if (lower >= end) return absl::OkStatus();
  const rocksdb::Slice upper(end);
  rocksdb::ManagedSnapshot snapshot(db_.get());
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(WholeRangeScan(snapshot, upper)));
  for (it->Seek(lower); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    const rocksdb::Slice value = it->value();
    // s/<stream>\x00<be64 version>
    if (key.size() < 2 + 1 + 9 || key[key.size() - 9] != '\0') {
      return Corruption(absl::StrCat("malformed event key ",
                                     absl::CHexEscape(key.ToString())));
    }
    StoredEventView event;
    event.stream = absl::string_view(key.data() + 2, key.size() - 2 - 9);
    event.version = GetBe64(key.data() + key.size() - 8);
    absl::string_view record(value.data(), value.size());
    uint64_t type_size = 0;
    if (record.size() < 8) {
      return Corruption(absl::StrCat("malformed event of stream ",
                                     absl::CHexEscape(event.stream)));
    }
    event.position = GetBe64(record.data()) & ~kWithLogPosition;
    const bool with_log_position =
        (GetBe64(record.data()) & kWithLogPosition) != 0;
    record.remove_prefix(8);
    uint64_t log_position = 0;
    if ((with_log_position && !GetVarint64(&record, &log_position)) ||
        !GetVarint64(&record, &type_size) || type_size > record.size()) {
      return Corruption(absl::StrCat("malformed event of stream ",
                                     absl::CHexEscape(event.stream)));
    }
    event.type = record.substr(0, type_size);
    event.data = record.substr(type_size);
    absl::Status status = visit(event);
    if (!status.ok()) return status;
  }
  return FromRocks(it->status(), "scanning the streams");
}

namespace {

// The midpoint of two keys read as base-256 fractions (a < b): a key > a and
// < b, unless they are adjacent at every length (then a or b).
std::string MidKey(absl::string_view a, absl::string_view b) {
  const size_t n = std::max(a.size(), b.size()) + 1;
  auto digit = [](absl::string_view s, size_t i) -> unsigned {
    return i < s.size() ? static_cast<unsigned char>(s[i]) : 0u;
  };
  std::vector<unsigned> sum(n + 1, 0);  // sum[0] takes the carry
  unsigned carry = 0;
  for (size_t i = n; i-- > 0;) {
    const unsigned d = digit(a, i) + digit(b, i) + carry;
    sum[i + 1] = d & 0xff;
    carry = d >> 8;
  }
  sum[0] = carry;
  std::string mid(n, '\0');
  unsigned rest = sum[0];
  for (size_t i = 0; i < n; ++i) {
    const unsigned d = rest * 256 + sum[i + 1];
    mid[i] = static_cast<char>(d / 2);
    rest = d % 2;
  }
  while (!mid.empty() && mid.back() == '\0') mid.pop_back();
  return mid;
}

// The stream name of an s/ event key; empty when malformed.
absl::string_view EventKeyStream(const rocksdb::Slice& key) {
  if (key.size() < 2 + 1 + 9 || key[key.size() - 9] != '\0') return {};
  return absl::string_view(key.data() + 2, key.size() - 2 - 9);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> RocksDbEventStore::StreamSplitPoints(
    absl::string_view prefix, int parts) const {
  std::vector<std::string> points;
  if (parts < 2) return points;
  const std::string lower = absl::StrCat("s/", prefix);
  const std::string end = PrefixSuccessor(lower);
  rocksdb::ManagedSnapshot snapshot(db_.get());
  const rocksdb::Slice lower_bound(lower);
  const rocksdb::Slice upper_bound(end);
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot.snapshot();
  read_options.iterate_lower_bound = &lower_bound;
  read_options.iterate_upper_bound = &upper_bound;
  read_options.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options));
  auto end_of_scan = [&]() -> absl::StatusOr<std::vector<std::string>> {
    absl::Status status = FromRocks(it->status(), "splitting the streams");
    if (!status.ok()) return status;
    return points;
  };
  it->SeekToFirst();
  if (!it->Valid()) return end_of_scan();
  const std::string first = it->key().ToString();
  it->SeekToLast();
  if (!it->Valid()) return end_of_scan();
  const std::string last = it->key().ToString();

  rocksdb::SizeApproximationOptions size_options;
  size_options.include_memtables = true;
  size_options.include_files = true;
  auto size_below = [&](const std::string& key) -> absl::StatusOr<uint64_t> {
    const rocksdb::Range range(first, key);
    uint64_t size = 0;
    const rocksdb::Status s = db_->GetApproximateSizes(
        size_options, db_->DefaultColumnFamily(), &range, 1, &size);
    if (!s.ok()) return FromRocks(s, "splitting the streams");
    return size;
  };
  absl::StatusOr<uint64_t> total = size_below(last);
  if (!total.ok()) return total.status();
  if (*total == 0) return points;
  std::string previous(EventKeyStream(first));
  for (int part = 1; part < parts; ++part) {
    const uint64_t target = *total / parts * part;
    const uint64_t slack = *total / parts / 16;
    // Bisect [lo, hi) for a key with about `target` bytes before it. Each
    // step fixes one more bit of the key: 1,024 steps reach 128 bytes past
    // the common prefix of the first and last keys.
    std::string lo = first;
    std::string hi = last;
    for (int step = 0; step < 1024; ++step) {
      std::string mid = MidKey(lo, hi);
      if (mid <= lo || mid >= hi) break;
      absl::StatusOr<uint64_t> below = size_below(mid);
      if (!below.ok()) return below.status();
      if (*below + slack < target) {
        lo = std::move(mid);
      } else if (*below > target + slack) {
        hi = std::move(mid);
      } else {
        hi = std::move(mid);
        break;
      }
    }
    it->Seek(hi);
    if (!it->Valid()) break;
    const absl::string_view stream = EventKeyStream(it->key());
    if (stream.empty()) {
      return Corruption(absl::StrCat("malformed event key ",
                                     absl::CHexEscape(it->key().ToString())));
    }
    if (stream > previous) {
      previous = std::string(stream);
      points.push_back(previous);
    }
  }
  return end_of_scan();
}

absl::Status RocksDbEventStore::VisitIndex(
    absl::string_view prefix, absl::string_view start_after,
    const std::function<absl::Status(absl::string_view key,
                                     absl::string_view value)>& visit) const {
  const auto [lower, end] = IndexRange(prefix, start_after);
  const rocksdb::Slice upper(end);
  rocksdb::ManagedSnapshot snapshot(db_.get());
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(WholeRangeScan(snapshot, upper)));
  for (it->Seek(lower); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    const rocksdb::Slice value = it->value();
    absl::Status status =
        visit(absl::string_view(key.data() + 2, key.size() - 2),
              absl::string_view(value.data(), value.size()));
    if (!status.ok()) return status;
  }
  return FromRocks(it->status(), "scanning the index");
}

absl::Status RocksDbEventStore::VisitErasedPositions(
    const std::function<absl::Status(uint64_t position)>& visit) const {
  const rocksdb::Slice upper("e0");
  rocksdb::ManagedSnapshot snapshot(db_.get());
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(WholeRangeScan(snapshot, upper)));
  for (it->Seek("e/"); it->Valid(); it->Next()) {
    if (it->key().size() != 10) return Corruption("malformed e/ key");
    absl::Status status = visit(GetBe64(it->key().data() + 2));
    if (!status.ok()) return status;
  }
  return FromRocks(it->status(), "reading the erased positions");
}

uint64_t RocksDbEventStore::LastPosition() const {
  return last_position_.load(std::memory_order_acquire);
}

absl::StatusOr<std::optional<std::string>> RocksDbEventStore::GetIndex(
    absl::string_view key) const {
  if (key.empty()) return absl::InvalidArgumentError("index key is empty");
  std::string value;
  const rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), IndexKey(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "reading an index entry");
  return std::optional<std::string>(std::move(value));
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
RocksDbEventStore::ScanIndex(absl::string_view prefix,
                             absl::string_view start_after,
                             size_t max_count) const {
  std::vector<std::pair<std::string, std::string>> entries;
  if (max_count == 0) return entries;

  const auto [lower, end] = IndexRange(prefix, start_after);
  const rocksdb::Slice upper(end);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options));
  for (it->Seek(lower); it->Valid() && entries.size() < max_count; it->Next()) {
    const rocksdb::Slice key = it->key();
    entries.emplace_back(std::string(key.data() + 2, key.size() - 2),
                         it->value().ToString());
  }
  absl::Status status = FromRocks(it->status(), "scanning the index");
  if (!status.ok()) return status;
  return entries;
}

absl::Status RocksDbEventStore::Apply(uint64_t log_position,
                                      const CommitRecord& record) {
  if (!options_.external_log || options_.read_only) {
    return absl::FailedPreconditionError(
        "DerivedState::Apply needs a store opened read-write with "
        "external_log");
  }
  absl::Status state = WriteState();
  if (!state.ok()) return state;
  absl::MutexLock lock(&apply_mu_);
  const uint64_t applied = last_log_position_.load(std::memory_order_relaxed);
  if (absl::Status next = CheckNextRecord(log_position, applied, record);
      !next.ok()) {
    return next;
  }
  if (!record.erasures.empty() || !record.erased_appends.empty()) {
    return absl::UnimplementedError(absl::StrCat(
        "commit record ", log_position,
        " erases streams, which a derived state of an external log cannot "
        "apply yet"));
  }
  rocksdb::WriteBatch write_batch;
  std::unordered_map<std::string, uint64_t> versions;
  uint64_t position = last_position_.load(std::memory_order_relaxed);
  for (const StreamAppend& append : record.appends) {
    uint64_t current;
    if (auto it = versions.find(append.stream); it != versions.end()) {
      current = it->second;
    } else {
      absl::StatusOr<uint64_t> stored = StreamVersion(append.stream);
      if (!stored.ok()) return stored.status();
      current = *stored;
    }
    if (static_cast<int64_t>(current) != append.expected_version) {
      return absl::InternalError(absl::StrFormat(
          "commit record %d does not apply to the derived state: stream "
          "\"%s\": expected version %d, actual version %d",
          log_position, absl::CHexEscape(append.stream),
          append.expected_version, current));
    }
    for (const NewEvent& event : append.events) {
      ++position;
      ++current;
      write_batch.Put(StreamEventKey(append.stream, current),
                      EncodeRecord(position, log_position, event));
      write_batch.Put(GlobalKey(position),
                      EncodePointer(current, append.stream));
    }
    if (!append.events.empty()) {
      write_batch.Put(VersionKey(append.stream), Be64(current));
    }
    versions[append.stream] = current;
  }
  for (const IndexWrite& write : record.index_writes) {
    if (write.value.has_value()) {
      write_batch.Put(IndexKey(write.key), *write.value);
    } else {
      write_batch.Delete(IndexKey(write.key));
    }
  }
  write_batch.Put(kLastPositionKey, Be64(position));
  write_batch.Put(kAppliedPositionKey, Be64(log_position));
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync;
  const rocksdb::Status s = db_->Write(write_options, &write_batch);
  group_commits_.fetch_add(1, std::memory_order_relaxed);
  if (!s.ok()) {
    const absl::Status error = absl::UnavailableError(absl::StrCat(
        "applying commit record ", log_position, ": ", s.ToString(),
        s.IsNoSpace() ? " (the disk is full; retry once space is freed)" : ""));
    {
      absl::MutexLock failed_lock(&mu_);
      failed_ = error;
      recovery_cv_.SignalAll();
    }
    NotifyWriteState();
    return error;
  }
  last_position_.store(position, std::memory_order_release);
  last_log_position_.store(log_position, std::memory_order_release);
  return absl::OkStatus();
}

uint64_t RocksDbEventStore::AppliedPosition() const {
  return last_log_position_.load(std::memory_order_acquire);
}

uint64_t RocksDbEventStore::LastLogPosition() const {
  return last_log_position_.load(std::memory_order_acquire);
}

absl::StatusOr<std::vector<LoggedRecord>> RocksDbEventStore::ReadLog(
    uint64_t from_position, size_t max_count) const {
  std::vector<LoggedRecord> records;
  if (max_count == 0) return records;
  rocksdb::ManagedSnapshot snapshot(db_.get());
  const rocksdb::Slice upper(kLogEnd);
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot.snapshot();
  read_options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options));
  uint64_t expected = std::max<uint64_t>(from_position, 1);
  std::string value;
  for (it->Seek(LogKey(expected)); it->Valid() && records.size() < max_count;
       it->Next(), ++expected) {
    if (it->key().size() != 10 || GetBe64(it->key().data() + 2) != expected) {
      return Corruption(
          absl::StrCat("commit log position ", expected, " is missing"));
    }
    absl::StatusOr<CommitRecord> record = DecodeCommitRecord(
        absl::string_view(it->value().data(), it->value().size()));
    if (!record.ok()) {
      return Corruption(
          absl::StrCat("malformed l/ record at log position ", expected));
    }
    for (size_t a = 0; a < record->appends.size(); ++a) {
      StreamAppend& append = record->appends[a];
      if (record->IsErased(a)) continue;  // Placeholders: the events are gone.
      uint64_t version = static_cast<uint64_t>(append.expected_version);
      for (NewEvent& event : append.events) {
        ++version;
        const rocksdb::Status s = db_->Get(
            read_options, StreamEventKey(append.stream, version), &value);
        StoredEvent stored;
        if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "reading an event");
        if (s.IsNotFound() || !DecodeRecord(value, &stored)) {
          return Corruption(absl::StrFormat(
              "commit record %d names event %s/%d, which is missing", expected,
              absl::CHexEscape(append.stream), version));
        }
        event.type = std::move(stored.type);
        event.data = std::move(stored.data);
      }
    }
    records.push_back(LoggedRecord{expected, *std::move(record)});
  }
  absl::Status status = FromRocks(it->status(), "reading the commit log");
  if (!status.ok()) return status;
  return records;
}

StoreStats RocksDbEventStore::Stats() const {
  StoreStats stats;
  stats.commits = commits_written_.load(std::memory_order_relaxed);
  stats.group_writes = group_commits_.load(std::memory_order_relaxed);
  stats.write_seconds =
      static_cast<double>(write_nanos_.load(std::memory_order_relaxed)) / 1e9;
  for (size_t i = 0; i < sizeof(stats.writes_at_most) / sizeof(uint64_t); ++i) {
    stats.writes_at_most[i] =
        writes_at_most_[i].load(std::memory_order_relaxed);
  }
  stats.refused_commits = refused_commits_.load(std::memory_order_relaxed);
  uint64_t value = 0;
  if (db_->GetIntProperty("rocksdb.total-sst-files-size", &value)) {
    stats.disk_bytes += value;
  }
  rocksdb::VectorLogPtr wals;
  if (!options_.read_only && db_->GetSortedWalFiles(wals).ok()) {
    for (const auto& wal : wals) stats.disk_bytes += wal->SizeFileBytes();
  }
  if (db_->GetIntProperty("rocksdb.background-errors", &value)) {
    stats.background_errors = value;
  }
  if (db_->GetIntProperty("rocksdb.is-write-stopped", &value)) {
    stats.writes_stopped = value;
  }
  if (db_->GetIntProperty("rocksdb.actual-delayed-write-rate", &value)) {
    stats.delayed_write_rate = value;
  }
  return stats;
}

uint64_t RocksDbEventStore::GroupCommitCount() const {
  return group_commits_.load(std::memory_order_relaxed);
}

}  // namespace sequencer::eventstore
