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
#include "app/storage/codec.h"
#include "app/storage/store_layout.h"
#include "app/use_cases/bulk_actions.h"
#include "domain/recipient.h"
#include "domain/refusal.h"
#include "domain/sequence.h"
#include "server/status_conversion.h"
#include "server/unary_call.h"

namespace sequencer::server {
namespace {

constexpr char kService[] = "/sequencer.v1.RecipientService/";

template <typename Request>
app::RecipientCommandRequest MakeCommandRequest(absl::string_view method,
                                                const Request& request) {
  app::RecipientCommandRequest out;
  out.method = absl::StrCat(kService, method);
  out.request_id = request.request_id();
  out.sequence_id = request.sequence_id();
  out.recipient_id = request.recipient_id();
  if constexpr (std::is_same_v<Request, v1::RecordSignalRequest>) {
  } else {
    if (request.has_expected_version()) {
      out.expected_version = request.expected_version();
    }
  }
  out.fingerprint = app::RequestFingerprint(request);
  return out;
}

struct RecipientRead {
  domain::Sequence sequence;
  domain::Recipient recipient;
};

// The common start of every read of one recipient.
absl::StatusOr<RecipientRead> ReadRecipient(
    const ServiceDeps& deps, const CallContext& call,
    const v1::GetRecipientRequest& request) {
  SEQ_RETURN_IF_ERROR(
      app::ValidateRecipientRef(request.sequence_id(), request.recipient_id()));
  RecipientRead read;
  SEQ_ASSIGN_OR_RETURN(
      read.sequence,
      deps.repository->GetSequence(call.tenant_id, request.sequence_id()));
  SEQ_ASSIGN_OR_RETURN(
      read.recipient,
      deps.repository->GetRecipient(call.tenant_id, request.sequence_id(),
                                    request.recipient_id()));
  return read;
}

void RespondRecipient(const app::CommandOutcome& outcome,
                      google::protobuf::Message* response) {
  *static_cast<v1::Recipient*>(response) =
      app::ToProto(outcome.after, outcome.sequence);
}

}  // namespace

RecipientServiceImpl::RecipientServiceImpl(ServiceDeps deps) : deps_(deps) {
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
  if (requested == 0) return kDefaultPageSize;
  if (requested < 0 || requested > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must be between 0 and ", kMaxPageSize,
                     ", got ", requested));
  }
  return requested;
}

grpc::ServerUnaryReactor* RecipientServiceImpl::EnrollRecipients(
    grpc::CallbackServerContext* context,
    const v1::EnrollRecipientsRequest* request,
    v1::EnrollRecipientsResponse* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        const std::string method = absl::StrCat(kService, "EnrollRecipients");
        SEQ_RETURN_IF_ERROR(
            domain::ValidateId("request_id", request->request_id()));
        SEQ_RETURN_IF_ERROR(
            domain::ValidateId("sequence_id", request->sequence_id()));
        const int count = request->recipients_size();
        if (count == 0)
          return absl::InvalidArgumentError(
              "recipients: at least one is required");
        if (count > kMaxEnrollBatch) {
          return absl::ResourceExhaustedError(
              absl::StrCat("recipients: at most ", kMaxEnrollBatch,
                           " per call, got ", count));
        }
        std::set<absl::string_view> seen;
        for (int i = 0; i < count; ++i) {
          const std::string& id = request->recipients(i).recipient_id();
          SEQ_RETURN_IF_ERROR(domain::ValidateId(
              absl::StrCat("recipients[", i, "].recipient_id"), id));
          if (!seen.insert(id).second) {
            return absl::AlreadyExistsError(
                absl::StrCat("recipients[", i, "].recipient_id: \"", id,
                             "\" appears more than once in the request"));
          }
        }
        const uint64_t fingerprint = app::RequestFingerprint(*request);
        eventstore::EventStore& store = deps_.repository->store();
        // The sequence's key: a sequence pause (which takes every lock)
        // cannot interleave with an enrollment that read it as running.
        app::LockTable::Guard guard = deps_.locks->Lock(
            {app::layout::IdempotencyKey(call.tenant_id, request->request_id()),
             app::layout::SequenceStream(call.tenant_id,
                                         request->sequence_id())});
        SEQ_ASSIGN_OR_RETURN(bool replayed,
                             app::LoadPreviousOutcome(
                                 store, call.tenant_id, request->request_id(),
                                 method, fingerprint, response));
        if (replayed) return absl::OkStatus();
        SEQ_ASSIGN_OR_RETURN(domain::Sequence sequence,
                             deps_.repository->GetSequence(
                                 call.tenant_id, request->sequence_id()));

        const domain::DecisionContext decision{call.tenant_id, call.actor,
                                               request->request_id(),
                                               deps_.clock->Now()};
        eventstore::CommitBatch batch;
        batch.appends.reserve(count);
        for (int i = 0; i < count; ++i) {
          const v1::RecipientInput& input = request->recipients(i);
          const std::string stream = app::layout::RecipientStream(
              call.tenant_id, request->sequence_id(), input.recipient_id());
          SEQ_ASSIGN_OR_RETURN(uint64_t version, store.StreamVersion(stream));
          if (version != 0) {
            return absl::AlreadyExistsError(absl::StrCat(
                "recipients[", i, "]: recipient \"", input.recipient_id(),
                "\" is already enrolled in sequence \"", request->sequence_id(),
                "\" (or was, and was deleted)"));
          }
          domain::EnrollRecipient command;
          command.recipient_id = input.recipient_id();
          command.contact = {input.contact().email(), input.contact().phone(),
                             input.contact().social_profile()};
          command.variables.insert(input.variables().begin(),
                                   input.variables().end());
          auto events = domain::DecideEnroll(command, sequence,
                                             domain::Recipient{}, decision);
          if (!events.ok()) {
            // "recipients[3].variables: ..." for a field of the recipient,
            // "recipients[3]: ..." otherwise.
            const absl::string_view message = events.status().message();
            return absl::Status(
                events.status().code(),
                absl::StrCat("recipients[", i, "]",
                             FieldViolationOf(message).has_value() ? "." : ": ",
                             message));
          }
          app::AddRecipientEvents(call.tenant_id, request->sequence_id(),
                                  input.recipient_id(), domain::Recipient{},
                                  *events, sequence, &batch);
        }
        response->set_enrolled_count(count);
        batch.index_writes.push_back(
            app::OutcomeRecord(call.tenant_id, request->request_id(), method,
                               fingerprint, *response));
        absl::Status committed = app::CommitAndNotify(deps_, batch);
        if (absl::IsAborted(committed)) {
          return absl::AlreadyExistsError(absl::StrCat(
              "a recipient of this request was enrolled concurrently; "
              "nobody was enrolled: ",
              committed.message()));
        }
        return committed;
      });
}

grpc::ServerUnaryReactor* RecipientServiceImpl::GetRecipient(
    grpc::CallbackServerContext* context,
    const v1::GetRecipientRequest* request, v1::Recipient* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        SEQ_ASSIGN_OR_RETURN(RecipientRead read,
                             ReadRecipient(deps_, call, *request));
        const domain::Sequence& sequence = read.sequence;
        const domain::Recipient& recipient = read.recipient;
        *response = app::ToProto(recipient, sequence);
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
        const std::string& after = request->page_token();
        if (!after.empty()) {
          SEQ_RETURN_IF_ERROR(domain::ValidateId("page_token", after));
        }
        std::set<domain::RecipientStatus> statuses;
        for (int i = 0; i < request->statuses_size(); ++i) {
          SEQ_ASSIGN_OR_RETURN(domain::RecipientStatus status,
                               app::FromProto(absl::StrCat("statuses[", i, "]"),
                                              static_cast<v1::RecipientStatus>(
                                                  request->statuses(i))));
          statuses.insert(status);
        }
        SEQ_ASSIGN_OR_RETURN(domain::Sequence sequence,
                             deps_.repository->GetSequence(
                                 call.tenant_id, request->sequence_id()));
        eventstore::EventStore& store = deps_.repository->store();

        // One ordered scan per prefix (all recipients, or each wanted status),
        // merged by id.
        std::vector<std::string> prefixes;
        if (statuses.empty()) {
          prefixes.push_back(app::layout::RecipientListPrefix(
              call.tenant_id, request->sequence_id()));
        } else {
          for (auto status : statuses) {
            prefixes.push_back(app::layout::StatusIndexPrefix(
                call.tenant_id, request->sequence_id(),
                app::layout::StatusKey(status)));
          }
        }
        std::vector<std::string> ids;
        for (const auto& prefix : prefixes) {
          const std::string start_after =
              after.empty() ? "" : absl::StrCat(prefix, after);
          SEQ_ASSIGN_OR_RETURN(
              auto entries,
              store.ScanIndex(prefix, start_after, page_size + 1));
          for (const auto& [key, value] : entries)
            ids.push_back(key.substr(prefix.size()));
        }
        std::sort(ids.begin(), ids.end());
        const bool more = static_cast<int>(ids.size()) > page_size;
        if (more) ids.resize(page_size);
        for (const auto& id : ids) {
          SEQ_ASSIGN_OR_RETURN(domain::Recipient recipient,
                               deps_.repository->GetRecipient(
                                   call.tenant_id, request->sequence_id(), id));
          *response->add_recipients() = app::ToProto(recipient, sequence);
        }
        if (more) response->set_next_page_token(ids.back());
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
                    return app::RunRecipientCommand(
                        deps_, call, MakeCommandRequest(method, *request),
                        command, RespondRecipient, response);
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
        auto respond = [&call](const app::CommandOutcome& outcome,
                               google::protobuf::Message* message) {
          auto* out = static_cast<v1::DeleteRecipientResponse*>(message);
          out->set_sequence_id(outcome.after.sequence_id);
          out->set_recipient_id(outcome.after.recipient_id);
          *out->mutable_deleted_at() =
              app::ToProtoTime(outcome.after.updated_at);
          out->set_deleted_by(call.actor);
        };
        return app::RunRecipientCommand(
            deps_, call, MakeCommandRequest("DeleteRecipient", *request),
            domain::DeleteRecipient{}, respond, response);
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
        return app::RunRecipientCommand(
            deps_, call, MakeCommandRequest("RecordSignal", *request),
            domain::RecordSignal{signal, request->detail()}, RespondRecipient,
            response);
      });
}

grpc::ServerUnaryReactor* RecipientServiceImpl::PreviewSkipStep(
    grpc::CallbackServerContext* context,
    const v1::GetRecipientRequest* request, v1::SkipPreview* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        SEQ_ASSIGN_OR_RETURN(RecipientRead read,
                             ReadRecipient(deps_, call, *request));
        const domain::Sequence& sequence = read.sequence;
        const domain::Recipient& recipient = read.recipient;
        SEQ_ASSIGN_OR_RETURN(
            domain::SkipPreview preview,
            domain::PreviewSkip(recipient, sequence, deps_.clock->Now()));
        response->set_skipped_step_index(preview.skipped_step_index);
        response->set_finishes(preview.finishes);
        if (preview.next_step.has_value()) {
          const v1::StepView view = app::ToProto(*preview.next_step);
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
        SEQ_ASSIGN_OR_RETURN(RecipientRead read,
                             ReadRecipient(deps_, call, *request));
        const domain::Sequence& sequence = read.sequence;
        const domain::Recipient& recipient = read.recipient;
        SEQ_ASSIGN_OR_RETURN(
            std::vector<domain::StepView> steps,
            domain::ViewContent(recipient, sequence, deps_.clock->Now()));
        response->set_sequence_id(recipient.sequence_id);
        response->set_recipient_id(recipient.recipient_id);
        response->set_status(app::ToProto(recipient.status));
        for (const auto& step : steps)
          *response->add_steps() = app::ToProto(step);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* RecipientServiceImpl::GetRecipientTimeline(
    grpc::CallbackServerContext* context,
    const v1::GetRecipientRequest* request, v1::RecipientTimeline* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        SEQ_RETURN_IF_ERROR(ReadRecipient(deps_, call, *request).status());
        SEQ_ASSIGN_OR_RETURN(auto events,
                             deps_.repository->ReadRecipientEvents(
                                 call.tenant_id, request->sequence_id(),
                                 request->recipient_id()));
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
  return RunUnary(context, deps_.pool,
                  [this, request, response](const CallContext& call) {
                    return app::RunBulkAction(deps_, call, *request, response);
                  });
}

}  // namespace sequencer::server
