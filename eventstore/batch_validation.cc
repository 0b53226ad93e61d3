#include "eventstore/batch_validation.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"

namespace sequencer::eventstore {

absl::Status ValidateStreamName(absl::string_view stream) {
  if (stream.empty()) {
    return absl::InvalidArgumentError("stream name is empty");
  }
  if (stream.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "stream name \"%s\" contains a NUL byte", absl::CHexEscape(stream)));
  }
  return absl::OkStatus();
}

absl::Status ValidateCommitBatch(const CommitBatch& batch) {
  for (const StreamAppend& append : batch.appends) {
    absl::Status status = ValidateStreamName(append.stream);
    if (!status.ok()) return status;
    if (append.expected_version < kAnyVersion) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "stream \"%s\": invalid expected version %d",
          absl::CHexEscape(append.stream), append.expected_version));
    }
  }
  for (const IndexWrite& write : batch.index_writes) {
    if (write.key.empty()) {
      return absl::InvalidArgumentError("index key is empty");
    }
  }
  for (size_t i = 0; i < batch.erasures.size(); ++i) {
    const StreamErasure& erasure = batch.erasures[i];
    absl::Status status = ValidateStreamName(erasure.stream);
    if (!status.ok()) return status;
    if (erasure.expected_version < kAnyVersion) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "erasure of stream \"%s\": invalid expected version %d",
          absl::CHexEscape(erasure.stream), erasure.expected_version));
    }
    for (size_t j = 0; j < i; ++j) {
      if (batch.erasures[j].stream == erasure.stream) {
        return absl::InvalidArgumentError(
            absl::StrFormat("stream \"%s\" is erased twice in one batch",
                            absl::CHexEscape(erasure.stream)));
      }
    }
    for (const std::string& key : erasure.forget_keys) {
      if (key.empty()) {
        return absl::InvalidArgumentError("forget key is empty");
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace sequencer::eventstore
