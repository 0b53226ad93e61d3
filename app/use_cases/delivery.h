// Two-phase delivery for the workers of each channel (see the service comment
// of DeliveryService in proto/sequencer/v1/sequencer.proto):
//
//   TryLease     grants in-memory leases (app/runtime/lease_table.h) on the
//                oldest due steps of a tenant's channel queue (ready/ keys).
//   BeginSend    spends a lease through the CommandRunner (domain::BeginSend):
//                a send begins only if nothing revoked the lease.
//   ReportDelivery  records the result (domain::ReportDelivery).
//
// BeginSend and ReportDelivery are serialized with every other change to the
// recipient and durable before they answer. Waiting for work (long polls) is
// the caller's business: app/runtime/poll_registry.h. Thread-safe.

#ifndef SEQUENCER_APP_USE_CASES_DELIVERY_H_
#define SEQUENCER_APP_USE_CASES_DELIVERY_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "app/app_deps.h"
#include "app/caller.h"
#include "app/pipeline/command_runner.h"
#include "app/runtime/lease_table.h"
#include "domain/model.h"
#include "domain/recipient.h"

namespace sequencer::app {

// Longest lease token BeginSend and ReportDelivery accept.
inline constexpr size_t kMaxLeaseTokenLength = 64;

struct LeasedStep {
  std::string lease_token;
  std::string sequence_id;
  std::string recipient_id;
  int step_index = 0;
  domain::StepType channel = domain::StepType::kEmail;
  domain::StepContent content;
  domain::Contact contact;
  absl::Time due_at;
  absl::Time lease_expires_at;
};

struct BeginSendRequest {
  std::string lease_token;
  std::string sequence_id;
  std::string recipient_id;
};

struct BeginSendResult {
  // The content to send, as resolved when the send began.
  std::optional<domain::StepContent> content;
  // True when the send began now (false: a retry of a begun send).
  bool began = false;
};

struct ReportDeliveryRequest {
  std::string sequence_id;
  std::string recipient_id;
  domain::ReportDelivery report;
};

class Delivery {
 public:
  // `deps` must outlive the object.
  explicit Delivery(const AppDeps& deps) : deps_(deps) {}

  // Leases granted and not yet spent, revoked or expired (for metrics).
  size_t OutstandingLeases() const {
    return leases_.Outstanding(deps_.clock->Now());
  }

  // Grants up to `max` leases of `lease_duration` on the steps of `tenant`'s
  // `channel` queue that are ready, oldest due first; empty when none is.
  // A step stays leased to one worker until its lease expires or the
  // recipient changes.
  absl::StatusOr<std::vector<LeasedStep>> TryLease(
      const std::string& tenant, domain::StepType channel, int max,
      absl::Duration lease_duration);

  // Begins the send the lease names. A retry of a send that has begun
  // answers it again. INVALID_ARGUMENT for a malformed token or ids;
  // FAILED_PRECONDITION LEASE_EXPIRED for a token that is unknown, expired
  // or of another recipient; LEASE_REVOKED when the recipient changed since
  // the lease (paused, stopped, deleted, its sequence paused, ...).
  absl::StatusOr<Answered<BeginSendResult>> BeginSend(
      const CallContext& call, const BeginSendRequest& request,
      const ResponseEncoder<BeginSendResult>& encode);

  // Records the outcome of a begun send (domain::ReportDelivery).
  absl::StatusOr<Answered<CommandOutcome>> ReportDelivery(
      const CallContext& call, const ReportDeliveryRequest& request,
      const ResponseEncoder<CommandOutcome>& encode);

  // The batch forms, for workers that lease many steps at a time: each
  // request is answered exactly as BeginSend / ReportDelivery would answer
  // it alone (the same validation, refusals and retry record, so a retry
  // may use either form), and the changes of all of them are committed in
  // one durable write (CommandRunner::RunBatch). One answer per request, in
  // order; a refused request does not stop the others, and one given as an
  // error (it could not be decoded) answers that error.
  std::vector<absl::StatusOr<Answered<BeginSendResult>>> BeginSends(
      const CallContext& call, const std::vector<BeginSendRequest>& requests,
      const ResponseEncoder<BeginSendResult>& encode);
  std::vector<absl::StatusOr<Answered<CommandOutcome>>> ReportDeliveries(
      const CallContext& call,
      const std::vector<absl::StatusOr<ReportDeliveryRequest>>& requests,
      const ResponseEncoder<CommandOutcome>& encode);

 private:
  // Leases the step `recipient_id` waits to deliver, unless it is leased,
  // not ready (domain::Schedule) or misses variables.
  std::optional<LeasedStep> TryLeaseOne(
      const std::string& tenant, domain::StepType channel,
      const std::string& sequence_id, const std::string& recipient_id,
      absl::Duration lease_duration,
      std::map<std::string, absl::StatusOr<domain::Sequence>>* sequences);

  // The change BeginSend runs; INVALID_ARGUMENT for a malformed request.
  absl::StatusOr<Change<BeginSendResult>> BeginSendChange(
      const CallContext& call, const BeginSendRequest& request,
      const ResponseEncoder<BeginSendResult>& encode);
  // Drops the lease once its send began.
  void SpendLease(absl::string_view token,
                  const absl::StatusOr<Answered<BeginSendResult>>& answered);

  const AppDeps& deps_;
  LeaseTable leases_;
};

// INVALID_ARGUMENT unless `token` could be a token TryLease granted.
inline absl::Status ValidateLeaseToken(absl::string_view token) {
  if (token.empty() || token.size() > kMaxLeaseTokenLength) {
    return absl::InvalidArgumentError(
        "lease_token: must be the token LeaseSteps returned");
  }
  return absl::OkStatus();
}

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_USE_CASES_DELIVERY_H_
