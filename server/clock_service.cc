#include "server/clock_service.h"

#include "app/status_macros.h"
#include "app/storage/event_codec.h"
#include "server/unary_call.h"

namespace sequencer::server {

ClockServiceImpl::ClockServiceImpl(app::ManualClock* clock,
                                   app::Scheduler* scheduler,
                                   app::PollRegistry* polls,
                                   AccessControl* access)
    : clock_(*clock), scheduler_(*scheduler), polls_(*polls) {
  ControlAccess(access);
  DecodeRequestsOf("GetTime", &ClockServiceImpl::GetTime);
  DecodeRequestsOf("AdvanceTime", &ClockServiceImpl::AdvanceTime);
}

grpc::ServerUnaryReactor* ClockServiceImpl::GetTime(
    grpc::CallbackServerContext* context, const v1::GetTimeRequest* request,
    v1::TimeResponse* response) {
  return RunUnary(context, nullptr, [this, response](const CallContext&) {
    *response->mutable_now() = app::ToProtoTime(clock_.Now());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ClockServiceImpl::AdvanceTime(
    grpc::CallbackServerContext* context, const v1::AdvanceTimeRequest* request,
    v1::TimeResponse* response) {
  return RunUnary(
      context, nullptr,
      [this, request, response](const CallContext&) -> absl::Status {
        SEQ_ASSIGN_OR_RETURN(absl::Duration by,
                             app::FromProtoDuration("by", request->by()));
        if (by < absl::ZeroDuration()) {
          return absl::InvalidArgumentError("by: time only moves forward");
        }
        *response->mutable_now() = app::ToProtoTime(clock_.Advance(by));
        SEQ_RETURN_IF_ERROR(scheduler_.RunDue().status());
        polls_.ExpireDue();
        return absl::OkStatus();
      });
}

}  // namespace sequencer::server
