#include "server/sequence_service.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "app/pipeline/idempotency.h"
#include "app/status_macros.h"
#include "app/storage/codec.h"
#include "app/storage/store_layout.h"
#include "app/use_cases/bulk_actions.h"
#include "domain/sequence.h"
#include "server/recipient_service.h"
#include "server/unary_call.h"

namespace sequencer::server {

SequenceServiceImpl::SequenceServiceImpl(ServiceDeps deps) : deps_(deps) {
  LimitRequestBytes(deps_.budget);
  DecodeRequestsOf("CreateSequence", &SequenceServiceImpl::CreateSequence);
  DecodeRequestsOf("GetSequence", &SequenceServiceImpl::GetSequence);
  DecodeRequestsOf("ListSequences", &SequenceServiceImpl::ListSequences);
  DecodeRequestsOf("PauseSequence", &SequenceServiceImpl::PauseSequence);
  DecodeRequestsOf("ResumeSequence", &SequenceServiceImpl::ResumeSequence);
}

grpc::ServerUnaryReactor* SequenceServiceImpl::CreateSequence(
    grpc::CallbackServerContext* context,
    const v1::CreateSequenceRequest* request,
    v1::CreateSequenceResponse* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        const std::string method =
            "/sequencer.v1.SequenceService/CreateSequence";
        SEQ_RETURN_IF_ERROR(
            domain::ValidateId("request_id", request->request_id()));
        if (request->steps_size() > domain::kMaxSteps) {
          return absl::InvalidArgumentError(
              absl::StrCat("steps: at most ", domain::kMaxSteps, " steps, got ",
                           request->steps_size()));
        }
        domain::CreateSequence command;
        command.sequence_id = request->sequence_id();
        command.name = request->name();
        command.stop_on_response =
            !request->has_stop_on_response() || request->stop_on_response();
        for (int i = 0; i < request->steps_size(); ++i) {
          SEQ_ASSIGN_OR_RETURN(domain::StepDefinition step,
                               app::FromProto(absl::StrCat("steps[", i, "]"),
                                              request->steps(i)));
          command.steps.push_back(std::move(step));
        }
        const uint64_t fingerprint = app::RequestFingerprint(*request);
        eventstore::EventStore& store = deps_.repository->store();
        app::LockTable::Guard guard =
            deps_.locks->Lock({app::layout::IdempotencyKey(
                call.tenant_id, request->request_id())});
        SEQ_ASSIGN_OR_RETURN(bool replayed,
                             app::LoadPreviousOutcome(
                                 store, call.tenant_id, request->request_id(),
                                 method, fingerprint, response));
        if (replayed) return absl::OkStatus();
        if (command.sequence_id.empty())
          command.sequence_id = deps_.ids->NewId("seq");

        SEQ_ASSIGN_OR_RETURN(domain::Sequence current,
                             deps_.repository->LoadSequence(
                                 call.tenant_id, command.sequence_id));
        const domain::DecisionContext decision{call.tenant_id, call.actor,
                                               request->request_id(),
                                               deps_.clock->Now()};
        SEQ_ASSIGN_OR_RETURN(
            std::vector<domain::SequenceEvent> events,
            domain::DecideCreateSequence(command, current, decision));
        domain::Sequence after = current;
        eventstore::StreamAppend append{
            app::layout::SequenceStream(call.tenant_id, command.sequence_id),
            0,
            {}};
        for (const auto& event : events) {
          after = domain::Evolve(std::move(after), event);
          append.events.push_back(app::Repository::Encode(event));
        }
        *response->mutable_sequence() = app::ToProto(after);
        eventstore::CommitBatch batch;
        batch.appends.push_back(std::move(append));
        batch.index_writes.push_back(
            {app::layout::SequenceListKey(call.tenant_id, command.sequence_id),
             ""});
        batch.index_writes.push_back(
            app::OutcomeRecord(call.tenant_id, request->request_id(), method,
                               fingerprint, *response));
        absl::Status committed = store.Commit(batch).status();
        if (absl::IsAborted(committed)) {
          return absl::AlreadyExistsError(absl::StrCat(
              "sequence \"", command.sequence_id, "\" already exists"));
        }
        return committed;
      });
}

grpc::ServerUnaryReactor* SequenceServiceImpl::GetSequence(
    grpc::CallbackServerContext* context, const v1::GetSequenceRequest* request,
    v1::Sequence* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        SEQ_RETURN_IF_ERROR(
            domain::ValidateId("sequence_id", request->sequence_id()));
        SEQ_ASSIGN_OR_RETURN(domain::Sequence sequence,
                             deps_.repository->GetSequence(
                                 call.tenant_id, request->sequence_id()));
        *response = app::ToProto(sequence);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* SequenceServiceImpl::ListSequences(
    grpc::CallbackServerContext* context,
    const v1::ListSequencesRequest* request,
    v1::ListSequencesResponse* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        SEQ_ASSIGN_OR_RETURN(int page_size, PageSize(request->page_size()));
        const std::string prefix =
            app::layout::SequenceListPrefix(call.tenant_id);
        std::string start_after;
        if (!request->page_token().empty()) {
          SEQ_RETURN_IF_ERROR(
              domain::ValidateId("page_token", request->page_token()));
          start_after = absl::StrCat(prefix, request->page_token());
        }
        SEQ_ASSIGN_OR_RETURN(auto entries,
                             deps_.repository->store().ScanIndex(
                                 prefix, start_after, page_size + 1));
        const bool more = static_cast<int>(entries.size()) > page_size;
        if (more) entries.resize(page_size);
        for (const auto& [key, value] : entries) {
          SEQ_ASSIGN_OR_RETURN(domain::Sequence sequence,
                               deps_.repository->GetSequence(
                                   call.tenant_id, key.substr(prefix.size())));
          *response->add_sequences() = app::ToProto(sequence);
        }
        if (more)
          response->set_next_page_token(
              response->sequences().rbegin()->sequence_id());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* SequenceServiceImpl::PauseSequence(
    grpc::CallbackServerContext* context,
    const v1::SequenceActionRequest* request,
    v1::SequenceActionResponse* response) {
  return RunUnary(context, deps_.pool,
                  [this, request, response](const CallContext& call) {
                    return app::RunSequencePause(deps_, call, *request,
                                                 /*pause=*/true, response);
                  });
}

grpc::ServerUnaryReactor* SequenceServiceImpl::ResumeSequence(
    grpc::CallbackServerContext* context,
    const v1::SequenceActionRequest* request,
    v1::SequenceActionResponse* response) {
  return RunUnary(context, deps_.pool,
                  [this, request, response](const CallContext& call) {
                    return app::RunSequencePause(deps_, call, *request,
                                                 /*pause=*/false, response);
                  });
}

}  // namespace sequencer::server
