#include "server/recipient_service.h"

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "app/pipeline/command_runner.h"
#include "app/pipeline/idempotency.h"
#include "app/status_macros.h"
#include "app/storage/event_codec.h"
#include "app/storage/store_layout.h"
#include "app/use_cases/bulk_actions.h"
#include "app/use_cases/enrollment.h"
#include "app/use_cases/recipient_queries.h"
#include "domain/limits.h"
#include "domain/recipient.h"
#include "domain/refusal.h"
#include "domain/sequence.h"
#include "server/api_mapping.h"
#include "server/respond.h"
#include "server/status_conversion.h"
#include "server/unary_call.h"

namespace sequencer::server {
namespace {

constexpr char kService[] = "/sequencer.v1.RecipientService/";

template <typename Request>
app::RecipientCommandRequest MakeCommandRequest(absl::string_view method,
                                                const Request& request) {
  app::RecipientCommandRequest out;
  out.identity = {absl::StrCat(kService, method), request.request_id(),
                  app::RequestFingerprint(request)};
  out.sequence_id = request.sequence_id();
  out.recipient_id = request.recipient_id();
  if constexpr (!std::is_same_v<Request, v1::RecordSignalRequest>) {
    if (request.has_expected_version()) {
      out.expected_version = request.expected_version();
    }
  }
  return out;
}

app::RecipientRef RefOf(const v1::GetRecipientRequest& request) {
  return {request.sequence_id(), request.recipient_id()};
}

v1::BulkOffender OffenderToProto(const domain::BulkOffender& offender) {
  v1::BulkOffender out;
  out.set_recipient_id(offender.recipient_id);
  if (offender.exists) out.set_status(app::ToProto(offender.status));
  out.set_reason(std::string(domain::RefusalReasonName(offender.reason)));
  out.set_message(offender.message);
  return out;
}

}  // namespace

app::ResponseEncoder<app::CommandOutcome> EncodeRecipient(
    v1::Recipient* response) {
  return EncodeWith<app::CommandOutcome>(
      [](const app::CommandOutcome& o) { return ToApi(o.after, o.sequence); },
      response);
}

RecipientServiceImpl::RecipientServiceImpl(ServiceDeps deps) : deps_(deps) {
  ControlAccess(deps_.access);
  LimitRequestBytes(deps_.budget);
  DecodeRequestsOf("EnrollRecipients", &RecipientServiceImpl::EnrollRecipients);
  DecodeRequestsOf("GetRecipient", &RecipientServiceImpl::GetRecipient);
  DecodeRequestsOf("ListRecipients", &RecipientServiceImpl::ListRecipients);
  DecodeRequestsOf("PauseRecipient", &RecipientServiceImpl::PauseRecipient);
  DecodeRequestsOf("ResumeRecipient", &RecipientServiceImpl::ResumeRecipient);
  DecodeRequestsOf("PreviewSkipStep", &RecipientServiceImpl::PreviewSkipStep);
  DecodeRequestsOf("SkipStep", &RecipientServiceImpl::SkipStep);
  DecodeRequestsOf("EditContent", &RecipientServiceImpl::EditContent);
  DecodeRequestsOf("ViewContent", &RecipientServiceImpl::ViewContent);
  DecodeRequestsOf("StopRecipient", &RecipientServiceImpl::StopRecipient);
  DecodeRequestsOf("DeleteRecipient", &RecipientServiceImpl::DeleteRecipient);
  DecodeRequestsOf("CompleteManualStep",
                   &RecipientServiceImpl::CompleteManualStep);
  DecodeRequestsOf("RecordSignal", &RecipientServiceImpl::RecordSignal);
  DecodeRequestsOf("GetRecipientTimeline",
                   &RecipientServiceImpl::GetRecipientTimeline);
  DecodeRequestsOf("BulkAction", &RecipientServiceImpl::BulkAction);
}

absl::StatusOr<int> PageSize(int requested) {
  if (requested == 0) return domain::kDefaultPageSize;
  if (requested < 0 || requested > domain::kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must be between 0 and ", domain::kMaxPageSize,
                     ", got ", requested));
  }
  return requested;
}

grpc::ServerUnaryReactor* RecipientServiceImpl::EnrollRecipients(
    grpc::CallbackServerContext* context,
    const v1::EnrollRecipientsRequest* request,
    v1::EnrollRecipientsResponse* response) {
  return RunUnary(
      context, deps_.pool, [this, request, response](const CallContext& call) {
        app::EnrollRequest enroll;
        enroll.identity = {absl::StrCat(kService, "EnrollRecipients"),
                           request->request_id(),
                           app::RequestFingerprint(*request)};
        enroll.sequence_id = request->sequence_id();
        enroll.recipients.reserve(request->recipients_size());
        for (const v1::RecipientInput& input : request->recipients()) {
          domain::EnrollRecipient& command = enroll.recipients.emplace_back();
          command.recipient_id = input.recipient_id();
          command.contact = {input.contact().email(), input.contact().phone(),
                             input.contact().social_profile()};
          command.variables.insert(input.variables().begin(),
                                   input.variables().end());
        }
        return Respond(app::EnrollRecipients(
                           deps_, call, enroll,
                           EncodeWith<app::EnrollResult>(
                               [](const app::EnrollResult& r) {
                                 v1::EnrollRecipientsResponse out;
                                 out.set_enrolled_count(r.enrolled_count);
                                 return out;
                               },
                               response)),
                       response);
      });
}

grpc::ServerUnaryReactor* RecipientServiceImpl::GetRecipient(
    grpc::CallbackServerContext* context,
    const v1::GetRecipientRequest* request, v1::Recipient* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        SEQ_ASSIGN_OR_RETURN(app::RecipientView view,
                             app::GetRecipient(deps_, call, RefOf(*request)));
        *response = ToApi(view.recipient, view.sequence);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* RecipientServiceImpl::ListRecipients(
    grpc::CallbackServerContext* context,
    const v1::ListRecipientsRequest* request,
    v1::ListRecipientsResponse* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        SEQ_RETURN_IF_ERROR(
            domain::ValidateId("sequence_id", request->sequence_id()));
        SEQ_ASSIGN_OR_RETURN(int page_size, PageSize(request->page_size()));
        if (!request->page_token().empty()) {
          SEQ_RETURN_IF_ERROR(
              domain::ValidateId("page_token", request->page_token()));
        }
        std::set<domain::RecipientStatus> statuses;
        for (int i = 0; i < request->statuses_size(); ++i) {
          SEQ_ASSIGN_OR_RETURN(domain::RecipientStatus status,
                               app::FromProto(absl::StrCat("statuses[", i, "]"),
                                              static_cast<v1::RecipientStatus>(
                                                  request->statuses(i))));
          statuses.insert(status);
        }
        SEQ_ASSIGN_OR_RETURN(
            app::RecipientPage page,
            app::ListRecipients(deps_, call, request->sequence_id(), statuses,
                                request->page_token(), page_size));
        for (const domain::Recipient& recipient : page.recipients) {
          *response->add_recipients() = ToApi(recipient, page.sequence);
        }
        response->set_next_page_token(page.next_after);
        return absl::OkStatus();
      });
}

template <typename Request>
grpc::ServerUnaryReactor* RecipientServiceImpl::Act(
    grpc::CallbackServerContext* context, const char* method,
    const Request* request, domain::RecipientCommand command,
    v1::Recipient* response) {
  return RunUnary(context, deps_.pool,
                  [this, method, request, response,
                   command = std::move(command)](const CallContext& call) {
                    return Respond(
                        app::CommandRunner(deps_).RunRecipient(
                            call, MakeCommandRequest(method, *request), command,
                            EncodeRecipient(response)),
                        response);
                  });
}

grpc::ServerUnaryReactor* RecipientServiceImpl::PauseRecipient(
    grpc::CallbackServerContext* context,
    const v1::RecipientActionRequest* request, v1::Recipient* response) {
  return Act(context, "PauseRecipient", request, domain::PauseRecipient{},
             response);
}

grpc::ServerUnaryReactor* RecipientServiceImpl::ResumeRecipient(
    grpc::CallbackServerContext* context,
    const v1::RecipientActionRequest* request, v1::Recipient* response) {
  return Act(context, "ResumeRecipient", request, domain::ResumeRecipient{},
             response);
}

grpc::ServerUnaryReactor* RecipientServiceImpl::SkipStep(
    grpc::CallbackServerContext* context,
    const v1::RecipientActionRequest* request, v1::Recipient* response) {
  return Act(context, "SkipStep", request, domain::SkipStep{}, response);
}

grpc::ServerUnaryReactor* RecipientServiceImpl::EditContent(
    grpc::CallbackServerContext* context, const v1::EditContentRequest* request,
    v1::Recipient* response) {
  return Act(context, "EditContent", request,
             domain::EditContent{request->step_index(),
                                 app::FromProto(request->edit())},
             response);
}

grpc::ServerUnaryReactor* RecipientServiceImpl::StopRecipient(
    grpc::CallbackServerContext* context,
    const v1::RecipientActionRequest* request, v1::Recipient* response) {
  return Act(context, "StopRecipient", request, domain::StopRecipient{},
             response);
}

grpc::ServerUnaryReactor* RecipientServiceImpl::DeleteRecipient(
    grpc::CallbackServerContext* context,
    const v1::RecipientActionRequest* request,
    v1::DeleteRecipientResponse* response) {
  return RunUnary(
      context, deps_.pool, [this, request, response](const CallContext& call) {
        auto deleted = [&call](const app::CommandOutcome& outcome) {
          v1::DeleteRecipientResponse out;
          out.set_sequence_id(outcome.after.sequence_id);
          out.set_recipient_id(outcome.after.recipient_id);
          *out.mutable_deleted_at() =
              app::ToProtoTime(outcome.after.updated_at);
          out.set_deleted_by(call.actor);
          return out;
        };
        return Respond(
            app::CommandRunner(deps_).RunRecipient(
                call, MakeCommandRequest("DeleteRecipient", *request),
                domain::DeleteRecipient{},
                EncodeWith<app::CommandOutcome>(deleted, response)),
            response);
      });
}

grpc::ServerUnaryReactor* RecipientServiceImpl::CompleteManualStep(
    grpc::CallbackServerContext* context,
    const v1::CompleteManualStepRequest* request, v1::Recipient* response) {
  domain::CompleteManualStep command;
  if (request->has_step_index()) command.step_index = request->step_index();
  return Act(context, "CompleteManualStep", request, command, response);
}

grpc::ServerUnaryReactor* RecipientServiceImpl::RecordSignal(
    grpc::CallbackServerContext* context,
    const v1::RecordSignalRequest* request, v1::Recipient* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        SEQ_ASSIGN_OR_RETURN(domain::SignalType signal,
                             app::FromProto("signal", request->signal()));
        return Respond(app::CommandRunner(deps_).RunRecipient(
                           call, MakeCommandRequest("RecordSignal", *request),
                           domain::RecordSignal{signal, request->detail()},
                           EncodeRecipient(response)),
                       response);
      });
}

grpc::ServerUnaryReactor* RecipientServiceImpl::PreviewSkipStep(
    grpc::CallbackServerContext* context,
    const v1::GetRecipientRequest* request, v1::SkipPreview* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        SEQ_ASSIGN_OR_RETURN(domain::SkipPreview preview,
                             app::PreviewSkip(deps_, call, RefOf(*request)));
        response->set_skipped_step_index(preview.skipped_step_index);
        response->set_finishes(preview.finishes);
        if (preview.next_step.has_value()) {
          const v1::StepView view = ToApi(*preview.next_step);
          v1::StepPreview* next = response->mutable_next_step();
          next->set_step_index(view.step_index());
          next->set_type(view.type());
          next->set_mode(view.mode());
          *next->mutable_content() = view.content();
          *next->mutable_missing_variables() = view.missing_variables();
          if (view.has_due_at()) *next->mutable_due_at() = view.due_at();
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* RecipientServiceImpl::ViewContent(
    grpc::CallbackServerContext* context,
    const v1::GetRecipientRequest* request, v1::RecipientContent* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        SEQ_ASSIGN_OR_RETURN(app::RecipientView view,
                             app::GetRecipient(deps_, call, RefOf(*request)));
        SEQ_ASSIGN_OR_RETURN(std::vector<domain::StepView> steps,
                             app::ViewContent(deps_, call, RefOf(*request)));
        response->set_sequence_id(view.recipient.sequence_id);
        response->set_recipient_id(view.recipient.recipient_id);
        response->set_status(app::ToProto(view.recipient.status));
        for (const auto& step : steps) {
          *response->add_steps() = ToApi(step);
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* RecipientServiceImpl::GetRecipientTimeline(
    grpc::CallbackServerContext* context,
    const v1::GetRecipientRequest* request, v1::RecipientTimeline* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        SEQ_ASSIGN_OR_RETURN(auto events,
                             app::GetTimeline(deps_, call, RefOf(*request)));
        for (auto& [stored, event] : events) {
          v1::TimelineEntry* entry = response->add_entries();
          entry->set_version(stored.version);
          entry->set_position(stored.position);
          *entry->mutable_event() = std::move(event);
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* RecipientServiceImpl::BulkAction(
    grpc::CallbackServerContext* context, const v1::BulkActionRequest* request,
    v1::BulkActionResponse* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        app::BulkActionRequest bulk;
        bulk.identity = {absl::StrCat(kService, "BulkAction"),
                         request->request_id(),
                         app::RequestFingerprint(*request)};
        bulk.sequence_id = request->sequence_id();
        bulk.recipient_ids.assign(request->recipient_ids().begin(),
                                  request->recipient_ids().end());
        bulk.confirmation_token = request->confirmation_token();
        bulk.validate_only = request->validate_only();
        SEQ_RETURN_IF_ERROR(
            domain::ValidateId("request_id", request->request_id()));
        SEQ_RETURN_IF_ERROR(
            domain::ValidateId("sequence_id", request->sequence_id()));
        SEQ_ASSIGN_OR_RETURN(bulk.action,
                             BulkActionFromProto(request->action()));
        if (bulk.action == domain::BulkAction::kEditContent ||
            request->has_edit() || request->step_index() != 0) {
          bulk.edit = domain::EditContent{request->step_index(),
                                          app::FromProto(request->edit())};
        }
        const v1::BulkActionType action = request->action();
        return Respond(
            app::RunBulkAction(
                deps_, call, bulk,
                EncodeWith<app::BulkActionResult>(
                    [action](const app::BulkActionResult& result) {
                      v1::BulkActionResponse out;
                      out.set_applied(result.applied);
                      out.set_affected_count(result.affected_count);
                      for (const auto& offender : result.offenders) {
                        *out.add_offenders() = OffenderToProto(offender);
                      }
                      if (result.confirmation.has_value()) {
                        const app::BulkConfirmation& c = *result.confirmation;
                        v1::BulkConfirmation* confirmation =
                            out.mutable_confirmation();
                        confirmation->set_token(c.token);
                        confirmation->set_action(action);
                        confirmation->set_count(c.count);
                        for (const auto& [status, n] : c.count_by_status) {
                          (*confirmation->mutable_count_by_status())[status] =
                              n;
                        }
                        *confirmation->mutable_expires_at() =
                            app::ToProtoTime(c.expires_at);
                      }
                      return out;
                    },
                    response)),
            response);
      });
}

}  // namespace sequencer::server
