#include "app/pipeline/idempotency.h"

#include "absl/strings/str_cat.h"
#include "app/storage/store_layout.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "sequencer/v1/events.pb.h"

namespace sequencer::app {

uint64_t RequestFingerprint(const google::protobuf::Message& request) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    request.SerializeToCodedStream(&coded);
  }
  return BytesFingerprint(bytes);
}

uint64_t BytesFingerprint(absl::string_view bytes) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash ^ bytes.size();
}

absl::StatusOr<std::optional<std::string>> LoadPreviousOutcome(
    const eventstore::EventStore& store, absl::string_view tenant,
    absl::string_view request_id, absl::string_view method,
    uint64_t fingerprint) {
  auto stored = store.GetIndex(layout::IdempotencyKey(tenant, request_id));
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return std::optional<std::string>();
  v1::IdempotencyRecord record;
  if (!record.ParseFromString(**stored)) {
    return absl::DataLossError(
        absl::StrCat("idempotency record of ", request_id, " is corrupt"));
  }
  if (record.method() != method ||
      record.request_fingerprint() != fingerprint) {
    return absl::InvalidArgumentError(absl::StrCat(
        "request_id \"", request_id,
        "\" was already used for a different request (", record.method(), ")"));
  }
  return std::optional<std::string>(std::move(*record.mutable_response()));
}

eventstore::IndexWrite OutcomeRecord(absl::string_view tenant,
                                     absl::string_view request_id,
                                     absl::string_view method,
                                     uint64_t fingerprint,
                                     std::string response) {
  v1::IdempotencyRecord record;
  record.set_method(std::string(method));
  record.set_request_fingerprint(fingerprint);
  record.set_response(std::move(response));
  return {layout::IdempotencyKey(tenant, request_id),
          record.SerializeAsString()};
}

}  // namespace sequencer::app
