#include "app/use_cases/enrollment.h"

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "app/status_macros.h"
#include "app/storage/store_layout.h"
#include "domain/sequence.h"

namespace sequencer::app {
namespace {

// "recipients[3].variables: ..." for a field of the recipient,
// "recipients[3]: ..." for the recipient as a whole.
absl::Status NameRecipient(size_t index, const absl::Status& status) {
  const absl::string_view message = status.message();
  const size_t colon = message.find(": ");
  bool names_field = colon != 0 && colon != absl::string_view::npos;
  for (size_t i = 0; names_field && i < colon; ++i) {
    const char c = message[i];
    names_field =
        absl::ascii_isalnum(c) || c == '_' || c == '.' || c == '[' || c == ']';
  }
  return absl::Status(status.code(),
                      absl::StrCat("recipients[", index, "]",
                                   names_field ? "." : ": ", message));
}

absl::Status ValidateEnrollment(const EnrollRequest& request) {
  SEQ_RETURN_IF_ERROR(domain::ValidateId("sequence_id", request.sequence_id));
  const size_t count = request.recipients.size();
  if (count == 0) {
    return absl::InvalidArgumentError("recipients: at least one is required");
  }
  if (count > static_cast<size_t>(domain::kMaxEnrollBatch)) {
    return absl::ResourceExhaustedError(absl::StrCat("recipients: at most ",
                                                     domain::kMaxEnrollBatch,
                                                     " per call, got ", count));
  }
  std::set<absl::string_view> seen;
  for (size_t i = 0; i < count; ++i) {
    const std::string& id = request.recipients[i].recipient_id;
    SEQ_RETURN_IF_ERROR(domain::ValidateId(
        absl::StrCat("recipients[", i, "].recipient_id"), id));
    if (!seen.insert(id).second) {
      return absl::AlreadyExistsError(
          absl::StrCat("recipients[", i, "].recipient_id: \"", id,
                       "\" appears more than once in the request"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Answered<EnrollResult>> EnrollRecipients(
    const AppDeps& deps, const CallContext& call, const EnrollRequest& request,
    const ResponseEncoder<EnrollResult>& encode) {
  SEQ_RETURN_IF_ERROR(
      domain::ValidateId("request_id", request.identity.request_id));
  SEQ_RETURN_IF_ERROR(ValidateEnrollment(request));
  // The sequence's stream: a sequence pause's first commit cannot interleave
  // with an enrollment that read the sequence as running.
  std::vector<std::string> lock_keys = {
      layout::SequenceStream(call.tenant_id, request.sequence_id)};
  lock_keys.reserve(request.recipients.size() + 1);
  for (const auto& recipient : request.recipients) {
    lock_keys.push_back(layout::RecipientStream(
        call.tenant_id, request.sequence_id, recipient.recipient_id));
  }
  CommandRunner runner(deps);
  absl::StatusOr<Answered<EnrollResult>> answered = runner.Run<EnrollResult>(
      call, request.identity, std::move(lock_keys),
      [&](eventstore::CommitBatch* batch) -> absl::StatusOr<EnrollResult> {
        SEQ_ASSIGN_OR_RETURN(
            domain::Sequence sequence,
            deps.repository->GetSequence(call.tenant_id, request.sequence_id));
        const domain::DecisionContext context{call.tenant_id, call.actor,
                                              request.identity.request_id,
                                              deps.clock->Now()};
        batch->appends.reserve(request.recipients.size());
        for (size_t i = 0; i < request.recipients.size(); ++i) {
          const domain::EnrollRecipient& command = request.recipients[i];
          // A new id has an empty stream: one point lookup of its version
          // says so without reading the stream (the common case).
          SEQ_ASSIGN_OR_RETURN(
              uint64_t version,
              deps.repository->store().StreamVersion(layout::RecipientStream(
                  call.tenant_id, request.sequence_id, command.recipient_id)));
          domain::Recipient current;
          if (version != 0) {
            SEQ_ASSIGN_OR_RETURN(
                current,
                deps.repository->LoadRecipient(
                    call.tenant_id, request.sequence_id, command.recipient_id));
          }
          absl::StatusOr<std::vector<domain::RecipientEvent>> events =
              domain::DecideEnroll(command, sequence, current, context);
          if (!events.ok()) return NameRecipient(i, events.status());
          CommandRunner::AddRecipientEvents(call.tenant_id, request.sequence_id,
                                            command.recipient_id, current,
                                            *events, sequence, batch);
        }
        return EnrollResult{static_cast<int>(request.recipients.size())};
      },
      encode);
  if (absl::IsAborted(answered.status())) {
    return absl::AlreadyExistsError(
        absl::StrCat("a recipient of this request was enrolled concurrently; "
                     "nobody was enrolled: ",
                     answered.status().message()));
  }
  return answered;
}

}  // namespace sequencer::app
