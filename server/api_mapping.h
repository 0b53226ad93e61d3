// The API's views of domain state: what GetSequence, GetRecipient,
// ViewContent and the responses built on them show. The values inside them
// (content, step definitions, times, enums) use the stored form's
// conversions (app/storage/event_codec.h), so the log and the API spell them
// alike. Thread-compatible free functions.

#ifndef SEQUENCER_SERVER_API_MAPPING_H_
#define SEQUENCER_SERVER_API_MAPPING_H_

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

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_API_MAPPING_H_
