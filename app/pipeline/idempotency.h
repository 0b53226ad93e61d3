// Safe retries: the response of every successful mutating call is stored under
// (tenant, request id) in the same atomic commit as its events. A retry finds
// it and answers the first outcome without writing anything.

#ifndef SEQUENCER_APP_PIPELINE_IDEMPOTENCY_H_
#define SEQUENCER_APP_PIPELINE_IDEMPOTENCY_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "eventstore/event_store.h"
#include "google/protobuf/message.h"

namespace sequencer::app {

// A stable 64-bit fingerprint (FNV-1a) of some bytes.
uint64_t BytesFingerprint(absl::string_view bytes);

// A stable 64-bit fingerprint of the request's deterministic serialization.
uint64_t RequestFingerprint(const google::protobuf::Message& request);

// nullopt: the request id is new. Otherwise the recorded response (the bytes
// OutcomeRecord was given). INVALID_ARGUMENT when the id was used for a
// different method or request; DATA_LOSS for a record that does not parse.
absl::StatusOr<std::optional<std::string>> LoadPreviousOutcome(
    const eventstore::EventStore& store, absl::string_view tenant,
    absl::string_view request_id, absl::string_view method,
    uint64_t fingerprint);

// The index write that records `response` (the serialized response message)
// as the outcome of the request.
eventstore::IndexWrite OutcomeRecord(absl::string_view tenant,
                                     absl::string_view request_id,
                                     absl::string_view method,
                                     uint64_t fingerprint,
                                     std::string response);

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_PIPELINE_IDEMPOTENCY_H_
