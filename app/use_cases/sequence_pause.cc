#include "app/use_cases/sequence_pause.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "app/pipeline/idempotency.h"
#include "app/status_macros.h"
#include "app/storage/indexes.h"
#include "app/storage/store_layout.h"
#include "domain/sequence.h"
#include "sequencer/v1/events.pb.h"

namespace sequencer::app {
namespace {

// Step 3 and 4: every recipient of the sequence follows it, then the seqop/
// record goes and the outcome is recorded.
absl::StatusOr<Answered<SequencePauseResult>> FollowAndFinish(
    const AppDeps& deps, const CallContext& call,
    const RequestIdentity& identity, absl::string_view sequence_id, bool pause,
    const ResponseEncoder<SequencePauseResult>& encode) {
  CommandRunner runner(deps);
  const domain::RecipientCommand command =
      pause ? domain::RecipientCommand(domain::PauseBySequence{})
            : domain::RecipientCommand(domain::ResumeBySequence{});
  RequestIdentity chunk_identity = identity;
  chunk_identity.idempotent = false;
  int affected = 0;
  std::string after;
  while (true) {
    SEQ_ASSIGN_OR_RETURN(
        indexes::IdPage page,
        indexes::ListRecipients(deps.repository->store(), call.tenant_id,
                                sequence_id, {}, after, kSequenceOpChunk));
    std::vector<BatchCommandItem> items;
    items.reserve(page.ids.size());
    for (const std::string& recipient_id : page.ids) {
      BatchCommandItem item;
      item.call = call;
      item.request.identity = chunk_identity;
      item.request.sequence_id = std::string(sequence_id);
      item.request.recipient_id = recipient_id;
      items.push_back(std::move(item));
    }
    for (const BatchItemResult& result :
         runner.RunRecipientBatch(items, command)) {
      // NOT_FOUND: deleted since it was listed.
      if (!result.status.ok() && !absl::IsNotFound(result.status)) {
        return result.status;
      }
      if (result.changed) ++affected;
    }
    if (!page.more) break;
    after = page.ids.back();
  }
  absl::StatusOr<Answered<SequencePauseResult>> finished =
      runner.Run<SequencePauseResult>(
          call, identity, {},
          [&](eventstore::CommitBatch* batch)
              -> absl::StatusOr<SequencePauseResult> {
            SequencePauseResult result;
            SEQ_ASSIGN_OR_RETURN(
                result.sequence,
                deps.repository->GetSequence(call.tenant_id, sequence_id));
            result.affected_recipients = affected;
            batch->index_writes.push_back(
                {layout::SequenceOpKey(call.tenant_id, sequence_id),
                 std::nullopt});
            return result;
          },
          encode);
  if (!absl::IsInvalidArgument(finished.status())) return finished;
  // The request id was used meanwhile by a request that did not know of this
  // operation (it answers for that one now). The operation is done all the
  // same: its record goes, with no outcome, so that it does not fail for
  // ever; the caller gets the INVALID_ARGUMENT.
  RequestIdentity unrecorded = identity;
  unrecorded.idempotent = false;
  SEQ_RETURN_IF_ERROR(
      runner
          .Run<bool>(
              call, unrecorded, {},
              [&](eventstore::CommitBatch* batch) -> absl::StatusOr<bool> {
                batch->index_writes.push_back(
                    {layout::SequenceOpKey(call.tenant_id, sequence_id),
                     std::nullopt});
                return true;
              },
              nullptr)
          .status());
  return finished;
}

absl::StatusOr<std::optional<v1::SequenceOpRecord>> LoadSequenceOp(
    const AppDeps& deps, absl::string_view tenant,
    absl::string_view sequence_id) {
  SEQ_ASSIGN_OR_RETURN(std::optional<std::string> stored,
                       deps.repository->store().GetIndex(
                           layout::SequenceOpKey(tenant, sequence_id)));
  if (!stored.has_value()) return std::optional<v1::SequenceOpRecord>();
  v1::SequenceOpRecord record;
  if (!record.ParseFromString(*stored)) {
    return absl::DataLossError(absl::StrCat("the record of the operation on ",
                                            sequence_id, " is corrupt"));
  }
  return std::optional<v1::SequenceOpRecord>(std::move(record));
}

absl::Status IdUsedByUnfinished(absl::string_view request_id,
                                const v1::SequenceOpRecord& record) {
  return absl::InvalidArgumentError(
      absl::StrCat("request_id \"", request_id,
                   "\" was already used for a different request (",
                   record.method(), ", still being finished)"));
}

// The operation's outcome is recorded under its request id when it
// finishes: were the id taken by another request by then, the operation
// could never finish (FinishSequenceOps would fail on it for ever). Refuses
// an id recorded for another request (since the retry check) or that an
// unfinished operation on another sequence of the tenant will record. (An
// outcome of this very request cannot appear: it runs under the sequence's
// long-running lock.)
absl::Status CheckRequestIdFree(const AppDeps& deps, absl::string_view tenant,
                                const RequestIdentity& identity) {
  SEQ_RETURN_IF_ERROR(LoadPreviousOutcome(deps.repository->store(), tenant,
                                          identity.request_id, identity.method,
                                          identity.fingerprint)
                          .status());
  const std::string prefix = layout::SequenceOpKey(tenant, "");
  std::string cursor;
  while (true) {
    SEQ_ASSIGN_OR_RETURN(auto entries, deps.repository->store().ScanIndex(
                                           prefix, cursor, kSequenceOpChunk));
    for (const auto& [key, value] : entries) {
      cursor = key;
      v1::SequenceOpRecord record;
      if (record.ParseFromString(value) &&
          record.request_id() == identity.request_id) {
        return IdUsedByUnfinished(identity.request_id, record);
      }
    }
    if (entries.size() < kSequenceOpChunk) return absl::OkStatus();
  }
}

absl::StatusOr<Answered<SequencePauseResult>> FinishRecorded(
    const AppDeps& deps, absl::string_view tenant,
    absl::string_view sequence_id, const v1::SequenceOpRecord& record,
    const ResponseEncoder<SequencePauseResult>& encode) {
  const RequestIdentity identity{record.method(), record.request_id(),
                                 record.request_fingerprint(), true};
  return FollowAndFinish(deps, CallContext{std::string(tenant), record.actor()},
                         identity, sequence_id, record.pause(), encode);
}

}  // namespace

absl::StatusOr<Answered<SequencePauseResult>> RunSequencePause(
    const AppDeps& deps, const CallContext& call,
    const SequencePauseRequest& request,
    const ResponseEncoder<SequencePauseResult>& encode) {
  SEQ_RETURN_IF_ERROR(
      domain::ValidateId("request_id", request.identity.request_id));
  SEQ_RETURN_IF_ERROR(domain::ValidateId("sequence_id", request.sequence_id));
  const std::string stream =
      layout::SequenceStream(call.tenant_id, request.sequence_id);
  LockTable::Guard operation = deps.locks->LockLongRunning(stream);
  SEQ_ASSIGN_OR_RETURN(
      std::optional<std::string> replayed,
      LoadPreviousOutcome(deps.repository->store(), call.tenant_id,
                          request.identity.request_id, request.identity.method,
                          request.identity.fingerprint));
  if (replayed.has_value()) {
    Answered<SequencePauseResult> answered;
    answered.response = *std::move(replayed);
    return answered;
  }
  SEQ_ASSIGN_OR_RETURN(
      std::optional<v1::SequenceOpRecord> unfinished,
      LoadSequenceOp(deps, call.tenant_id, request.sequence_id));
  if (unfinished.has_value()) {
    if (unfinished->request_id() == request.identity.request_id) {
      if (unfinished->method() != request.identity.method ||
          unfinished->request_fingerprint() != request.identity.fingerprint) {
        return IdUsedByUnfinished(request.identity.request_id, *unfinished);
      }
      return FinishRecorded(deps, call.tenant_id, request.sequence_id,
                            *unfinished, encode);
    }
    // INVALID_ARGUMENT: finished, but its id answers another request.
    if (absl::Status finished =
            FinishRecorded(deps, call.tenant_id, request.sequence_id,
                           *unfinished, encode)
                .status();
        !finished.ok() && !absl::IsInvalidArgument(finished)) {
      return finished;
    }
  }

  RequestIdentity started = request.identity;
  started.idempotent = false;
  CommandRunner runner(deps);
  SEQ_RETURN_IF_ERROR(
      runner
          .Run<bool>(
              call, started,
              // The request id too: the check below holds until the commit.
              {stream, layout::IdempotencyKey(call.tenant_id,
                                              request.identity.request_id)},
              [&](eventstore::CommitBatch* batch) -> absl::StatusOr<bool> {
                SEQ_RETURN_IF_ERROR(
                    CheckRequestIdFree(deps, call.tenant_id, request.identity));
                SEQ_ASSIGN_OR_RETURN(domain::Sequence before,
                                     deps.repository->GetSequence(
                                         call.tenant_id, request.sequence_id));
                if (request.expected_version.has_value() &&
                    *request.expected_version != before.version) {
                  return VersionMismatch("sequence", *request.expected_version,
                                         before.version);
                }
                const domain::DecisionContext context{
                    call.tenant_id, call.actor, request.identity.request_id,
                    deps.clock->Now()};
                SEQ_ASSIGN_OR_RETURN(
                    std::vector<domain::SequenceEvent> events,
                    request.pause
                        ? domain::DecidePauseSequence(before, context)
                        : domain::DecideResumeSequence(before, context));
                CommandRunner::AddSequenceEvents(
                    call.tenant_id, before, request.sequence_id, events, batch);
                v1::SequenceOpRecord record;
                record.set_method(request.identity.method);
                record.set_request_id(request.identity.request_id);
                record.set_request_fingerprint(request.identity.fingerprint);
                record.set_actor(call.actor);
                record.set_pause(request.pause);
                batch->index_writes.push_back(
                    {layout::SequenceOpKey(call.tenant_id, request.sequence_id),
                     record.SerializeAsString()});
                return true;
              },
              nullptr)
          .status());
  // Committed: the operation finishes even if the caller stops waiting (its
  // deadline no longer stops the commits that follow).
  CallContext follow = call;
  follow.deadline = absl::InfiniteFuture();
  return FollowAndFinish(deps, follow, request.identity, request.sequence_id,
                         request.pause, encode);
}

absl::Status FinishSequenceOps(
    const AppDeps& deps, const ResponseEncoder<SequencePauseResult>& encode) {
  std::string cursor;
  while (true) {
    SEQ_ASSIGN_OR_RETURN(
        auto entries, deps.repository->store().ScanIndex(
                          layout::kSequenceOpPrefix, cursor, kSequenceOpChunk));
    for (const auto& [key, value] : entries) {
      cursor = key;
      std::optional<layout::KeyRef> ref = layout::ParseSequenceOpKey(key);
      if (!ref.has_value()) {
        return absl::DataLossError(
            absl::StrCat("malformed sequence operation key ", key));
      }
      const std::string& tenant = ref->tenant;
      const std::string& sequence_id = ref->sequence_id;
      LockTable::Guard operation = deps.locks->LockLongRunning(
          layout::SequenceStream(tenant, sequence_id));
      SEQ_ASSIGN_OR_RETURN(std::optional<v1::SequenceOpRecord> record,
                           LoadSequenceOp(deps, tenant, sequence_id));
      if (!record.has_value()) continue;  // Finished meanwhile.
      // INVALID_ARGUMENT: finished, but its id answers another request.
      if (absl::Status finished =
              FinishRecorded(deps, tenant, sequence_id, *record, encode)
                  .status();
          !finished.ok() && !absl::IsInvalidArgument(finished)) {
        return finished;
      }
    }
    if (entries.size() < kSequenceOpChunk) return absl::OkStatus();
  }
}

}  // namespace sequencer::app
