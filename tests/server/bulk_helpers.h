// Shorthands for the bulk-action and sequence-pause server tests: bulk
// requests, the BulkRefusal detail of a refused call, listing by status with
// page tokens, sequence pause/resume, and a fake delivery worker.

#ifndef SEQUENCER_TESTS_SERVER_BULK_HELPERS_H_
#define SEQUENCER_TESTS_SERVER_BULK_HELPERS_H_

#include <algorithm>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "app/storage/event_codec.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "tests/util/api_helpers.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {

inline std::vector<std::string> NumberedIds(const std::string& prefix,
                                            int count) {
  std::vector<std::string> ids;
  ids.reserve(count);
  for (int i = 0; i < count; ++i)
    ids.push_back(absl::StrCat(prefix, 10000 + i));
  return ids;
}

inline v1::BulkActionRequest BulkRequest(const std::string& sequence_id,
                                         const std::vector<std::string>& ids,
                                         v1::BulkActionType action) {
  v1::BulkActionRequest request;
  request.set_request_id(NextRequestId());
  request.set_sequence_id(sequence_id);
  for (const auto& id : ids) request.add_recipient_ids(id);
  request.set_action(action);
  return request;
}

inline grpc::Status Bulk(TestServer& server,
                         const v1::BulkActionRequest& request,
                         v1::BulkActionResponse* out,
                         const std::string& tenant = kTenant) {
  v1::BulkActionResponse ignored;
  return server.recipients().BulkAction(CallAs(tenant).get(), request,
                                        out ? out : &ignored);
}

// The BulkRefusal in the details of a refused call (empty when absent).
inline v1::BulkRefusal BulkRefusalOf(const grpc::Status& status) {
  v1::BulkRefusal refusal;
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) {
    ADD_FAILURE() << "unparsable error details";
    return refusal;
  }
  for (const google::protobuf::Any& any : details.details()) {
    if (any.Is<v1::BulkRefusal>() && any.UnpackTo(&refusal)) return refusal;
  }
  ADD_FAILURE() << "no BulkRefusal detail";
  return refusal;
}

// The BulkRefusal offenders listed in the details of a refused call.
inline std::vector<v1::BulkOffender> OffendersOf(const grpc::Status& status) {
  const v1::BulkRefusal refusal = BulkRefusalOf(status);
  return {refusal.offenders().begin(), refusal.offenders().end()};
}

inline std::map<std::string, v1::BulkOffender> OffendersById(
    const grpc::Status& status) {
  std::map<std::string, v1::BulkOffender> out;
  for (const v1::BulkOffender& offender : OffendersOf(status)) {
    EXPECT_TRUE(out.emplace(offender.recipient_id(), offender).second)
        << "listed twice: " << offender.recipient_id();
  }
  return out;
}

// Every recipient of the sequence with one of `statuses` (all when empty),
// following page tokens.
template <typename Stub>
std::vector<v1::Recipient> ListAllOn(
    Stub& stub, const std::string& sequence_id,
    const std::vector<v1::RecipientStatus>& statuses,
    const std::string& tenant = kTenant) {
  std::vector<v1::Recipient> out;
  v1::ListRecipientsRequest request;
  request.set_sequence_id(sequence_id);
  for (v1::RecipientStatus status : statuses) request.add_statuses(status);
  request.set_page_size(1000);
  for (int pages = 0; pages < 1000; ++pages) {
    v1::ListRecipientsResponse response;
    grpc::Status status =
        stub.ListRecipients(CallAs(tenant).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok()) break;
    out.insert(out.end(), response.recipients().begin(),
               response.recipients().end());
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  return out;
}

inline std::vector<std::string> IdsOf(const std::vector<v1::Recipient>& list) {
  std::vector<std::string> ids;
  for (const auto& recipient : list) ids.push_back(recipient.recipient_id());
  std::sort(ids.begin(), ids.end());
  return ids;
}

inline std::vector<std::string> ListIds(
    TestServer& server, const std::string& sequence_id,
    const std::vector<v1::RecipientStatus>& statuses) {
  return IdsOf(ListAllOn(server.recipients(), sequence_id, statuses));
}

inline grpc::Status PauseSequence(TestServer& server,
                                  const std::string& sequence_id,
                                  v1::SequenceActionResponse* out,
                                  const std::string& tenant = kTenant) {
  v1::SequenceActionRequest request;
  request.set_request_id(NextRequestId());
  request.set_sequence_id(sequence_id);
  v1::SequenceActionResponse ignored;
  return server.sequences().PauseSequence(CallAs(tenant).get(), request,
                                          out ? out : &ignored);
}

inline grpc::Status ResumeSequence(TestServer& server,
                                   const std::string& sequence_id,
                                   v1::SequenceActionResponse* out,
                                   const std::string& tenant = kTenant) {
  v1::SequenceActionRequest request;
  request.set_request_id(NextRequestId());
  request.set_sequence_id(sequence_id);
  v1::SequenceActionResponse ignored;
  return server.sequences().ResumeSequence(CallAs(tenant).get(), request,
                                           out ? out : &ignored);
}

inline absl::Duration RemainingDelay(const v1::Recipient& recipient) {
  return app::FromProtoDuration("remaining_delay", recipient.remaining_delay())
      .value();
}

inline absl::Time NextDue(const v1::Recipient& recipient) {
  return app::FromProtoTime(recipient.next_due_at());
}

// A fake delivery worker.
inline std::vector<v1::DeliveryLease> LeaseSteps(TestServer& server,
                                                 v1::StepType channel,
                                                 int max = 100) {
  v1::LeaseStepsRequest request;
  request.set_channel(channel);
  request.set_max_steps(max);
  *request.mutable_lease_duration() = app::ToProtoDuration(absl::Seconds(60));
  v1::LeaseStepsResponse response;
  grpc::Status status =
      server.delivery().LeaseSteps(CallAs().get(), request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return {response.leases().begin(), response.leases().end()};
}

inline grpc::Status BeginSend(TestServer& server,
                              const v1::DeliveryLease& lease) {
  v1::BeginSendRequest request;
  request.set_lease_token(lease.lease_token());
  request.set_sequence_id(lease.sequence_id());
  request.set_recipient_id(lease.recipient_id());
  v1::BeginSendResponse ignored;
  return server.delivery().BeginSend(CallAs().get(), request, &ignored);
}

inline grpc::Status ReportDelivery(TestServer& server,
                                   const v1::DeliveryLease& lease,
                                   v1::DeliveryOutcome outcome,
                                   const std::string& error = "",
                                   v1::Recipient* out = nullptr) {
  v1::ReportDeliveryRequest request;
  request.set_lease_token(lease.lease_token());
  request.set_sequence_id(lease.sequence_id());
  request.set_recipient_id(lease.recipient_id());
  request.set_outcome(outcome);
  request.set_provider_message_id("provider-" + lease.lease_token());
  request.set_error_message(error);
  v1::Recipient ignored;
  return server.delivery().ReportDelivery(CallAs().get(), request,
                                          out ? out : &ignored);
}

inline std::vector<std::string> LeasedIds(
    const std::vector<v1::DeliveryLease>& leases) {
  std::vector<std::string> ids;
  for (const auto& lease : leases) ids.push_back(lease.recipient_id());
  std::sort(ids.begin(), ids.end());
  return ids;
}

// Events written after `position`, in position order.
inline std::vector<eventstore::StoredEvent> EventsAfter(TestServer& server,
                                                        uint64_t position) {
  auto events =
      server.store().ReadAll(position + 1, std::numeric_limits<size_t>::max());
  EXPECT_TRUE(events.ok()) << events.status();
  if (!events.ok()) return {};
  return *std::move(events);
}

}  // namespace sequencer::testing

#endif  // SEQUENCER_TESTS_SERVER_BULK_HELPERS_H_
