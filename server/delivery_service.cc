#include "server/delivery_service.h"

#include <atomic>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "domain/recipient.h"
#include "domain/refusal.h"
#include "domain/schedule.h"
#include "server/codec.h"
#include "server/recipient_commands.h"
#include "server/status_macros.h"
#include "server/store_layout.h"
#include "server/unary_call.h"

namespace sequencer::server {
namespace {

constexpr size_t kScanChunk = 256;

absl::StatusOr<domain::StepType> Channel(v1::StepType type) {
  SEQ_ASSIGN_OR_RETURN(domain::StepType channel, FromProto("channel", type));
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
  SEQ_ASSIGN_OR_RETURN(absl::Duration value, FromProtoDuration(field, proto));
  if (value < min || value > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": must be between ", absl::FormatDuration(min), " and ",
        absl::FormatDuration(max), ", got ", absl::FormatDuration(value)));
  }
  return value;
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
  params.max =
      request.max_steps() == 0 ? kDefaultLeaseBatch : request.max_steps();
  if (params.max < 0 || params.max > kMaxLeaseBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_steps: must be between 0 and ", kMaxLeaseBatch,
                     ", got ", request.max_steps()));
  }
  SEQ_ASSIGN_OR_RETURN(
      params.lease_duration,
      BoundedDuration("lease_duration", request.lease_duration(),
                      request.has_lease_duration(), kDefaultLeaseDuration,
                      absl::Seconds(1), kMaxLeaseDuration));
  SEQ_ASSIGN_OR_RETURN(
      params.wait, BoundedDuration("wait", request.wait(), request.has_wait(),
                                   absl::ZeroDuration(), absl::ZeroDuration(),
                                   kMaxLeaseWait));
  return params;
}

absl::Status LeaseExpired(absl::string_view token) {
  return domain::RefuseAction(
      absl::StrCat("lease ", token,
                   " is unknown or expired: do not send; the step will be "
                   "offered again"),
      {domain::RefusalReason::kLeaseExpired, {{"action", "BEGIN_SEND"}}});
}

absl::Status ValidateToken(absl::string_view token) {
  if (token.empty() || token.size() > 64) {
    return absl::InvalidArgumentError(
        "lease_token: must be the token LeaseSteps returned");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status DeliveryServiceImpl::TryLease(const std::string& tenant,
                                           domain::StepType channel, int max,
                                           absl::Duration lease_duration,
                                           v1::LeaseStepsResponse* response) {
  const std::string prefix =
      layout::ReadyPrefix(tenant, std::string(domain::StepTypeName(channel)));
  eventstore::EventStore& store = deps_.repository->store();
  // Start at the queue's front: the entries that sends already begun deleted
  // before it cost nothing.
  const QueueFronts::Scan scan = deps_.fronts != nullptr
                                     ? deps_.fronts->BeginScan(prefix)
                                     : QueueFronts::Scan{prefix, "", 0};
  std::string first_live;  // the first entry seen
  bool reached_end = false;
  std::map<std::string, absl::StatusOr<domain::Sequence>> sequences;
  std::string cursor = QueueFronts::StartAfter(prefix, scan.front);
  absl::Status status;
  while (response->leases_size() < max) {
    auto entries = store.ScanIndex(prefix, cursor, kScanChunk);
    if (!entries.ok()) {
      status = entries.status();
      break;
    }
    if (first_live.empty() && !entries->empty()) {
      first_live =
          std::string(layout::QueueEntryOf(entries->front().first, prefix));
    }
    for (const auto& [key, value] : *entries) {
      if (response->leases_size() >= max) break;
      cursor = key;
      // <time>/<sequence>/<recipient>
      std::vector<std::string> parts =
          absl::StrSplit(absl::string_view(key).substr(prefix.size()), '/');
      if (parts.size() != 3) continue;
      const absl::Time now = deps_.clock->Now();
      // A step leased at the recipient's current version stays taken: skip
      // it on the stream's version alone, without folding the recipient.
      if (std::optional<uint64_t> held =
              leases_.HeldVersion(tenant, parts[1], parts[2], now);
          held.has_value()) {
        absl::StatusOr<uint64_t> version = store.StreamVersion(
            layout::RecipientStream(tenant, parts[1], parts[2]));
        if (version.ok() && *version == *held) continue;
      }
      auto cached = sequences.find(parts[1]);
      if (cached == sequences.end()) {
        cached = sequences
                     .emplace(parts[1],
                              deps_.repository->GetSequence(tenant, parts[1]))
                     .first;
      }
      const absl::StatusOr<domain::Sequence>& sequence = cached->second;
      auto recipient =
          deps_.repository->GetRecipient(tenant, parts[1], parts[2]);
      if (!sequence.ok() || !recipient.ok()) continue;
      const domain::RecipientSchedule schedule =
          domain::Schedule(*recipient, *sequence);
      if (schedule.kind != domain::ScheduleKind::kReadyForDelivery) continue;
      const domain::ResolvedStep step =
          domain::ResolveCurrentStep(*recipient, *sequence);
      if (!step.missing_variables.empty()) continue;
      Lease lease{tenant,          parts[1],           parts[2],
                  step.step_index, recipient->version, now + lease_duration};
      std::optional<std::string> token = leases_.TryGrant(lease, now);
      if (!token.has_value()) continue;
      v1::DeliveryLease* out = response->add_leases();
      out->set_lease_token(*token);
      out->set_sequence_id(parts[1]);
      out->set_recipient_id(parts[2]);
      out->set_step_index(step.step_index);
      out->set_channel(ToProto(channel));
      *out->mutable_content() = ToProto(step.content);
      out->mutable_contact()->set_email(recipient->contact.email);
      out->mutable_contact()->set_phone(recipient->contact.phone);
      out->mutable_contact()->set_social_profile(
          recipient->contact.social_profile);
      *out->mutable_due_at() = ToProtoTime(schedule.at);
      *out->mutable_lease_expires_at() = ToProtoTime(lease.expires_at);
    }
    if (entries->size() < kScanChunk) {
      reached_end = true;
      break;
    }
  }
  if (deps_.fronts != nullptr) {
    // Every entry seen stays in the queue (leased ones until their send
    // begins), so the first one seen is the new front.
    deps_.fronts->EndScan(scan, !status.ok()          ? ""
                                : !first_live.empty() ? first_live
                                : reached_end         ? QueueFronts::kEmpty
                                                      : "");
  }
  return status;
}

class DeliveryServiceImpl::LeasePoll final : public grpc::ServerUnaryReactor,
                                             public WaitingPoll {
 public:
  LeasePoll(DeliveryServiceImpl* service, grpc::CallbackServerContext* context,
            const v1::LeaseStepsRequest* request,
            v1::LeaseStepsResponse* response)
      : service_(*service),
        context_(*context),
        request_(*request),
        response_(*response) {
    polls().Opened();
  }

  void Start() { Schedule(); }

  void Resume(PollEnd why) override {
    if (why == PollEnd::kWoken) {
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
  PollRegistry& polls() { return *service_.deps_.polls; }

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
      absl::StatusOr<CallContext> call =
          CallContextFromMetadata(context_.client_metadata());
      absl::StatusOr<LeaseParams> params =
          call.ok() ? ParseLeaseRequest(request_) : call.status();
      if (!params.ok()) {
        Finish(ToGrpcStatus(params.status()));
        return;
      }
      call_ = *std::move(call);
      params_ = *params;
      queue_ = layout::ReadyPrefix(
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
      const absl::Status status =
          service_.TryLease(call_.tenant_id, params_.channel, params_.max,
                            params_.lease_duration, &response_);
      if (!status.ok() || response_.leases_size() > 0 ||
          params_.wait == absl::ZeroDuration()) {
        Finish(ToGrpcStatus(status));
        return;
      }
      if (!headers_sent_) {
        headers_sent_ = true;
        StartSendInitialMetadata();
      }
      switch (polls().Park(this, queue_, seen, deadline_)) {
        case PollRegistry::ParkResult::kParked:
          return;  // `this` may be gone already
        case PollRegistry::ParkResult::kWorkArrived:
          continue;
        case PollRegistry::ParkResult::kExpired:
        case PollRegistry::ParkResult::kShutdown:
          Finish(grpc::Status::OK);
          return;
        case PollRegistry::ParkResult::kCancelled:
          Finish(grpc::Status::CANCELLED);
          return;
      }
    }
  }

  DeliveryServiceImpl& service_;
  grpc::CallbackServerContext& context_;
  const v1::LeaseStepsRequest& request_;
  v1::LeaseStepsResponse& response_;
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

DeliveryServiceImpl::DeliveryServiceImpl(ServiceDeps deps) : deps_(deps) {
  LimitRequestBytes(deps_.budget);
  DecodeRequestsOf("LeaseSteps", &DeliveryServiceImpl::LeaseSteps);
  DecodeRequestsOf("BeginSend", &DeliveryServiceImpl::BeginSend);
  DecodeRequestsOf("ReportDelivery", &DeliveryServiceImpl::ReportDelivery);
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
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        SEQ_RETURN_IF_ERROR(ValidateToken(request->lease_token()));
        SEQ_RETURN_IF_ERROR(ValidateRecipientRef(request->sequence_id(),
                                                 request->recipient_id()));
        const std::string& token = request->lease_token();
        // A retried BeginSend of a send that has begun: answer it again. A
        // recipient deleted since the lease is a revoked lease like any other
        // change (domain::BeginSend), not NOT_FOUND.
        SEQ_ASSIGN_OR_RETURN(domain::Recipient current,
                             deps_.repository->LoadRecipient(
                                 call.tenant_id, request->sequence_id(),
                                 request->recipient_id()));
        if (!current.in_flight_token.empty() &&
            current.in_flight_token == token) {
          const domain::RecipientStep& step =
              current.steps.at(current.current_step);
          if (step.dispatched_content.has_value()) {
            *response->mutable_content() = ToProto(*step.dispatched_content);
          }
          return absl::OkStatus();
        }
        std::optional<Lease> lease = leases_.Find(token, deps_.clock->Now());
        if (!lease.has_value() || lease->tenant != call.tenant_id ||
            lease->sequence_id != request->sequence_id() ||
            lease->recipient_id != request->recipient_id()) {
          return LeaseExpired(token);
        }
        const domain::BeginSend begin{token, lease->recipient_version,
                                      deps_.send_deadline};
        if (!current.exists || current.deleted) {
          // The domain answers LEASE_REVOKED for a recipient that is gone.
          return domain::Decide(begin, current, domain::Sequence{},
                                domain::DecisionContext{})
              .status();
        }
        RecipientCommandRequest command_request;
        command_request.method = "/sequencer.v1.DeliveryService/BeginSend";
        command_request.request_id = absl::StrCat("lease:", token);
        command_request.idempotent = false;
        command_request.sequence_id = request->sequence_id();
        command_request.recipient_id = request->recipient_id();
        SEQ_RETURN_IF_ERROR(RunRecipientCommand(
            deps_, call, command_request, begin,
            [](const CommandOutcome& outcome,
               google::protobuf::Message* message) {
              auto* out = static_cast<v1::BeginSendResponse*>(message);
              for (const auto& event : outcome.events) {
                if (const auto* dispatched =
                        std::get_if<domain::StepDispatched>(&event.payload)) {
                  *out->mutable_content() = ToProto(dispatched->content);
                }
              }
            },
            response));
        leases_.Remove(token);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* DeliveryServiceImpl::ReportDelivery(
    grpc::CallbackServerContext* context,
    const v1::ReportDeliveryRequest* request, v1::Recipient* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        SEQ_RETURN_IF_ERROR(ValidateToken(request->lease_token()));
        domain::ReportDelivery report;
        report.lease_token = request->lease_token();
        report.provider_message_id = request->provider_message_id();
        report.error_message = request->error_message();
        switch (request->outcome()) {
          case v1::DELIVERY_OUTCOME_SENT:
            report.outcome = domain::DeliveryOutcome::kSent;
            break;
          case v1::DELIVERY_OUTCOME_FAILED:
            report.outcome = domain::DeliveryOutcome::kFailed;
            break;
          case v1::DELIVERY_OUTCOME_BOUNCED:
            report.outcome = domain::DeliveryOutcome::kBounced;
            break;
          default:
            return absl::InvalidArgumentError(absl::StrCat(
                "outcome: unknown or unspecified value ", request->outcome()));
        }
        SEQ_RETURN_IF_ERROR(domain::ValidateReportDelivery(report));
        RecipientCommandRequest command_request;
        command_request.method = "/sequencer.v1.DeliveryService/ReportDelivery";
        command_request.request_id =
            absl::StrCat("lease:", request->lease_token());
        command_request.idempotent = false;
        command_request.sequence_id = request->sequence_id();
        command_request.recipient_id = request->recipient_id();
        return RunRecipientCommand(
            deps_, call, command_request, report,
            [](const CommandOutcome& outcome,
               google::protobuf::Message* message) {
              *static_cast<v1::Recipient*>(message) =
                  ToProto(outcome.after, outcome.sequence);
            },
            response);
      });
}

}  // namespace sequencer::server
