// sequencer.v1.RecipientService: enrollment, reads, and every individual action
// on a recipient.
//
// Each mutating call: validates its input, serializes on the recipient
// (LockTable), answers a retried request id with its first outcome, folds the
// recipient's stream, checks the optional expected version (ABORTED), lets the
// domain decide, and commits the events, the listing index changes and the
// idempotency record in one durable write before answering. A refusal writes
// nothing.

#ifndef SEQUENCER_SERVER_RECIPIENT_SERVICE_H_
#define SEQUENCER_SERVER_RECIPIENT_SERVICE_H_

#include "absl/status/statusor.h"
#include "app/pipeline/command_runner.h"
#include "domain/limits.h"
#include "domain/recipient.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "server/service_deps.h"
#include "server/unary_call.h"

namespace sequencer::server {

// Encodes a recipient command's outcome as the v1.Recipient it answers, and
// fills `response` with it (EncodeWith).
app::ResponseEncoder<app::CommandOutcome> EncodeRecipient(
    v1::Recipient* response);

// A page size as requested: 0 means domain::kDefaultPageSize; INVALID_ARGUMENT
// outside 0..domain::kMaxPageSize.
absl::StatusOr<int> PageSize(int requested);

class RecipientServiceImpl final
    : public DecodingService<v1::RecipientService> {
 public:
  explicit RecipientServiceImpl(ServiceDeps deps);

  grpc::ServerUnaryReactor* EnrollRecipients(
      grpc::CallbackServerContext* context,
      const v1::EnrollRecipientsRequest* request,
      v1::EnrollRecipientsResponse* response) override;
  grpc::ServerUnaryReactor* GetRecipient(grpc::CallbackServerContext* context,
                                         const v1::GetRecipientRequest* request,
                                         v1::Recipient* response) override;
  grpc::ServerUnaryReactor* ListRecipients(
      grpc::CallbackServerContext* context,
      const v1::ListRecipientsRequest* request,
      v1::ListRecipientsResponse* response) override;
  grpc::ServerUnaryReactor* PauseRecipient(
      grpc::CallbackServerContext* context,
      const v1::RecipientActionRequest* request,
      v1::Recipient* response) override;
  grpc::ServerUnaryReactor* ResumeRecipient(
      grpc::CallbackServerContext* context,
      const v1::RecipientActionRequest* request,
      v1::Recipient* response) override;
  grpc::ServerUnaryReactor* PreviewSkipStep(
      grpc::CallbackServerContext* context,
      const v1::GetRecipientRequest* request,
      v1::SkipPreview* response) override;
  grpc::ServerUnaryReactor* SkipStep(grpc::CallbackServerContext* context,
                                     const v1::RecipientActionRequest* request,
                                     v1::Recipient* response) override;
  grpc::ServerUnaryReactor* EditContent(grpc::CallbackServerContext* context,
                                        const v1::EditContentRequest* request,
                                        v1::Recipient* response) override;
  grpc::ServerUnaryReactor* ViewContent(
      grpc::CallbackServerContext* context,
      const v1::GetRecipientRequest* request,
      v1::RecipientContent* response) override;
  grpc::ServerUnaryReactor* StopRecipient(
      grpc::CallbackServerContext* context,
      const v1::RecipientActionRequest* request,
      v1::Recipient* response) override;
  grpc::ServerUnaryReactor* DeleteRecipient(
      grpc::CallbackServerContext* context,
      const v1::RecipientActionRequest* request,
      v1::DeleteRecipientResponse* response) override;
  grpc::ServerUnaryReactor* CompleteManualStep(
      grpc::CallbackServerContext* context,
      const v1::CompleteManualStepRequest* request,
      v1::Recipient* response) override;
  grpc::ServerUnaryReactor* RecordSignal(grpc::CallbackServerContext* context,
                                         const v1::RecordSignalRequest* request,
                                         v1::Recipient* response) override;
  grpc::ServerUnaryReactor* GetRecipientTimeline(
      grpc::CallbackServerContext* context,
      const v1::GetRecipientRequest* request,
      v1::RecipientTimeline* response) override;

  grpc::ServerUnaryReactor* BulkAction(
      grpc::CallbackServerContext* context,
      const v1::BulkActionRequest* request,
      v1::BulkActionResponse* response) override;

 private:
  // A single action on one recipient, answered with the recipient after it.
  template <typename Request>
  grpc::ServerUnaryReactor* Act(grpc::CallbackServerContext* context,
                                const char* method, const Request* request,
                                domain::RecipientCommand command,
                                v1::Recipient* response);

  ServiceDeps deps_;
};

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_RECIPIENT_SERVICE_H_
