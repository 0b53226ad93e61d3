#include "server/audit_service.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "app/status_macros.h"
#include "app/storage/event_codec.h"
#include "app/use_cases/audit.h"
#include "server/api_mapping.h"

namespace sequencer::server {
namespace {

// The range google.protobuf.Timestamp allows: 0001-01-01 to 9999-12-31.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

absl::StatusOr<absl::Time> TimeFromApi(absl::string_view field,
                                       const google::protobuf::Timestamp& t) {
  if (t.seconds() < kMinTimestampSeconds ||
      t.seconds() > kMaxTimestampSeconds || t.nanos() < 0 ||
      t.nanos() > 999999999) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": not a valid timestamp (seconds ", t.seconds(),
                     ", nanos ", t.nanos(), ")"));
  }
  return app::FromProtoTime(t);
}

}  // namespace

AuditServiceImpl::AuditServiceImpl(ServiceDeps deps) : deps_(deps) {
  ControlAccess(deps_.access);
  LimitRequestBytes(deps_.budget);
  DecodeRequestsOf("GetRecipientAsOf", &AuditServiceImpl::GetRecipientAsOf);
  DecodeRequestsOf("ReadEvents", &AuditServiceImpl::ReadEvents);
}

grpc::ServerUnaryReactor* AuditServiceImpl::GetRecipientAsOf(
    grpc::CallbackServerContext* context,
    const v1::GetRecipientAsOfRequest* request, v1::RecipientAsOf* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        app::AsOfRequest as_of;
        as_of.sequence_id = request->sequence_id();
        as_of.recipient_id = request->recipient_id();
        if (request->has_as_of()) {
          SEQ_ASSIGN_OR_RETURN(as_of.as_of,
                               TimeFromApi("as_of", request->as_of()));
        } else if (request->point_case() ==
                   v1::GetRecipientAsOfRequest::kVersion) {
          as_of.version = request->version();
        }
        SEQ_ASSIGN_OR_RETURN(app::RecipientAsOf result,
                             app::GetRecipientAsOf(deps_, call, as_of));
        *response->mutable_recipient() =
            ToApi(result.recipient, result.sequence);
        v1::RecipientContent* content = response->mutable_content();
        content->set_sequence_id(result.recipient.sequence_id);
        content->set_recipient_id(result.recipient.recipient_id);
        content->set_status(app::ToProto(result.recipient.status));
        for (const domain::StepView& step : result.steps) {
          *content->add_steps() = ToApi(step);
        }
        response->set_version(result.version);
        *response->mutable_last_event_at() =
            app::ToProtoTime(result.last_event_at);
        *response->mutable_as_of() = app::ToProtoTime(result.as_of);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AuditServiceImpl::ReadEvents(
    grpc::CallbackServerContext* context, const v1::ReadEventsRequest* request,
    v1::ReadEventsResponse* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        SEQ_ASSIGN_OR_RETURN(
            app::EventPage page,
            app::ReadEvents(deps_, call, request->from_position(),
                            request->limit()));
        for (app::LoggedEvent& logged : page.events) {
          v1::LoggedEvent* out = response->add_events();
          out->set_position(logged.stored.position);
          out->set_stream(std::move(logged.stored.stream));
          out->set_version(logged.stored.version);
          out->set_sequence_id(std::move(logged.sequence_id));
          out->set_recipient_id(std::move(logged.recipient_id));
          *out->mutable_event() = std::move(logged.event);
        }
        response->set_next_position(page.next_position);
        response->set_last_position(page.last_position);
        return absl::OkStatus();
      });
}

}  // namespace sequencer::server
