// sequencer.v1.SequenceService: create, get and list sequences, pause and
// resume them, and their reports.

#ifndef SEQUENCER_SERVER_SEQUENCE_SERVICE_H_
#define SEQUENCER_SERVER_SEQUENCE_SERVICE_H_

#include "app/use_cases/sequence_pause.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "server/service_deps.h"
#include "server/unary_call.h"

namespace sequencer::server {

// Encodes a sequence pause's result as its SequenceActionResponse (also for
// the operations app::FinishSequenceOps finishes at start-up).
// With `response`, also fills it (EncodeWith).
app::ResponseEncoder<app::SequencePauseResult> SequencePauseEncoder(
    v1::SequenceActionResponse* response = nullptr);

class SequenceServiceImpl final : public DecodingService<v1::SequenceService> {
 public:
  explicit SequenceServiceImpl(ServiceDeps deps);

  grpc::ServerUnaryReactor* CreateSequence(
      grpc::CallbackServerContext* context,
      const v1::CreateSequenceRequest* request,
      v1::CreateSequenceResponse* response) override;
  grpc::ServerUnaryReactor* GetSequence(grpc::CallbackServerContext* context,
                                        const v1::GetSequenceRequest* request,
                                        v1::Sequence* response) override;
  grpc::ServerUnaryReactor* ListSequences(
      grpc::CallbackServerContext* context,
      const v1::ListSequencesRequest* request,
      v1::ListSequencesResponse* response) override;

  grpc::ServerUnaryReactor* PauseSequence(
      grpc::CallbackServerContext* context,
      const v1::SequenceActionRequest* request,
      v1::SequenceActionResponse* response) override;
  grpc::ServerUnaryReactor* ResumeSequence(
      grpc::CallbackServerContext* context,
      const v1::SequenceActionRequest* request,
      v1::SequenceActionResponse* response) override;

  grpc::ServerUnaryReactor* GetSequenceReport(
      grpc::CallbackServerContext* context,
      const v1::GetSequenceReportRequest* request,
      v1::SequenceReport* response) override;

 private:
  ServiceDeps deps_;
};

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_SEQUENCE_SERVICE_H_
