#include "server/status_conversion.h"

#include <string>

#include "absl/strings/match.h"
#include "domain/refusal.h"
#include "google/rpc/status.pb.h"

namespace sequencer::server {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  const std::string message(status.message());
  std::optional<domain::Refusal> refusal = domain::GetRefusal(status);
  if (!refusal.has_value()) return grpc::Status(code, message);

  google::rpc::ErrorInfo info;
  info.set_reason(refusal->reason);
  info.set_domain(kErrorDomain);
  for (const auto& [key, value] : refusal->metadata)
    (*info.mutable_metadata())[key] = value;
  google::rpc::Status details;
  details.set_code(static_cast<int>(status.code()));
  details.set_message(message);
  details.add_details()->PackFrom(info);
  // Protobuf payloads (type URLs "type.googleapis.com/...", e.g. a
  // sequencer.v1.BulkRefusal) travel as further details.
  status.ForEachPayload(
      [&details](absl::string_view url, const absl::Cord& payload) {
        if (!absl::StartsWith(url, kProtoTypeUrlPrefix)) return;
        google::protobuf::Any* any = details.add_details();
        any->set_type_url(std::string(url));
        any->set_value(std::string(payload));
      });
  return grpc::Status(code, message, details.SerializeAsString());
}

std::optional<google::rpc::ErrorInfo> ErrorInfoFromGrpcStatus(
    const grpc::Status& status) {
  google::rpc::Status details;
  if (status.error_details().empty() ||
      !details.ParseFromString(status.error_details())) {
    return std::nullopt;
  }
  for (const auto& any : details.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) return info;
  }
  return std::nullopt;
}

}  // namespace sequencer::server
