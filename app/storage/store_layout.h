// How the server names streams and index keys in the event store. Ids never
// contain '/' (domain::ValidateId), so '/' separates components unambiguously,
// and every key of one recipient shares a prefix (its events are one range:
// see eventstore/FORMAT.md).
//
// Streams:
//   seq/<tenant>/<sequence>                the sequence's events
//   rcp/<tenant>/<sequence>/<recipient>    one recipient's events
// Index entries (projections, kept in the same commit as the events):
//   sq/<tenant>/<sequence> -> ""                      sequence listing
//   rl/<tenant>/<sequence>/<recipient> -> STATUS      recipient listing
//   rs/<tenant>/<sequence>/<STATUS>/<recipient> -> "" listing by status
//   due/<time>/<tenant>/<sequence>/<recipient> -> ""  the scheduler's queue:
//       recipients waiting for a delay, by due time across tenants
//   ready/<tenant>/<CHANNEL>/<time>/<sequence>/<recipient> -> ""
//       due automatic steps waiting for a delivery worker, oldest first
// Other records:
//   idem/<tenant>/<request id> -> IdempotencyRecord
//   confirm/<tenant>/<token> -> BulkConfirmationRecord
//   seqop/<tenant>/<sequence> -> SequenceOpRecord   a sequence pause or
//       resume whose recipients have not all followed yet
//
// <time> is microseconds since the Unix epoch as 16 lowercase hex digits, so
// that key order is time order.

#ifndef SEQUENCER_APP_STORAGE_STORE_LAYOUT_H_
#define SEQUENCER_APP_STORAGE_STORE_LAYOUT_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "domain/model.h"

namespace sequencer::app::layout {

inline std::string SequenceStream(absl::string_view tenant,
                                  absl::string_view sequence) {
  return absl::StrCat("seq/", tenant, "/", sequence);
}
inline std::string RecipientStream(absl::string_view tenant,
                                   absl::string_view sequence,
                                   absl::string_view recipient) {
  return absl::StrCat("rcp/", tenant, "/", sequence, "/", recipient);
}
inline std::string SequenceListPrefix(absl::string_view tenant) {
  return absl::StrCat("sq/", tenant, "/");
}
inline std::string SequenceListKey(absl::string_view tenant,
                                   absl::string_view sequence) {
  return absl::StrCat(SequenceListPrefix(tenant), sequence);
}
inline std::string RecipientListPrefix(absl::string_view tenant,
                                       absl::string_view sequence) {
  return absl::StrCat("rl/", tenant, "/", sequence, "/");
}
inline std::string RecipientListKey(absl::string_view tenant,
                                    absl::string_view sequence,
                                    absl::string_view recipient) {
  return absl::StrCat(RecipientListPrefix(tenant, sequence), recipient);
}
inline std::string StatusIndexPrefix(absl::string_view tenant,
                                     absl::string_view sequence,
                                     absl::string_view status) {
  return absl::StrCat("rs/", tenant, "/", sequence, "/", status, "/");
}
inline std::string StatusIndexKey(absl::string_view tenant,
                                  absl::string_view sequence,
                                  absl::string_view status,
                                  absl::string_view recipient) {
  return absl::StrCat(StatusIndexPrefix(tenant, sequence, status), recipient);
}
// A status as it appears in index keys and values (rs/, rl/): the short form
// "IN_PROGRESS", "PAUSED", ... (the stored format predates the API spelling
// and stays stable).
inline std::string StatusKey(domain::RecipientStatus status) {
  const std::string_view name = domain::StatusName(status);
  return std::string(absl::StripPrefix(
      absl::string_view(name.data(), name.size()), "RECIPIENT_STATUS_"));
}
inline std::string IdempotencyKey(absl::string_view tenant,
                                  absl::string_view request_id) {
  return absl::StrCat("idem/", tenant, "/", request_id);
}

inline std::string ConfirmationKey(absl::string_view tenant,
                                   absl::string_view token) {
  return absl::StrCat("confirm/", tenant, "/", token);
}

inline constexpr char kSequenceOpPrefix[] = "seqop/";
inline std::string SequenceOpKey(absl::string_view tenant,
                                 absl::string_view sequence) {
  return absl::StrCat(kSequenceOpPrefix, tenant, "/", sequence);
}

// The tenant and sequence a SequenceOpKey names; false for another key.
inline bool ParseSequenceOpKey(absl::string_view key, std::string* tenant,
                               std::string* sequence) {
  if (!absl::ConsumePrefix(&key, kSequenceOpPrefix)) return false;
  const size_t slash = key.find('/');
  if (slash == absl::string_view::npos || slash == 0 ||
      slash + 1 == key.size()) {
    return false;
  }
  *tenant = std::string(key.substr(0, slash));
  *sequence = std::string(key.substr(slash + 1));
  return true;
}

inline std::string TimeKey(absl::Time time) {
  const int64_t micros = absl::ToUnixMicros(time);
  return absl::StrFormat("%016x",
                         static_cast<uint64_t>(micros < 0 ? 0 : micros));
}
inline constexpr char kDuePrefix[] = "due/";
inline std::string DueKey(absl::Time due, absl::string_view tenant,
                          absl::string_view sequence,
                          absl::string_view recipient) {
  return absl::StrCat(kDuePrefix, TimeKey(due), "/", tenant, "/", sequence, "/",
                      recipient);
}
inline constexpr char kReadyPrefix[] = "ready/";
inline std::string ReadyPrefix(absl::string_view tenant,
                               absl::string_view channel) {
  return absl::StrCat(kReadyPrefix, tenant, "/", channel, "/");
}
inline std::string ReadyKey(absl::string_view tenant, absl::string_view channel,
                            absl::Time due, absl::string_view sequence,
                            absl::string_view recipient) {
  return absl::StrCat(ReadyPrefix(tenant, channel), TimeKey(due), "/", sequence,
                      "/", recipient);
}
// The queue (ReadyPrefix) a ready/ key belongs to; empty for any other key.
inline absl::string_view ReadyQueueOf(absl::string_view key) {
  if (key.substr(0, sizeof(kReadyPrefix) - 1) != kReadyPrefix) return {};
  const size_t tenant_end = key.find('/', sizeof(kReadyPrefix) - 1);
  if (tenant_end == absl::string_view::npos) return {};
  const size_t channel_end = key.find('/', tenant_end + 1);
  if (channel_end == absl::string_view::npos) return {};
  return key.substr(0, channel_end + 1);
}

// The entry of `queue` (kDuePrefix or a ReadyPrefix) that `key` names: the
// key without the queue's prefix, starting with its time; empty when `key`
// is not one of the queue's entries.
inline absl::string_view QueueEntryOf(absl::string_view key,
                                      absl::string_view queue) {
  if (key.size() <= queue.size() || key.substr(0, queue.size()) != queue) {
    return {};
  }
  return key.substr(queue.size());
}

}  // namespace sequencer::app::layout

#endif  // SEQUENCER_APP_STORAGE_STORE_LAYOUT_H_
