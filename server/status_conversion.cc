#include "server/status_conversion.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "domain/refusal.h"
#include "google/rpc/status.pb.h"

namespace sequencer::server {

namespace {

// The first detail of type `Detail` in the status's google.rpc.Status.
template <typename Detail>
std::optional<Detail> DetailOf(const grpc::Status& status) {
  google::rpc::Status details;
  if (status.error_details().empty() ||
      !details.ParseFromString(status.error_details())) {
    return std::nullopt;
  }
  for (const auto& any : details.details()) {
    Detail detail;
    if (any.UnpackTo(&detail)) return detail;
  }
  return std::nullopt;
}

bool IsFieldPathChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         c == '.' || c == '[' || c == ']' || c == '"' || c == '-';
}

}  // namespace

std::optional<google::rpc::BadRequest::FieldViolation> FieldViolationOf(
    absl::string_view message) {
  const size_t colon = message.find(": ");
  if (colon == 0 || colon == absl::string_view::npos) return std::nullopt;
  const absl::string_view field = message.substr(0, colon);
  for (char c : field) {
    if (!IsFieldPathChar(c)) return std::nullopt;
  }
  google::rpc::BadRequest::FieldViolation violation;
  violation.set_field(std::string(field));
  violation.set_description(std::string(message.substr(colon + 2)));
  return violation;
}

google::rpc::Status ToRpcStatus(const absl::Status& status) {
  google::rpc::Status details;
  details.set_code(static_cast<int>(status.code()));
  details.set_message(std::string(status.message()));
  if (status.ok()) return details;
  if (std::optional<domain::Refusal> refusal = domain::GetRefusal(status);
      refusal.has_value()) {
    google::rpc::ErrorInfo info;
    info.set_reason(std::string(domain::RefusalReasonName(refusal->reason)));
    info.set_domain(kErrorDomain);
    for (const auto& [key, value] : refusal->metadata)
      (*info.mutable_metadata())[key] = value;
    details.add_details()->PackFrom(info);
  }
  if (status.code() == absl::StatusCode::kInvalidArgument) {
    if (std::optional<google::rpc::BadRequest::FieldViolation> violation =
            FieldViolationOf(status.message());
        violation.has_value()) {
      google::rpc::BadRequest bad_request;
      *bad_request.add_field_violations() = *std::move(violation);
      details.add_details()->PackFrom(bad_request);
    }
  }
  // Protobuf payloads (type URLs "type.googleapis.com/...", e.g. a
  // sequencer.v1.BulkRefusal) travel as further details.
  status.ForEachPayload(
      [&details](absl::string_view url, const absl::Cord& payload) {
        if (!absl::StartsWith(url, kProtoTypeUrlPrefix)) return;
        google::protobuf::Any* any = details.add_details();
        any->set_type_url(std::string(url));
        any->set_value(std::string(payload));
      });
  return details;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  google::rpc::Status details = ToRpcStatus(status);
  // Only a refusal or a field violation gives a status details; payloads
  // travel only alongside a refusal.
  bool described = false;
  for (const auto& any : details.details()) {
    described |= any.Is<google::rpc::ErrorInfo>() ||
                 any.Is<google::rpc::BadRequest>() ||
                 any.Is<google::rpc::RetryInfo>();
  }
  if (!described) return grpc::Status(code, details.message());
  return grpc::Status(code, details.message(), details.SerializeAsString());
}

std::optional<google::rpc::ErrorInfo> ErrorInfoFromGrpcStatus(
    const grpc::Status& status) {
  return DetailOf<google::rpc::ErrorInfo>(status);
}

std::optional<google::rpc::RetryInfo> RetryInfoFromGrpcStatus(
    const grpc::Status& status) {
  return DetailOf<google::rpc::RetryInfo>(status);
}

std::optional<google::rpc::BadRequest> BadRequestFromGrpcStatus(
    const grpc::Status& status) {
  return DetailOf<google::rpc::BadRequest>(status);
}

}  // namespace sequencer::server
