#include "app/use_cases/recipient_queries.h"

#include <string>
#include <utility>
#include <vector>

#include "app/pipeline/command_runner.h"
#include "app/runtime/read_deadline.h"
#include "app/status_macros.h"
#include "app/storage/indexes.h"

namespace sequencer::app {

absl::StatusOr<RecipientView> GetRecipient(const AppDeps& deps,
                                           const CallContext& call,
                                           const RecipientRef& ref) {
  SEQ_RETURN_IF_ERROR(ValidateRecipientRef(ref.sequence_id, ref.recipient_id));
  RecipientView view;
  SEQ_ASSIGN_OR_RETURN(view.sequence, deps.repository->GetSequence(
                                          call.tenant_id, ref.sequence_id));
  SEQ_ASSIGN_OR_RETURN(view.recipient,
                       deps.repository->GetRecipient(
                           call.tenant_id, ref.sequence_id, ref.recipient_id));
  return view;
}

absl::StatusOr<std::vector<domain::StepView>> ViewContent(
    const AppDeps& deps, const CallContext& call, const RecipientRef& ref) {
  SEQ_ASSIGN_OR_RETURN(RecipientView view, GetRecipient(deps, call, ref));
  return domain::ViewContent(view.recipient, view.sequence, deps.clock->Now());
}

absl::StatusOr<domain::SkipPreview> PreviewSkip(const AppDeps& deps,
                                                const CallContext& call,
                                                const RecipientRef& ref) {
  SEQ_ASSIGN_OR_RETURN(RecipientView view, GetRecipient(deps, call, ref));
  return domain::PreviewSkip(view.recipient, view.sequence, deps.clock->Now());
}

absl::StatusOr<std::vector<std::pair<eventstore::StoredEvent, v1::Event>>>
GetTimeline(const AppDeps& deps, const CallContext& call,
            const RecipientRef& ref) {
  SEQ_RETURN_IF_ERROR(GetRecipient(deps, call, ref).status());
  return deps.repository->ReadRecipientEvents(call.tenant_id, ref.sequence_id,
                                              ref.recipient_id);
}

absl::StatusOr<RecipientPage> ListRecipients(
    const AppDeps& deps, const CallContext& call, absl::string_view sequence_id,
    const std::set<domain::RecipientStatus>& statuses, absl::string_view after,
    int page_size) {
  SEQ_RETURN_IF_ERROR(domain::ValidateId("sequence_id", sequence_id));
  if (!after.empty()) {
    SEQ_RETURN_IF_ERROR(domain::ValidateId("page_token", after));
  }
  RecipientPage page;
  SEQ_ASSIGN_OR_RETURN(
      page.sequence, deps.repository->GetSequence(call.tenant_id, sequence_id));
  SEQ_ASSIGN_OR_RETURN(
      indexes::IdPage ids,
      indexes::ListRecipients(deps.repository->store(), call.tenant_id,
                              sequence_id, statuses, after, page_size));
  page.recipients.reserve(ids.ids.size());
  ReadDeadline deadline(call, "recipients");
  for (const std::string& id : ids.ids) {
    SEQ_RETURN_IF_ERROR(deadline.Tick());
    SEQ_ASSIGN_OR_RETURN(
        domain::Recipient recipient,
        deps.repository->GetRecipient(call.tenant_id, sequence_id, id));
    page.recipients.push_back(std::move(recipient));
  }
  if (ids.more) page.next_after = ids.ids.back();
  return page;
}

}  // namespace sequencer::app
