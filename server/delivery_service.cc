#include "server/delivery_service.h"

#include <atomic>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "app/pipeline/command_runner.h"
#include "app/status_macros.h"
#include "app/storage/event_codec.h"
#include "app/storage/store_layout.h"
#include "app/use_cases/delivery.h"
#include "domain/limits.h"
#include "domain/recipient.h"
#include "domain/refusal.h"
#include "server/api_mapping.h"
#include "server/recipient_service.h"
#include "server/respond.h"
#include "server/status_conversion.h"
#include "server/unary_call.h"

namespace sequencer::server {
namespace {

constexpr size_t kScanChunk = 256;

absl::StatusOr<domain::StepType> Channel(v1::StepType type) {
  SEQ_ASSIGN_OR_RETURN(domain::StepType channel,
                       app::FromProto("channel", type));
  if (channel == domain::StepType::kTask) {
    return absl::InvalidArgumentError(
        "channel: TASK steps are manual and never delivered by a worker");
  }
  return channel;
}

absl::StatusOr<absl::Duration> BoundedDuration(
    absl::string_view field, const google::protobuf::Duration& proto,
    bool present, absl::Duration fallback, absl::Duration min,
    absl::Duration max) {
  if (!present) return fallback;
  SEQ_ASSIGN_OR_RETURN(absl::Duration value,
                       app::FromProtoDuration(field, proto));
  if (value < min || value > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": must be between ", absl::FormatDuration(min), " and ",
        absl::FormatDuration(max), ", got ", absl::FormatDuration(value)));
  }
  return value;
}

v1::BeginSendResponse BeginSendResponseOf(const app::BeginSendResult& result) {
  v1::BeginSendResponse out;
  if (result.content.has_value()) {
    *out.mutable_content() = app::ToProto(*result.content);
  }
  return out;
}

// INVALID_ARGUMENT unless a batch call carries 1 to kMaxDeliveryBatch items.
absl::Status ValidateBatchSize(absl::string_view field, int size) {
  if (size < 1 || size > domain::kMaxDeliveryBatch) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must hold 1 to ",
                                                   domain::kMaxDeliveryBatch,
                                                   " items, got ", size));
  }
  return absl::OkStatus();
}

// Fills one item's answer of a batch call: its status, and on OK the single
// call's response (parsed from the recorded bytes). Returns false when the
// item is not OK (the caller then clears the response field).
template <typename Result>
bool FillAnswer(const absl::StatusOr<app::Answered<Result>>& answered,
                google::rpc::Status* status,
                google::protobuf::Message* response) {
  absl::Status outcome = answered.status();
  if (outcome.ok() && !response->ParseFromString(answered->response)) {
    outcome = absl::InternalError(
        "the recorded response does not parse as the method's response");
  }
  *status = ToRpcStatus(outcome);
  return outcome.ok();
}

struct LeaseParams {
  domain::StepType channel = domain::StepType::kEmail;
  int max = 0;
  absl::Duration lease_duration;
  absl::Duration wait;
};

absl::StatusOr<LeaseParams> ParseLeaseRequest(
    const v1::LeaseStepsRequest& request) {
  LeaseParams params;
  SEQ_ASSIGN_OR_RETURN(params.channel, Channel(request.channel()));
  params.max = request.max_steps() == 0 ? domain::kDefaultLeaseBatch
                                        : request.max_steps();
  if (params.max < 0 || params.max > domain::kMaxLeaseBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_steps: must be between 0 and ",
                     domain::kMaxLeaseBatch, ", got ", request.max_steps()));
  }
  SEQ_ASSIGN_OR_RETURN(
      params.lease_duration,
      BoundedDuration("lease_duration", request.lease_duration(),
                      request.has_lease_duration(),
                      domain::kDefaultLeaseDuration, absl::Seconds(1),
                      domain::kMaxLeaseDuration));
  SEQ_ASSIGN_OR_RETURN(
      params.wait, BoundedDuration("wait", request.wait(), request.has_wait(),
                                   absl::ZeroDuration(), absl::ZeroDuration(),
                                   domain::kMaxLeaseWait));
  return params;
}

v1::DeliveryLease DeliveryLeaseOf(const app::LeasedStep& step) {
  v1::DeliveryLease out;
  out.set_lease_token(step.lease_token);
  out.set_sequence_id(step.sequence_id);
  out.set_recipient_id(step.recipient_id);
  out.set_step_index(step.step_index);
  out.set_channel(app::ToProto(step.channel));
  *out.mutable_content() = app::ToProto(step.content);
  out.mutable_contact()->set_email(step.contact.email);
  out.mutable_contact()->set_phone(step.contact.phone);
  out.mutable_contact()->set_social_profile(step.contact.social_profile);
  *out.mutable_due_at() = app::ToProtoTime(step.due_at);
  *out.mutable_lease_expires_at() = app::ToProtoTime(step.lease_expires_at);
  return out;
}

}  // namespace

class DeliveryServiceImpl::LeasePoll final : public grpc::ServerUnaryReactor,
                                             public app::WaitingPoll {
 public:
  LeasePoll(DeliveryServiceImpl* service, grpc::CallbackServerContext* context,
            const v1::LeaseStepsRequest* request,
            v1::LeaseStepsResponse* response)
      : service_(*service),
        context_(*context),
        request_(*request),
        response_(*response),
        admitted_(AdmittedCallContext()) {
    polls().Opened();
  }

  void Start() { Schedule(); }

  void Resume(app::PollEnd why) override {
    if (why == app::PollEnd::kWoken) {
      woken_ = true;
      Schedule();
    } else {
      Finish(grpc::Status::OK);  // the wait is over: no leases
    }
  }

  bool cancelled() const override { return cancelled_.load(); }

  void OnCancel() override {
    cancelled_.store(true);
    if (polls().Remove(this)) Finish(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    polls().Closed();
    delete this;
  }

 private:
  app::PollRegistry& polls() { return *service_.deps_.polls; }

  void Schedule() {
    if (service_.deps_.pool == nullptr) {
      Attempt();
    } else {
      service_.deps_.pool->Schedule([this] { Attempt(); });
    }
  }

  // Runs on the worker pool, one at a time per poll.
  void Attempt() {
    if (!started_) {
      started_ = true;
      absl::StatusOr<CallContext> call = std::move(admitted_);
      absl::StatusOr<LeaseParams> params =
          call.ok() ? ParseLeaseRequest(request_) : call.status();
      if (!params.ok()) {
        Finish(ToGrpcStatus(params.status()));
        return;
      }
      call_ = *std::move(call);
      params_ = *params;
      queue_ = app::layout::ReadyPrefix(
          call_.tenant_id, std::string(domain::StepTypeName(params_.channel)));
      deadline_ = service_.deps_.clock->Now() + params_.wait;
    }
    while (true) {
      if (cancelled()) {
        // A wake-up meant for a poll that can no longer use it goes to
        // another one.
        if (woken_) polls().Notify(queue_, 1);
        Finish(grpc::Status::CANCELLED);
        return;
      }
      woken_ = false;
      const uint64_t seen = polls().Generation(queue_);
      absl::StatusOr<std::vector<app::LeasedStep>> leased =
          service_.delivery_.TryLease(call_.tenant_id, params_.channel,
                                      params_.max, params_.lease_duration);
      if (leased.ok()) {
        for (const app::LeasedStep& step : *leased) {
          *response_.add_leases() = DeliveryLeaseOf(step);
        }
      }
      if (!leased.ok() || response_.leases_size() > 0 ||
          params_.wait == absl::ZeroDuration()) {
        Finish(ToGrpcStatus(leased.status()));
        return;
      }
      if (!headers_sent_) {
        headers_sent_ = true;
        StartSendInitialMetadata();
      }
      switch (polls().Park(this, queue_, seen, deadline_)) {
        case app::PollRegistry::ParkResult::kParked:
          return;  // `this` may be gone already
        case app::PollRegistry::ParkResult::kWorkArrived:
          continue;
        case app::PollRegistry::ParkResult::kExpired:
        case app::PollRegistry::ParkResult::kShutdown:
          Finish(grpc::Status::OK);
          return;
        case app::PollRegistry::ParkResult::kCancelled:
          Finish(grpc::Status::CANCELLED);
          return;
      }
    }
  }

  DeliveryServiceImpl& service_;
  grpc::CallbackServerContext& context_;
  const v1::LeaseStepsRequest& request_;
  v1::LeaseStepsResponse& response_;
  // Taken while the call is being started (AdmittedCallContext).
  absl::StatusOr<CallContext> admitted_;
  std::atomic<bool> cancelled_{false};
  // Used only by Attempt, which runs for one thread at a time.
  bool started_ = false;
  bool woken_ = false;
  bool headers_sent_ = false;
  CallContext call_;
  LeaseParams params_;
  std::string queue_;
  absl::Time deadline_;
};

DeliveryServiceImpl::DeliveryServiceImpl(ServiceDeps deps)
    : deps_(deps), delivery_(deps_) {
  ControlAccess(deps_.access);
  LimitRequestBytes(deps_.budget);
  DecodeRequestsOf("LeaseSteps", &DeliveryServiceImpl::LeaseSteps);
  DecodeRequestsOf("BeginSend", &DeliveryServiceImpl::BeginSend);
  DecodeRequestsOf("ReportDelivery", &DeliveryServiceImpl::ReportDelivery);
  DecodeRequestsOf("BeginSends", &DeliveryServiceImpl::BeginSends);
  DecodeRequestsOf("ReportDeliveries", &DeliveryServiceImpl::ReportDeliveries);
}

grpc::ServerUnaryReactor* DeliveryServiceImpl::LeaseSteps(
    grpc::CallbackServerContext* context, const v1::LeaseStepsRequest* request,
    v1::LeaseStepsResponse* response) {
  auto* poll = new LeasePoll(this, context, request, response);
  poll->Start();
  return poll;
}

grpc::ServerUnaryReactor* DeliveryServiceImpl::BeginSend(
    grpc::CallbackServerContext* context, const v1::BeginSendRequest* request,
    v1::BeginSendResponse* response) {
  return RunUnary(
      context, deps_.pool, [this, request, response](const CallContext& call) {
        return Respond(
            delivery_.BeginSend(call,
                                {request->lease_token(), request->sequence_id(),
                                 request->recipient_id()},
                                EncodeWith<app::BeginSendResult>(
                                    BeginSendResponseOf, response)),
            response);
      });
}

grpc::ServerUnaryReactor* DeliveryServiceImpl::ReportDelivery(
    grpc::CallbackServerContext* context,
    const v1::ReportDeliveryRequest* request, v1::Recipient* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        SEQ_ASSIGN_OR_RETURN(app::ReportDeliveryRequest report,
                             ReportFromProto(*request));
        return Respond(
            delivery_.ReportDelivery(call, report, EncodeRecipient(response)),
            response);
      });
}

grpc::ServerUnaryReactor* DeliveryServiceImpl::BeginSends(
    grpc::CallbackServerContext* context, const v1::BeginSendsRequest* request,
    v1::BeginSendsResponse* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        SEQ_RETURN_IF_ERROR(ValidateBatchSize("sends", request->sends_size()));
        std::vector<app::BeginSendRequest> sends;
        sends.reserve(request->sends_size());
        for (const v1::BeginSendRequest& send : request->sends()) {
          sends.push_back(
              {send.lease_token(), send.sequence_id(), send.recipient_id()});
        }
        const auto answers = delivery_.BeginSends(
            call, sends, EncodeWith<app::BeginSendResult>(BeginSendResponseOf));
        for (const auto& answered : answers) {
          v1::BeginSendAnswer* answer = response->add_answers();
          if (!FillAnswer(answered, answer->mutable_status(),
                          answer->mutable_response())) {
            answer->clear_response();
          }
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* DeliveryServiceImpl::ReportDeliveries(
    grpc::CallbackServerContext* context,
    const v1::ReportDeliveriesRequest* request,
    v1::ReportDeliveriesResponse* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        SEQ_RETURN_IF_ERROR(
            ValidateBatchSize("reports", request->reports_size()));
        std::vector<absl::StatusOr<app::ReportDeliveryRequest>> reports;
        reports.reserve(request->reports_size());
        for (const v1::ReportDeliveryRequest& report : request->reports()) {
          reports.push_back(ReportFromProto(report));
        }
        const auto answers =
            delivery_.ReportDeliveries(call, reports, EncodeRecipient(nullptr));
        for (const auto& answered : answers) {
          v1::ReportDeliveryAnswer* answer = response->add_answers();
          if (!FillAnswer(answered, answer->mutable_status(),
                          answer->mutable_recipient())) {
            answer->clear_recipient();
          }
        }
        return absl::OkStatus();
      });
}

}  // namespace sequencer::server
