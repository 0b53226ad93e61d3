#include "app/use_cases/delivery.h"

#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "app/status_macros.h"
#include "app/storage/indexes.h"
#include "app/storage/store_layout.h"
#include "domain/refusal.h"
#include "domain/schedule.h"

namespace sequencer::app {
namespace {

constexpr size_t kScanChunk = 256;
constexpr char kDeliveryService[] = "/sequencer.v1.DeliveryService/";

absl::Status LeaseExpired(absl::string_view token) {
  return domain::RefuseAction(
      absl::StrCat("lease ", token,
                   " is unknown or expired: do not send; the step will be "
                   "offered again"),
      {domain::RefusalReason::kLeaseExpired, {{"action", "BEGIN_SEND"}}});
}

// The runtime request a lease's changes are recorded under.
RecipientCommandRequest LeaseCommand(absl::string_view method,
                                     absl::string_view token,
                                     const std::string& sequence_id,
                                     const std::string& recipient_id) {
  RecipientCommandRequest request;
  request.identity = {absl::StrCat(kDeliveryService, method),
                      absl::StrCat("lease:", token), 0, false};
  request.sequence_id = sequence_id;
  request.recipient_id = recipient_id;
  return request;
}

}  // namespace

absl::StatusOr<std::vector<LeasedStep>> Delivery::TryLease(
    const std::string& tenant, domain::StepType channel, int max,
    absl::Duration lease_duration) {
  std::vector<LeasedStep> leased;
  const std::string channel_name(domain::StepTypeName(channel));
  const std::string prefix = layout::ReadyPrefix(tenant, channel_name);
  eventstore::EventStore& store = deps_.repository->store();
  // Start at the queue's front: the entries that sends already begun deleted
  // before it cost nothing.
  const QueueFronts::Scan scan = deps_.fronts != nullptr
                                     ? deps_.fronts->BeginScan(prefix)
                                     : QueueFronts::Scan{prefix, "", 0};
  std::string first_live;  // the first entry seen
  bool reached_end = false;
  std::map<std::string, absl::StatusOr<domain::Sequence>> sequences;
  std::string cursor = QueueFronts::StartAfter(prefix, scan.front);
  absl::Status status;
  while (static_cast<int>(leased.size()) < max) {
    absl::StatusOr<indexes::QueueScan<layout::ReadyEntry>> ready =
        indexes::ReadyFor(store, tenant, channel_name, cursor, kScanChunk);
    if (!ready.ok()) {
      status = ready.status();
      break;
    }
    if (first_live.empty() && !ready->items.empty()) {
      first_live = ready->items.front().queue_entry;
    }
    for (const auto& [queue_entry, entry] : ready->items) {
      if (static_cast<int>(leased.size()) >= max) break;
      cursor = prefix + queue_entry;
      if (!entry.has_value()) continue;
      std::optional<LeasedStep> step = TryLeaseOne(
          tenant, channel, entry->recipient.sequence_id,
          entry->recipient.recipient_id, lease_duration, &sequences);
      if (step.has_value()) leased.push_back(*std::move(step));
    }
    if (ready->end) {
      reached_end = true;
      break;
    }
  }
  if (deps_.fronts != nullptr) {
    // Every entry seen stays in the queue (leased ones until their send
    // begins), so the first one seen is the new front.
    deps_.fronts->EndScan(scan, !status.ok()          ? ""
                                : !first_live.empty() ? first_live
                                : reached_end         ? QueueFronts::kEmpty
                                                      : "");
  }
  if (!status.ok()) return status;
  return leased;
}

std::optional<LeasedStep> Delivery::TryLeaseOne(
    const std::string& tenant, domain::StepType channel,
    const std::string& sequence_id, const std::string& recipient_id,
    absl::Duration lease_duration,
    std::map<std::string, absl::StatusOr<domain::Sequence>>* sequences) {
  eventstore::EventStore& store = deps_.repository->store();
  const absl::Time now = deps_.clock->Now();
  const std::string stream =
      layout::RecipientStream(tenant, sequence_id, recipient_id);
  // A step leased at the recipient's current version stays taken: skip it on
  // the stream's version alone, without folding the recipient.
  std::optional<uint64_t> version;
  if (std::optional<uint64_t> held =
          leases_.HeldVersion(tenant, sequence_id, recipient_id, now);
      held.has_value()) {
    absl::StatusOr<uint64_t> current = store.StreamVersion(stream);
    if (current.ok() && *current == *held) return std::nullopt;
    if (current.ok()) version = *current;
  }
  auto cached = sequences->find(sequence_id);
  if (cached == sequences->end()) {
    cached = sequences
                 ->emplace(sequence_id,
                           deps_.repository->GetSequence(tenant, sequence_id))
                 .first;
  }
  const absl::StatusOr<domain::Sequence>& sequence = cached->second;
  if (!sequence.ok()) return std::nullopt;
  // What the scheduler resolved when it made the step ready, if the
  // recipient and its sequence are still at the versions it saw; otherwise
  // the recipient is folded.
  std::optional<ReadyStep> ready;
  if (deps_.ready_steps != nullptr) {
    ready = deps_.ready_steps->Take(stream);
    if (ready.has_value() && !version.has_value()) {
      absl::StatusOr<uint64_t> current = store.StreamVersion(stream);
      if (current.ok()) version = *current;
    }
    if (ready.has_value() && (version != ready->recipient_version ||
                              sequence->version != ready->sequence_version)) {
      ready.reset();
    }
  }
  if (!ready.has_value()) {
    auto recipient =
        deps_.repository->GetRecipient(tenant, sequence_id, recipient_id);
    if (!recipient.ok()) return std::nullopt;
    ready = ResolveReadyStep(*recipient, *sequence);
    if (!ready.has_value()) return std::nullopt;
  }
  Lease lease{tenant,
              sequence_id,
              recipient_id,
              ready->step_index,
              ready->recipient_version,
              now + lease_duration};
  std::optional<std::string> token = leases_.TryGrant(lease, now);
  if (!token.has_value()) return std::nullopt;
  LeasedStep out;
  out.lease_token = *token;
  out.sequence_id = sequence_id;
  out.recipient_id = recipient_id;
  out.step_index = ready->step_index;
  out.channel = channel;
  out.content = std::move(ready->content);
  out.contact = std::move(ready->contact);
  out.due_at = ready->due_at;
  out.lease_expires_at = lease.expires_at;
  return out;
}

absl::StatusOr<Change<BeginSendResult>> Delivery::BeginSendChange(
    const CallContext& call, const BeginSendRequest& request,
    const ResponseEncoder<BeginSendResult>& encode) {
  SEQ_RETURN_IF_ERROR(ValidateLeaseToken(request.lease_token));
  SEQ_RETURN_IF_ERROR(
      ValidateRecipientRef(request.sequence_id, request.recipient_id));
  const RecipientCommandRequest command =
      LeaseCommand("BeginSend", request.lease_token, request.sequence_id,
                   request.recipient_id);
  Change<BeginSendResult> change;
  change.call = call;
  change.identity = command.identity;
  change.lock_keys = {layout::RecipientStream(
      call.tenant_id, request.sequence_id, request.recipient_id)};
  change.encode = encode;
  // One fold of the recipient, under its lock: a retry, the lease and the
  // decision all read the same state.
  change.body =
      [this, call, request, request_id = command.identity.request_id](
          eventstore::CommitBatch* batch) -> absl::StatusOr<BeginSendResult> {
    const std::string& token = request.lease_token;
    SEQ_ASSIGN_OR_RETURN(
        domain::Recipient current,
        deps_.repository->LoadRecipient(call.tenant_id, request.sequence_id,
                                        request.recipient_id));
    BeginSendResult result;
    // A retried BeginSend of a send that has begun: answer it again.
    if (!current.in_flight_token.empty() && current.in_flight_token == token) {
      result.content =
          current.steps.at(current.current_step).dispatched_content;
      return result;
    }
    const absl::Time now = deps_.clock->Now();
    std::optional<Lease> lease = leases_.Find(token, now);
    if (!lease.has_value() || lease->tenant != call.tenant_id ||
        lease->sequence_id != request.sequence_id ||
        lease->recipient_id != request.recipient_id) {
      return LeaseExpired(token);
    }
    const domain::BeginSend begin{token, lease->recipient_version,
                                  deps_.send_deadline};
    if (!current.exists || current.deleted) {
      // A recipient deleted since the lease is a revoked lease like any
      // other change (the domain answers LEASE_REVOKED), not NOT_FOUND.
      return domain::Decide(begin, current, domain::Sequence{},
                            domain::DecisionContext{})
          .status();
    }
    SEQ_ASSIGN_OR_RETURN(
        domain::Sequence sequence,
        deps_.repository->GetSequence(call.tenant_id, request.sequence_id));
    SEQ_ASSIGN_OR_RETURN(
        std::vector<domain::RecipientEvent> events,
        domain::Decide(begin, current, sequence,
                       {call.tenant_id, call.actor, request_id, now}));
    CommandRunner::AddRecipientEvents(call.tenant_id, request.sequence_id,
                                      request.recipient_id, current, events,
                                      sequence, batch);
    for (const auto& event : events) {
      if (const auto* dispatched =
              std::get_if<domain::StepDispatched>(&event.payload)) {
        result.content = dispatched->content;
      }
    }
    result.began = true;
    return result;
  };
  return change;
}

void Delivery::SpendLease(
    absl::string_view token,
    const absl::StatusOr<Answered<BeginSendResult>>& answered) {
  if (answered.ok() && answered->result.has_value() &&
      answered->result->began) {
    leases_.Remove(std::string(token));
  }
}

absl::StatusOr<Answered<BeginSendResult>> Delivery::BeginSend(
    const CallContext& call, const BeginSendRequest& request,
    const ResponseEncoder<BeginSendResult>& encode) {
  SEQ_ASSIGN_OR_RETURN(Change<BeginSendResult> change,
                       BeginSendChange(call, request, encode));
  absl::StatusOr<Answered<BeginSendResult>> answered =
      CommandRunner(deps_).Run<BeginSendResult>(change.call, change.identity,
                                                change.lock_keys, change.body,
                                                change.encode);
  SpendLease(request.lease_token, answered);
  return answered;
}

std::vector<absl::StatusOr<Answered<BeginSendResult>>> Delivery::BeginSends(
    const CallContext& call, const std::vector<BeginSendRequest>& requests,
    const ResponseEncoder<BeginSendResult>& encode) {
  std::vector<absl::StatusOr<Change<BeginSendResult>>> changes;
  changes.reserve(requests.size());
  for (const BeginSendRequest& request : requests) {
    changes.push_back(BeginSendChange(call, request, encode));
  }
  std::vector<absl::StatusOr<Answered<BeginSendResult>>> answers =
      CommandRunner(deps_).RunBatch(changes);
  for (size_t i = 0; i < answers.size(); ++i) {
    SpendLease(requests[i].lease_token, answers[i]);
  }
  return answers;
}

absl::StatusOr<Answered<CommandOutcome>> Delivery::ReportDelivery(
    const CallContext& call, const ReportDeliveryRequest& request,
    const ResponseEncoder<CommandOutcome>& encode) {
  SEQ_RETURN_IF_ERROR(ValidateLeaseToken(request.report.lease_token));
  return CommandRunner(deps_).RunRecipient(
      call,
      LeaseCommand("ReportDelivery", request.report.lease_token,
                   request.sequence_id, request.recipient_id),
      request.report, encode);
}

std::vector<absl::StatusOr<Answered<CommandOutcome>>>
Delivery::ReportDeliveries(
    const CallContext& call,
    const std::vector<absl::StatusOr<ReportDeliveryRequest>>& requests,
    const ResponseEncoder<CommandOutcome>& encode) {
  CommandRunner runner(deps_);
  std::vector<absl::StatusOr<Change<CommandOutcome>>> changes;
  changes.reserve(requests.size());
  for (const absl::StatusOr<ReportDeliveryRequest>& decoded : requests) {
    if (!decoded.ok()) {
      changes.push_back(decoded.status());
      continue;
    }
    const ReportDeliveryRequest& request = *decoded;
    absl::Status valid = ValidateLeaseToken(request.report.lease_token);
    if (valid.ok()) {
      valid = ValidateRecipientRef(request.sequence_id, request.recipient_id);
    }
    if (!valid.ok()) {
      changes.push_back(valid);
      continue;
    }
    changes.push_back(runner.RecipientChange(
        call,
        LeaseCommand("ReportDelivery", request.report.lease_token,
                     request.sequence_id, request.recipient_id),
        request.report, encode));
  }
  return runner.RunBatch(changes);
}

}  // namespace sequencer::app
