// Every limit of the product (../shared/spec/product.md), in one place: the
// sizes of a sequence and its content, of a recipient's personal data, and of
// the API's requests. A value over a limit is refused (INVALID_ARGUMENT, or
// RESOURCE_EXHAUSTED for a request's size) with a message naming the limit.

#ifndef SEQUENCER_DOMAIN_LIMITS_H_
#define SEQUENCER_DOMAIN_LIMITS_H_

#include <cstddef>
#include <cstdint>

#include "absl/time/time.h"

namespace sequencer::domain {

// ---- Sequences and their content.

// Steps of one sequence.
inline constexpr int kMaxSteps = 50;
// Characters of a sequence's name.
inline constexpr size_t kMaxSequenceNameLength = 120;
// Characters of an email subject (RFC 5322's line length).
inline constexpr size_t kMaxEmailSubjectLength = 998;
// Bytes of an email body.
inline constexpr size_t kMaxEmailBodyBytes = 256 * 1024;
// Characters of an SMS body.
inline constexpr size_t kMaxSmsBodyLength = 1600;
// Bytes of the other free-text fields (not in the spec: an email body's bound).
inline constexpr size_t kMaxOtherContentBytes = 256 * 1024;
// The longest delay before a step.
inline constexpr absl::Duration kMaxStepDelay = absl::Hours(24 * 365);
// Characters of an id (sequence, recipient, request, tenant).
inline constexpr size_t kMaxIdLength = 128;
// Characters of a template variable name (domain/template.h).
inline constexpr size_t kMaxVariableNameLength = 64;

// ---- One recipient's personal data (tens of kilobytes at most per read and
// event).

// Variables of one recipient.
inline constexpr size_t kMaxVariables = 100;
// Bytes of one variable's value.
inline constexpr size_t kMaxVariableValueBytes = 8 * 1024;
// Bytes of a recipient's variable names and values together.
inline constexpr size_t kMaxVariablesTotalBytes = 32 * 1024;
// Bytes of each contact field (email, phone, social profile).
inline constexpr size_t kMaxContactFieldLength = 512;
// Bytes of a signal's detail (a bounce's is cut to this length).
inline constexpr size_t kMaxSignalDetailLength = 4096;

// ---- API requests.

// Recipients selected by one bulk action.
inline constexpr int kMaxBulkSelection = 10000;
// Recipients enrolled by one EnrollRecipients call.
inline constexpr int kMaxEnrollBatch = 10000;
// Page size of a listing when the request names none.
inline constexpr int kDefaultPageSize = 100;
// The largest page size of a listing.
inline constexpr int kMaxPageSize = 1000;
// Leases one LeaseSteps call grants at most.
inline constexpr int kMaxLeaseBatch = 100;
// Items one BeginSends or ReportDeliveries call carries at most.
inline constexpr int kMaxDeliveryBatch = 100;
// Leases one LeaseSteps call grants when the request names no number.
inline constexpr int kDefaultLeaseBatch = 10;
// A lease's duration when the request names none.
inline constexpr absl::Duration kDefaultLeaseDuration = absl::Seconds(60);
// The longest lease.
inline constexpr absl::Duration kMaxLeaseDuration = absl::Hours(1);
// The longest a LeaseSteps call waits for work (long poll).
inline constexpr absl::Duration kMaxLeaseWait = absl::Seconds(30);
// Bytes of one request on the wire: the largest valid request (CreateSequence
// with 50 steps of the largest content is about 13 MiB).
inline constexpr int kMaxRequestBytes = 16 << 20;
// Characters of the caller's identity (x-actor header).
inline constexpr size_t kMaxActorLength = 256;
// Seconds of a google.protobuf.Duration either way (its documented range:
// about 10,000 years).
inline constexpr int64_t kMaxDurationSeconds = 315576000000;

}  // namespace sequencer::domain

#endif  // SEQUENCER_DOMAIN_LIMITS_H_
