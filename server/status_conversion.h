// The one place where absl::Status becomes grpc::Status.
//
// The code and message carry over unchanged. A refusal attached with
// domain/refusal.h becomes a google.rpc.ErrorInfo (domain "sequencer.v1")
// inside a google.rpc.Status sent in the `grpc-status-details-bin` trailer, so
// clients can read the reason, status and action. An INVALID_ARGUMENT whose
// message follows the convention "<field path>: <what is wrong>" (every bad-
// input message of this service does) also carries a google.rpc.BadRequest
// with that field violation, the standard detail for INVALID_ARGUMENT.
// Payloads that are themselves a google.rpc.ErrorInfo or RetryInfo (access
// refusals and rate limits, server/access_control.h) are sent as details.

#ifndef SEQUENCER_SERVER_STATUS_CONVERSION_H_
#define SEQUENCER_SERVER_STATUS_CONVERSION_H_

#include <optional>

#include "absl/status/status.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/support/status.h"

namespace sequencer::server {

inline constexpr char kErrorDomain[] = "sequencer.v1";
// Status payloads under this prefix are serialized protobuf messages; they are
// sent as further google.rpc.Status details (only on statuses that carry a
// refusal).
inline constexpr char kProtoTypeUrlPrefix[] = "type.googleapis.com/";

grpc::Status ToGrpcStatus(const absl::Status& status);

// The same status as a google.rpc.Status message, for the per-item answers of
// a batch call: code, message and the details ToGrpcStatus would send (none
// for OK, or for an error that carries neither a refusal nor a field
// violation).
google::rpc::Status ToRpcStatus(const absl::Status& status);

// The field violation a message "<field path>: <description>" names; nullopt
// when the text before ": " is not a field path (letters, digits, _ . [ ] " -).
std::optional<google::rpc::BadRequest::FieldViolation> FieldViolationOf(
    absl::string_view message);

// Reads the BadRequest back from a grpc::Status; nullopt when absent.
std::optional<google::rpc::BadRequest> BadRequestFromGrpcStatus(
    const grpc::Status& status);

// Reads the RetryInfo back from a grpc::Status; nullopt when absent.
std::optional<google::rpc::RetryInfo> RetryInfoFromGrpcStatus(
    const grpc::Status& status);

// Reads the ErrorInfo back from a grpc::Status (for clients and tests); nullopt
// when absent.
std::optional<google::rpc::ErrorInfo> ErrorInfoFromGrpcStatus(
    const grpc::Status& status);

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_STATUS_CONVERSION_H_
