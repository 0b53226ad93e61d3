#include "eventstore/commit_log.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "eventstore/batch_validation.h"

namespace sequencer::eventstore {
namespace {

constexpr char kRecordFormat = 1;
constexpr char kRecordFormatWithoutEvents = 2;
// Formats 1 and 2 with erasures and erased appends (FORMAT.md).
constexpr char kRecordFormatErasing = 3;
constexpr char kRecordFormatErasingWithoutEvents = 4;
constexpr char kDelete = 0;
constexpr char kPut = 1;

void PutVarint64(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutBytes(std::string* out, absl::string_view bytes) {
  PutVarint64(out, bytes.size());
  out->append(bytes.data(), bytes.size());
}

// Reads from a string_view, remembering the first failure.
class Reader {
 public:
  explicit Reader(absl::string_view in) : in_(in) {}

  bool ok() const { return ok_; }
  bool done() const { return in_.empty(); }

  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift <= 63 && !in_.empty(); shift += 7) {
      const uint64_t byte = static_cast<unsigned char>(in_.front());
      in_.remove_prefix(1);
      v |= (byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return v;
    }
    ok_ = false;
    return 0;
  }

  char Byte() {
    if (in_.empty()) {
      ok_ = false;
      return 0;
    }
    const char c = in_.front();
    in_.remove_prefix(1);
    return c;
  }

  std::string Bytes() {
    const uint64_t size = Varint();
    if (!ok_ || size > in_.size()) {
      ok_ = false;
      return std::string();
    }
    std::string out(in_.substr(0, size));
    in_.remove_prefix(size);
    return out;
  }

  // A count of items that each take at least one byte: never more than what
  // is left, so a corrupt count cannot make the decoder reserve gigabytes.
  uint64_t Count() {
    const uint64_t n = Varint();
    if (n > in_.size()) ok_ = false;
    return ok_ ? n : 0;
  }

 private:
  absl::string_view in_;
  bool ok_ = true;
};

}  // namespace

bool operator==(const CommitRecord& a, const CommitRecord& b) {
  auto same_events = [](const std::vector<NewEvent>& x,
                        const std::vector<NewEvent>& y) {
    return std::equal(x.begin(), x.end(), y.begin(), y.end(),
                      [](const NewEvent& e, const NewEvent& f) {
                        return e.type == f.type && e.data == f.data;
                      });
  };
  return std::equal(a.appends.begin(), a.appends.end(), b.appends.begin(),
                    b.appends.end(),
                    [&](const StreamAppend& x, const StreamAppend& y) {
                      return x.stream == y.stream &&
                             x.expected_version == y.expected_version &&
                             same_events(x.events, y.events);
                    }) &&
         std::equal(a.index_writes.begin(), a.index_writes.end(),
                    b.index_writes.begin(), b.index_writes.end(),
                    [](const IndexWrite& x, const IndexWrite& y) {
                      return x.key == y.key && x.value == y.value;
                    }) &&
         std::equal(a.erasures.begin(), a.erasures.end(), b.erasures.begin(),
                    b.erasures.end(),
                    [](const StreamErasure& x, const StreamErasure& y) {
                      return x.stream == y.stream &&
                             x.expected_version == y.expected_version;
                    }) &&
         [&] {
           for (size_t i = 0; i < std::max(a.appends.size(), b.appends.size());
                ++i) {
             if (a.IsErased(i) != b.IsErased(i)) return false;
           }
           return true;
         }();
}

namespace {

void EncodeIndexWrites(const std::vector<IndexWrite>& index_writes,
                       std::string* out) {
  PutVarint64(out, index_writes.size());
  for (const IndexWrite& write : index_writes) {
    out->push_back(write.value.has_value() ? kPut : kDelete);
    PutBytes(out, write.key);
    if (write.value.has_value()) PutBytes(out, *write.value);
  }
}

void EncodeErasures(const std::vector<StreamErasure>& erasures,
                    std::string* out) {
  PutVarint64(out, erasures.size());
  for (const StreamErasure& erasure : erasures) {
    PutBytes(out, erasure.stream);
    PutVarint64(out, static_cast<uint64_t>(erasure.expected_version));
  }
}

bool AnyErased(const std::vector<bool>& erased_appends) {
  return std::find(erased_appends.begin(), erased_appends.end(), true) !=
         erased_appends.end();
}

}  // namespace

std::string EncodeCommitRecord(const CommitRecord& record) {
  const bool erasing =
      !record.erasures.empty() || AnyErased(record.erased_appends);
  std::string out;
  out.push_back(erasing ? kRecordFormatErasing : kRecordFormat);
  PutVarint64(&out, record.appends.size());
  for (size_t i = 0; i < record.appends.size(); ++i) {
    const StreamAppend& append = record.appends[i];
    PutBytes(&out, append.stream);
    PutVarint64(&out, static_cast<uint64_t>(append.expected_version));
    const bool erased = record.IsErased(i);
    if (erasing) out.push_back(erased ? 1 : 0);
    PutVarint64(&out, append.events.size());
    if (erased) continue;
    for (const NewEvent& event : append.events) {
      PutBytes(&out, event.type);
      PutBytes(&out, event.data);
    }
  }
  EncodeIndexWrites(record.index_writes, &out);
  if (erasing) EncodeErasures(record.erasures, &out);
  return out;
}

std::string EncodeCommitRecordWithoutEvents(
    const std::vector<StreamAppend>& appends,
    const std::vector<uint64_t>& versions_before,
    const std::vector<IndexWrite>& index_writes,
    const std::vector<StreamErasure>& erasures,
    const std::vector<bool>& erased_appends) {
  const bool erasing = !erasures.empty() || AnyErased(erased_appends);
  std::string out;
  out.push_back(erasing ? kRecordFormatErasingWithoutEvents
                        : kRecordFormatWithoutEvents);
  PutVarint64(&out, appends.size());
  for (size_t i = 0; i < appends.size(); ++i) {
    PutBytes(&out, appends[i].stream);
    PutVarint64(&out, versions_before[i]);
    if (erasing) {
      out.push_back(i < erased_appends.size() && erased_appends[i] ? 1 : 0);
    }
    PutVarint64(&out, appends[i].events.size());
  }
  EncodeIndexWrites(index_writes, &out);
  if (erasing) EncodeErasures(erasures, &out);
  return out;
}

absl::StatusOr<CommitRecord> DecodeCommitRecord(absl::string_view bytes,
                                                bool* without_events) {
  Reader in(bytes);
  CommitRecord record;
  const char format = in.Byte();
  const bool events_omitted = format == kRecordFormatWithoutEvents ||
                              format == kRecordFormatErasingWithoutEvents;
  const bool erasing = format == kRecordFormatErasing ||
                       format == kRecordFormatErasingWithoutEvents;
  if (without_events != nullptr) *without_events = events_omitted;
  if (in.ok() && format != kRecordFormat && !events_omitted && !erasing) {
    return absl::InternalError(absl::StrFormat(
        "malformed commit record: unknown record format %d", format));
  }
  const uint64_t appends = in.Count();
  for (uint64_t i = 0; i < appends && in.ok(); ++i) {
    StreamAppend append;
    append.stream = in.Bytes();
    const uint64_t version = in.Varint();
    if (version > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return absl::InternalError(
          "malformed commit record: expected version out of range");
    }
    append.expected_version = static_cast<int64_t>(version);
    bool erased = false;
    if (erasing) {
      const char flag = in.Byte();
      if (in.ok() && flag != 0 && flag != 1) {
        return absl::InternalError(
            "malformed commit record: unknown append flag");
      }
      erased = flag == 1;
      if (erased) {
        record.erased_appends.resize(record.appends.size() + 1, false);
        record.erased_appends.back() = true;
      }
    }
    if (events_omitted || erased) {
      // Events take no bytes here, so the count is bounded instead (16M
      // events, far beyond any one commit), lest a corrupt count allocate
      // gigabytes.
      const uint64_t events = in.Varint();
      if (events > (uint64_t{1} << 24)) {
        return absl::InternalError(
            "malformed commit record: event count out of range");
      }
      append.events.resize(events);
    } else {
      const uint64_t events = in.Count();
      for (uint64_t e = 0; e < events && in.ok(); ++e) {
        NewEvent event;
        event.type = in.Bytes();
        event.data = in.Bytes();
        append.events.push_back(std::move(event));
      }
    }
    record.appends.push_back(std::move(append));
  }
  const uint64_t writes = in.Count();
  for (uint64_t i = 0; i < writes && in.ok(); ++i) {
    IndexWrite write;
    const char kind = in.Byte();
    write.key = in.Bytes();
    if (kind == kPut) {
      write.value = in.Bytes();
    } else if (kind != kDelete && in.ok()) {
      return absl::InternalError(absl::StrFormat(
          "malformed commit record: unknown index write kind %d", kind));
    }
    record.index_writes.push_back(std::move(write));
  }
  const uint64_t erasures = erasing ? in.Count() : 0;
  for (uint64_t i = 0; i < erasures && in.ok(); ++i) {
    StreamErasure erasure;
    erasure.stream = in.Bytes();
    const uint64_t version = in.Varint();
    if (version > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return absl::InternalError(
          "malformed commit record: erased version out of range");
    }
    erasure.expected_version = static_cast<int64_t>(version);
    record.erasures.push_back(std::move(erasure));
  }
  if (!in.ok()) {
    return absl::InternalError("malformed commit record: truncated");
  }
  if (!in.done()) {
    return absl::InternalError("malformed commit record: trailing bytes");
  }
  return record;
}

absl::Status CheckNextRecord(uint64_t log_position, uint64_t applied,
                             const CommitRecord& record) {
  if (log_position != applied + 1) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "derived state: record %d does not follow the applied position %d",
        log_position, applied));
  }
  absl::Status valid = ValidateCommitRecord(record);
  if (!valid.ok()) {
    return absl::InternalError(
        absl::StrCat("commit record ", log_position, ": ", valid.message()));
  }
  return absl::OkStatus();
}

absl::Status ValidateCommitRecord(const CommitRecord& record) {
  for (const StreamAppend& append : record.appends) {
    absl::Status status = ValidateStreamName(append.stream);
    if (!status.ok()) return status;
    if (append.expected_version < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a commit record's append must name the stream's version before it, "
          "not ",
          append.expected_version));
    }
  }
  for (const IndexWrite& write : record.index_writes) {
    if (write.key.empty()) {
      return absl::InvalidArgumentError("index key is empty");
    }
  }
  for (const StreamErasure& erasure : record.erasures) {
    absl::Status status = ValidateStreamName(erasure.stream);
    if (!status.ok()) return status;
    if (erasure.expected_version < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a commit record's erasure must name the stream's version before "
          "it, not ",
          erasure.expected_version));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> InMemoryCommitLog::Append(
    const CommitRecord& record, uint64_t expected_last_position) {
  absl::Status valid = ValidateCommitRecord(record);
  if (!valid.ok()) return valid;
  std::string encoded = EncodeCommitRecord(record);
  absl::MutexLock lock(&mu_);
  if (records_.size() != expected_last_position) {
    return absl::AbortedError(
        absl::StrFormat("commit log: expected last position %d, actual %d",
                        expected_last_position, records_.size()));
  }
  records_.push_back(std::move(encoded));
  return records_.size();
}

absl::StatusOr<std::vector<LoggedRecord>> InMemoryCommitLog::Read(
    uint64_t from_position, size_t max_count) const {
  absl::MutexLock lock(&mu_);
  std::vector<LoggedRecord> out;
  for (uint64_t p = std::max<uint64_t>(from_position, 1);
       p <= records_.size() && out.size() < max_count; ++p) {
    absl::StatusOr<CommitRecord> record = DecodeCommitRecord(records_[p - 1]);
    if (!record.ok()) return record.status();
    out.push_back(LoggedRecord{p, *std::move(record)});
  }
  return out;
}

absl::StatusOr<uint64_t> InMemoryCommitLog::LastPosition() const {
  absl::MutexLock lock(&mu_);
  return records_.size();
}

}  // namespace sequencer::eventstore
