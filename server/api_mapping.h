// The API's views of domain state: what GetSequence, GetRecipient,
// ViewContent and the responses built on them show. The values inside them
// (content, step definitions, times, enums) use the stored form's
// conversions (app/storage/event_codec.h), so the log and the API spell them
// alike. Also the request mappings the handlers share with the request fuzzer
// (fuzz/request_fuzzer.cc). Thread-compatible free functions.

#ifndef SEQUENCER_SERVER_API_MAPPING_H_
#define SEQUENCER_SERVER_API_MAPPING_H_

#include "absl/status/statusor.h"
#include "app/use_cases/delivery.h"
#include "domain/bulk.h"
#include "domain/model.h"
#include "domain/recipient.h"
#include "domain/report.h"
#include "sequencer/v1/sequencer.pb.h"

namespace sequencer::server {

v1::Sequence ToApi(const domain::Sequence& sequence);
// With the actions the recipient allows now (domain::AvailableActions).
v1::Recipient ToApi(const domain::Recipient& recipient,
                    const domain::Sequence& sequence);
v1::StepView ToApi(const domain::StepView& view);
// GetSequenceReport's answer: `report` of `sequence` (one StepReport per
// step, with its channel; every status).
v1::SequenceReport ToApi(const domain::Sequence& sequence,
                         const domain::SequenceReport& report);

// A BulkActionRequest's action; INVALID_ARGUMENT "action: unknown or
// unspecified value <n>" for any other value.
absl::StatusOr<domain::BulkAction> BulkActionFromProto(v1::BulkActionType type);

// One delivery result as ReportDelivery and ReportDeliveries take it:
// INVALID_ARGUMENT for a malformed lease token, an unknown or unspecified
// outcome, or what domain::ValidateReportDelivery refuses. The ids are not
// checked here (the pipeline checks them).
absl::StatusOr<app::ReportDeliveryRequest> ReportFromProto(
    const v1::ReportDeliveryRequest& request);

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_API_MAPPING_H_
