#include "server/sequence_service.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "app/pipeline/idempotency.h"
#include "app/status_macros.h"
#include "app/storage/event_codec.h"
#include "app/use_cases/sequence_pause.h"
#include "app/use_cases/sequence_report.h"
#include "app/use_cases/sequences.h"
#include "domain/sequence.h"
#include "server/api_mapping.h"
#include "server/recipient_service.h"
#include "server/respond.h"
#include "server/unary_call.h"

namespace sequencer::server {

SequenceServiceImpl::SequenceServiceImpl(ServiceDeps deps) : deps_(deps) {
  ControlAccess(deps_.access);
  LimitRequestBytes(deps_.budget);
  DecodeRequestsOf("CreateSequence", &SequenceServiceImpl::CreateSequence);
  DecodeRequestsOf("GetSequence", &SequenceServiceImpl::GetSequence);
  DecodeRequestsOf("ListSequences", &SequenceServiceImpl::ListSequences);
  DecodeRequestsOf("PauseSequence", &SequenceServiceImpl::PauseSequence);
  DecodeRequestsOf("ResumeSequence", &SequenceServiceImpl::ResumeSequence);
  DecodeRequestsOf("GetSequenceReport",
                   &SequenceServiceImpl::GetSequenceReport);
}

namespace {

constexpr char kService[] = "/sequencer.v1.SequenceService/";

v1::SequenceActionResponse SequenceActionResponseOf(
    const app::SequencePauseResult& result) {
  v1::SequenceActionResponse response;
  *response.mutable_sequence() = ToApi(result.sequence);
  response.set_affected_recipients(result.affected_recipients);
  return response;
}

app::SequencePauseRequest SequencePauseRequestOf(
    const v1::SequenceActionRequest& request, bool pause) {
  app::SequencePauseRequest out;
  out.identity = {
      absl::StrCat(kService, pause ? "PauseSequence" : "ResumeSequence"),
      request.request_id(), app::RequestFingerprint(request)};
  out.sequence_id = request.sequence_id();
  out.pause = pause;
  if (request.has_expected_version()) {
    out.expected_version = request.expected_version();
  }
  return out;
}

}  // namespace

app::ResponseEncoder<app::SequencePauseResult> SequencePauseEncoder(
    v1::SequenceActionResponse* response) {
  return EncodeWith<app::SequencePauseResult>(SequenceActionResponseOf,
                                              response);
}

grpc::ServerUnaryReactor* SequenceServiceImpl::CreateSequence(
    grpc::CallbackServerContext* context,
    const v1::CreateSequenceRequest* request,
    v1::CreateSequenceResponse* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        SEQ_RETURN_IF_ERROR(
            domain::ValidateId("request_id", request->request_id()));
        // Before decoding any step: a huge list is refused for its size.
        SEQ_RETURN_IF_ERROR(domain::ValidateStepCount(request->steps_size()));
        app::CreateSequenceRequest create;
        create.identity = {absl::StrCat(kService, "CreateSequence"),
                           request->request_id(),
                           app::RequestFingerprint(*request)};
        create.command.sequence_id = request->sequence_id();
        create.command.name = request->name();
        create.command.stop_on_response =
            !request->has_stop_on_response() || request->stop_on_response();
        for (int i = 0; i < request->steps_size(); ++i) {
          SEQ_ASSIGN_OR_RETURN(domain::StepDefinition step,
                               app::FromProto(absl::StrCat("steps[", i, "]"),
                                              request->steps(i)));
          create.command.steps.push_back(std::move(step));
        }
        return Respond(app::CreateSequence(deps_, call, create,
                                           EncodeWith<domain::Sequence>(
                                               [](const domain::Sequence& s) {
                                                 v1::CreateSequenceResponse out;
                                                 *out.mutable_sequence() =
                                                     ToApi(s);
                                                 return out;
                                               },
                                               response)),
                       response);
      });
}

grpc::ServerUnaryReactor* SequenceServiceImpl::GetSequence(
    grpc::CallbackServerContext* context, const v1::GetSequenceRequest* request,
    v1::Sequence* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        SEQ_ASSIGN_OR_RETURN(
            domain::Sequence sequence,
            app::GetSequence(deps_, call, request->sequence_id()));
        *response = ToApi(sequence);
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
        SEQ_ASSIGN_OR_RETURN(
            app::SequencePage page,
            app::ListSequences(deps_, call, request->page_token(), page_size));
        for (const auto& sequence : page.sequences) {
          *response->add_sequences() = ToApi(sequence);
        }
        response->set_next_page_token(page.next_after);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* SequenceServiceImpl::PauseSequence(
    grpc::CallbackServerContext* context,
    const v1::SequenceActionRequest* request,
    v1::SequenceActionResponse* response) {
  return RunUnary(
      context, deps_.pool, [this, request, response](const CallContext& call) {
        return Respond(app::RunSequencePause(
                           deps_, call, SequencePauseRequestOf(*request, true),
                           SequencePauseEncoder(response)),
                       response);
      });
}

grpc::ServerUnaryReactor* SequenceServiceImpl::ResumeSequence(
    grpc::CallbackServerContext* context,
    const v1::SequenceActionRequest* request,
    v1::SequenceActionResponse* response) {
  return RunUnary(
      context, deps_.pool, [this, request, response](const CallContext& call) {
        return Respond(app::RunSequencePause(
                           deps_, call, SequencePauseRequestOf(*request, false),
                           SequencePauseEncoder(response)),
                       response);
      });
}

grpc::ServerUnaryReactor* SequenceServiceImpl::GetSequenceReport(
    grpc::CallbackServerContext* context,
    const v1::GetSequenceReportRequest* request, v1::SequenceReport* response) {
  return RunUnary(
      context, deps_.pool,
      [this, request, response](const CallContext& call) -> absl::Status {
        SEQ_ASSIGN_OR_RETURN(
            app::SequenceReportResult result,
            app::GetSequenceReport(deps_, call, request->sequence_id()));
        *response = ToApi(result.sequence, result.report);
        return absl::OkStatus();
      });
}

}  // namespace sequencer::server
