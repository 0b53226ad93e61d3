#include "domain/refusal.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sequencer::domain {
namespace {

// The payload's type URL; the encoding is private to this file: a sequence of
// length-prefixed strings ("<decimal length>:<bytes>"): the reason, then key,
// value pairs.
constexpr char kRefusalTypeUrl[] =
    "type.sequencer.dev/sequencer.domain.Refusal";

void AppendField(std::string& out, absl::string_view field) {
  absl::StrAppend(&out, field.size(), ":", field);
}

// Reads one field at `pos`; false when malformed.
bool ReadField(absl::string_view in, size_t& pos, std::string& field) {
  const size_t colon = in.find(':', pos);
  if (colon == absl::string_view::npos) return false;
  size_t length = 0;
  if (!absl::SimpleAtoi(in.substr(pos, colon - pos), &length)) return false;
  if (length > in.size() - colon - 1) return false;
  field = std::string(in.substr(colon + 1, length));
  pos = colon + 1 + length;
  return true;
}

}  // namespace

absl::Status WithRefusal(absl::Status status, const Refusal& refusal) {
  if (status.ok()) return status;
  std::string encoded;
  AppendField(encoded, refusal.reason);
  for (const auto& [key, value] : refusal.metadata) {
    AppendField(encoded, key);
    AppendField(encoded, value);
  }
  status.SetPayload(kRefusalTypeUrl, absl::Cord(encoded));
  return status;
}

absl::Status RefuseAction(absl::string_view message, const Refusal& refusal) {
  return WithRefusal(absl::FailedPreconditionError(message), refusal);
}

std::optional<Refusal> GetRefusal(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kRefusalTypeUrl);
  if (!payload.has_value()) return std::nullopt;
  const std::string encoded(*payload);
  Refusal refusal;
  size_t pos = 0;
  if (!ReadField(encoded, pos, refusal.reason)) return std::nullopt;
  while (pos < encoded.size()) {
    std::string key, value;
    if (!ReadField(encoded, pos, key) || !ReadField(encoded, pos, value)) {
      return std::nullopt;
    }
    refusal.metadata[key] = value;
  }
  return refusal;
}

}  // namespace sequencer::domain
