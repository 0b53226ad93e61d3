#include "app/use_cases/sequences.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "app/runtime/read_deadline.h"
#include "app/status_macros.h"
#include "app/storage/indexes.h"
#include "app/storage/store_layout.h"

namespace sequencer::app {

absl::StatusOr<Answered<domain::Sequence>> CreateSequence(
    const AppDeps& deps, const CallContext& call,
    const CreateSequenceRequest& request,
    const ResponseEncoder<domain::Sequence>& encode) {
  domain::CreateSequence command = request.command;
  CommandRunner runner(deps);
  absl::StatusOr<Answered<domain::Sequence>> answered =
      runner.Run<domain::Sequence>(
          call, request.identity, {},
          [&](eventstore::CommitBatch* batch)
              -> absl::StatusOr<domain::Sequence> {
            if (command.sequence_id.empty()) {
              command.sequence_id = deps.ids->NewId("seq");
            }
            SEQ_ASSIGN_OR_RETURN(domain::Sequence current,
                                 deps.repository->LoadSequence(
                                     call.tenant_id, command.sequence_id));
            const domain::DecisionContext context{call.tenant_id, call.actor,
                                                  request.identity.request_id,
                                                  deps.clock->Now()};
            SEQ_ASSIGN_OR_RETURN(
                std::vector<domain::SequenceEvent> events,
                domain::DecideCreateSequence(command, current, context));
            domain::Sequence after = CommandRunner::AddSequenceEvents(
                call.tenant_id, current, command.sequence_id, events, batch);
            batch->index_writes.push_back(
                {layout::SequenceListKey(call.tenant_id, command.sequence_id),
                 ""});
            return after;
          },
          encode);
  if (absl::IsAborted(answered.status())) {
    return absl::AlreadyExistsError(
        absl::StrCat("sequence \"", command.sequence_id, "\" already exists"));
  }
  return answered;
}

absl::StatusOr<domain::Sequence> GetSequence(const AppDeps& deps,
                                             const CallContext& call,
                                             absl::string_view sequence_id) {
  SEQ_RETURN_IF_ERROR(domain::ValidateId("sequence_id", sequence_id));
  return deps.repository->GetSequence(call.tenant_id, sequence_id);
}

absl::StatusOr<SequencePage> ListSequences(const AppDeps& deps,
                                           const CallContext& call,
                                           absl::string_view after,
                                           int page_size) {
  if (!after.empty()) {
    SEQ_RETURN_IF_ERROR(domain::ValidateId("page_token", after));
  }
  SEQ_ASSIGN_OR_RETURN(
      indexes::IdPage ids,
      indexes::ListSequences(deps.repository->store(), call.tenant_id, after,
                             page_size));
  SequencePage page;
  ReadDeadline deadline(call, "sequences");
  for (const std::string& id : ids.ids) {
    SEQ_RETURN_IF_ERROR(deadline.Tick());
    SEQ_ASSIGN_OR_RETURN(domain::Sequence sequence,
                         deps.repository->GetSequence(call.tenant_id, id));
    page.sequences.push_back(std::move(sequence));
  }
  if (ids.more) page.next_after = ids.ids.back();
  return page;
}

}  // namespace sequencer::app
