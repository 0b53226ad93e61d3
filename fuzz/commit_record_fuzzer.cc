// Commit-record decoding (eventstore/commit_log.h): the bytes of an `l/`
// value or of a replicated log's entry. Whatever the bytes, decoding answers
// an error or a record, and a record that decodes re-encodes (in its own
// format; records with erasures or erased appends in formats 3 and 4) to bytes
// that decode to the same record.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "eventstore/commit_log.h"

namespace {

using ::sequencer::eventstore::CommitRecord;
using ::sequencer::eventstore::DecodeCommitRecord;

std::string Reencode(const CommitRecord& record, bool without_events) {
  if (!without_events) {
    return ::sequencer::eventstore::EncodeCommitRecord(record);
  }
  std::vector<uint64_t> versions_before;
  for (const auto& append : record.appends) {
    versions_before.push_back(static_cast<uint64_t>(append.expected_version));
  }
  return ::sequencer::eventstore::EncodeCommitRecordWithoutEvents(
      record.appends, versions_before, record.index_writes, record.erasures,
      record.erased_appends);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  bool without_events = false;
  auto decoded = DecodeCommitRecord(bytes, &without_events);
  if (!decoded.ok()) return 0;
  bool again_without_events = !without_events;
  auto again = DecodeCommitRecord(Reencode(*decoded, without_events),
                                  &again_without_events);
  if (!again.ok()) __builtin_trap();
  if (again_without_events != without_events) __builtin_trap();
  if (*again != *decoded) __builtin_trap();
  return 0;
}
