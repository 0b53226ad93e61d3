// How the application names streams and index keys in the event store: every
// key has a Make function (SequenceStream, DueKey, ...) and, where something
// reads keys back, a Parse function beside it that accepts exactly what the
// Make function writes (tests/app/store_layout_test.cc checks each pair). Ids
// never contain '/' (domain::ValidateId), so '/' separates components
// unambiguously, and every key of one recipient shares a prefix (its events are
// one range: see eventstore/FORMAT.md).
//
// Streams:
//   seq/<tenant>/<sequence>                the sequence's events
//   rcp/<tenant>/<sequence>/<recipient>    one recipient's events
//   del/<tenant>/<sequence>/<recipient>    tombstones: one Deleted event per
//       deletion of that recipient id, whose own stream was erased
// Index entries (projections, kept in the same commit as the events):
//   sq/<tenant>/<sequence> -> ""                      sequence listing
//   rl/<tenant>/<sequence>/<recipient> -> STATUS      recipient listing
//   rs/<tenant>/<sequence>/<STATUS>/<recipient> -> "" listing by status
//   rp/<tenant>/<sequence>/<recipient> -> ReportContribution
//       what the recipient contributes to the sequence report
//       (domain/report.h); GetSequenceReport sums the sequence's entries.
//       One entry per recipient, so that actions on one sequence share no
//       counter; written only when it changes
//   due/<time>/<tenant>/<sequence>/<recipient> -> ""  the scheduler's queue:
//       recipients waiting for a delay, by due time across tenants
//   ready/<tenant>/<CHANNEL>/<time>/<sequence>/<recipient> -> ""
//       due automatic steps waiting for a delivery worker, oldest first
// Other records:
//   idem/<tenant>/<request id> -> IdempotencyRecord
//   confirm/<tenant>/<token> -> BulkConfirmationRecord
//   seqop/<tenant>/<sequence> -> SequenceOpRecord   a sequence pause or
//       resume whose recipients have not all followed yet
//   meta/report-backfill -> "done", or the next stream to backfill
//       the one-time start-up pass that wrote rp/ entries for data
//       directories made before they existed (app/use_cases/sequence_report.h)
//
// <time> is microseconds since the Unix epoch as 16 lowercase hex digits, so
// that key order is time order.

#ifndef SEQUENCER_APP_STORAGE_STORE_LAYOUT_H_
#define SEQUENCER_APP_STORAGE_STORE_LAYOUT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "domain/model.h"

namespace sequencer::app::layout {

// The first component of each kind of key.
inline constexpr char kSequenceStreamPrefix[] = "seq/";
inline constexpr char kRecipientStreamPrefix[] = "rcp/";
inline constexpr char kDeletionStreamPrefix[] = "del/";
inline constexpr char kSequenceListRoot[] = "sq/";
inline constexpr char kRecipientListRoot[] = "rl/";
inline constexpr char kStatusIndexRoot[] = "rs/";
inline constexpr char kReportRoot[] = "rp/";
inline constexpr char kReportBackfillMarker[] = "meta/report-backfill";
inline constexpr char kIdempotencyPrefix[] = "idem/";
inline constexpr char kConfirmationPrefix[] = "confirm/";

// `key` without `prefix` split at '/' into exactly `count` non-empty parts,
// stored in parts[0..count); false (parts unspecified) when the key has
// another shape.
inline bool SplitKeyInto(absl::string_view key, absl::string_view prefix,
                         size_t count, absl::string_view* parts) {
  if (!absl::ConsumePrefix(&key, prefix)) return false;
  size_t n = 0;
  while (true) {
    if (n == count) return false;
    const size_t slash = key.find('/');
    parts[n] = key.substr(0, slash);
    if (parts[n++].empty()) return false;
    if (slash == absl::string_view::npos) break;
    key.remove_prefix(slash + 1);
  }
  return n == count;
}
// The same parts as a vector; empty when the key has another shape.
inline std::vector<absl::string_view> SplitKey(absl::string_view key,
                                               absl::string_view prefix,
                                               size_t count) {
  std::vector<absl::string_view> parts(count);
  if (!SplitKeyInto(key, prefix, count, parts.data())) return {};
  return parts;
}

// The ids a stream or index entry is about. `recipient_id` is empty for a
// sequence's own stream or listing entry.
struct KeyRef {
  std::string tenant;
  std::string sequence_id;
  std::string recipient_id;

  friend bool operator==(const KeyRef& a, const KeyRef& b) {
    return a.tenant == b.tenant && a.sequence_id == b.sequence_id &&
           a.recipient_id == b.recipient_id;
  }
};

inline std::string SequenceStream(absl::string_view tenant,
                                  absl::string_view sequence) {
  return absl::StrCat(kSequenceStreamPrefix, tenant, "/", sequence);
}
inline std::string RecipientStream(absl::string_view tenant,
                                   absl::string_view sequence,
                                   absl::string_view recipient) {
  return absl::StrCat(kRecipientStreamPrefix, tenant, "/", sequence, "/",
                      recipient);
}
inline std::string DeletionStream(absl::string_view tenant,
                                  absl::string_view sequence,
                                  absl::string_view recipient) {
  return absl::StrCat(kDeletionStreamPrefix, tenant, "/", sequence, "/",
                      recipient);
}
// A KeyRef whose ids point into the parsed name.
struct KeyRefView {
  absl::string_view tenant;
  absl::string_view sequence_id;
  absl::string_view recipient_id;
};
// A sequence's (recipient_id empty) or a recipient's stream; nullopt for any
// other name.
inline std::optional<KeyRefView> ParseStreamView(absl::string_view name) {
  absl::string_view parts[3];
  if (SplitKeyInto(name, kSequenceStreamPrefix, 2, parts)) {
    return KeyRefView{parts[0], parts[1], {}};
  }
  if (SplitKeyInto(name, kRecipientStreamPrefix, 3, parts)) {
    return KeyRefView{parts[0], parts[1], parts[2]};
  }
  return std::nullopt;
}
// The recipient a DeletionStream is about; nullopt for any other name.
inline std::optional<KeyRefView> ParseDeletionStreamView(
    absl::string_view name) {
  absl::string_view parts[3];
  if (!SplitKeyInto(name, kDeletionStreamPrefix, 3, parts)) {
    return std::nullopt;
  }
  return KeyRefView{parts[0], parts[1], parts[2]};
}
inline std::optional<KeyRef> ParseStream(absl::string_view name) {
  std::optional<KeyRefView> ref = ParseStreamView(name);
  if (!ref.has_value()) return std::nullopt;
  return KeyRef{std::string(ref->tenant), std::string(ref->sequence_id),
                std::string(ref->recipient_id)};
}
inline std::string SequenceListPrefix(absl::string_view tenant) {
  return absl::StrCat(kSequenceListRoot, tenant, "/");
}
inline std::string SequenceListKey(absl::string_view tenant,
                                   absl::string_view sequence) {
  return absl::StrCat(SequenceListPrefix(tenant), sequence);
}
inline std::string RecipientListPrefix(absl::string_view tenant,
                                       absl::string_view sequence) {
  return absl::StrCat(kRecipientListRoot, tenant, "/", sequence, "/");
}
// The Append* forms append the key to `out` (for building many keys in one
// buffer); the others return the same bytes.
inline void AppendRecipientListKey(std::string* out, absl::string_view tenant,
                                   absl::string_view sequence,
                                   absl::string_view recipient) {
  absl::StrAppend(out, kRecipientListRoot, tenant, "/", sequence, "/",
                  recipient);
}
inline std::string RecipientListKey(absl::string_view tenant,
                                    absl::string_view sequence,
                                    absl::string_view recipient) {
  std::string key;
  AppendRecipientListKey(&key, tenant, sequence, recipient);
  return key;
}
inline std::string StatusIndexPrefix(absl::string_view tenant,
                                     absl::string_view sequence,
                                     absl::string_view status) {
  return absl::StrCat(kStatusIndexRoot, tenant, "/", sequence, "/", status,
                      "/");
}
inline void AppendStatusIndexKey(std::string* out, absl::string_view tenant,
                                 absl::string_view sequence,
                                 absl::string_view status,
                                 absl::string_view recipient) {
  absl::StrAppend(out, kStatusIndexRoot, tenant, "/", sequence, "/", status,
                  "/", recipient);
}
inline std::string StatusIndexKey(absl::string_view tenant,
                                  absl::string_view sequence,
                                  absl::string_view status,
                                  absl::string_view recipient) {
  std::string key;
  AppendStatusIndexKey(&key, tenant, sequence, status, recipient);
  return key;
}
// A status as it appears in index keys and values (rs/, rl/): the short form
// "IN_PROGRESS", "PAUSED", ... (the stored format predates the API spelling
// and stays stable).
inline absl::string_view StatusKeyView(domain::RecipientStatus status) {
  const std::string_view name = domain::StatusName(status);
  return absl::StripPrefix(absl::string_view(name.data(), name.size()),
                           "RECIPIENT_STATUS_");
}
inline std::string StatusKey(domain::RecipientStatus status) {
  return std::string(StatusKeyView(status));
}
inline std::optional<KeyRef> ParseSequenceListKey(absl::string_view key) {
  auto parts = SplitKey(key, kSequenceListRoot, 2);
  if (parts.empty()) return std::nullopt;
  return KeyRef{std::string(parts[0]), std::string(parts[1]), ""};
}
inline std::optional<KeyRef> ParseRecipientListKey(absl::string_view key) {
  auto parts = SplitKey(key, kRecipientListRoot, 3);
  if (parts.empty()) return std::nullopt;
  return KeyRef{std::string(parts[0]), std::string(parts[1]),
                std::string(parts[2])};
}
// The recipient of a StatusIndexKey; `status` (optional) gets its StatusKey.
inline std::optional<KeyRef> ParseStatusIndexKey(absl::string_view key,
                                                 std::string* status) {
  auto parts = SplitKey(key, kStatusIndexRoot, 4);
  if (parts.empty()) return std::nullopt;
  if (status != nullptr) *status = std::string(parts[2]);
  return KeyRef{std::string(parts[0]), std::string(parts[1]),
                std::string(parts[3])};
}
inline std::string ReportPrefix(absl::string_view tenant,
                                absl::string_view sequence) {
  return absl::StrCat(kReportRoot, tenant, "/", sequence, "/");
}
inline void AppendReportEntryKey(std::string* out, absl::string_view tenant,
                                 absl::string_view sequence,
                                 absl::string_view recipient) {
  absl::StrAppend(out, kReportRoot, tenant, "/", sequence, "/", recipient);
}
inline std::string ReportEntryKey(absl::string_view tenant,
                                  absl::string_view sequence,
                                  absl::string_view recipient) {
  std::string key;
  AppendReportEntryKey(&key, tenant, sequence, recipient);
  return key;
}
inline std::optional<KeyRef> ParseReportEntryKey(absl::string_view key) {
  auto parts = SplitKey(key, kReportRoot, 3);
  if (parts.empty()) return std::nullopt;
  return KeyRef{std::string(parts[0]), std::string(parts[1]),
                std::string(parts[2])};
}
inline std::string IdempotencyKey(absl::string_view tenant,
                                  absl::string_view request_id) {
  return absl::StrCat(kIdempotencyPrefix, tenant, "/", request_id);
}

inline std::string ConfirmationKey(absl::string_view tenant,
                                   absl::string_view token) {
  return absl::StrCat(kConfirmationPrefix, tenant, "/", token);
}

inline constexpr char kSequenceOpPrefix[] = "seqop/";
inline std::string SequenceOpKey(absl::string_view tenant,
                                 absl::string_view sequence) {
  return absl::StrCat(kSequenceOpPrefix, tenant, "/", sequence);
}

inline std::optional<KeyRef> ParseSequenceOpKey(absl::string_view key) {
  auto parts = SplitKey(key, kSequenceOpPrefix, 2);
  if (parts.empty()) return std::nullopt;
  return KeyRef{std::string(parts[0]), std::string(parts[1]), ""};
}

// Microseconds since the epoch (0 before it) as 16 lower-case hex digits.
inline void AppendTimeKey(std::string* out, absl::Time time) {
  const int64_t micros = absl::ToUnixMicros(time);
  uint64_t value = static_cast<uint64_t>(micros < 0 ? 0 : micros);
  char digits[16];
  for (int i = 15; i >= 0; --i) {
    digits[i] = "0123456789abcdef"[value & 0xf];
    value >>= 4;
  }
  out->append(digits, sizeof(digits));
}
inline std::string TimeKey(absl::Time time) {
  std::string key;
  AppendTimeKey(&key, time);
  return key;
}
// The time TimeKey wrote; nullopt for anything else.
inline std::optional<absl::Time> ParseTimeKey(absl::string_view text) {
  uint64_t micros = 0;
  if (text.size() != 16 || !absl::SimpleHexAtoi(text, &micros)) {
    return std::nullopt;
  }
  return absl::FromUnixMicros(static_cast<int64_t>(micros));
}
inline constexpr char kDuePrefix[] = "due/";
inline void AppendDueKey(std::string* out, absl::Time due,
                         absl::string_view tenant, absl::string_view sequence,
                         absl::string_view recipient) {
  out->append(kDuePrefix);
  AppendTimeKey(out, due);
  absl::StrAppend(out, "/", tenant, "/", sequence, "/", recipient);
}
inline std::string DueKey(absl::Time due, absl::string_view tenant,
                          absl::string_view sequence,
                          absl::string_view recipient) {
  std::string key;
  AppendDueKey(&key, due, tenant, sequence, recipient);
  return key;
}
struct DueEntry {
  absl::Time due;
  KeyRef recipient;
};
inline std::optional<DueEntry> ParseDueKey(absl::string_view key) {
  auto parts = SplitKey(key, kDuePrefix, 4);
  if (parts.empty()) return std::nullopt;
  std::optional<absl::Time> due = ParseTimeKey(parts[0]);
  if (!due.has_value()) return std::nullopt;
  return DueEntry{
      *due,
      {std::string(parts[1]), std::string(parts[2]), std::string(parts[3])}};
}
inline constexpr char kReadyPrefix[] = "ready/";
inline std::string ReadyPrefix(absl::string_view tenant,
                               absl::string_view channel) {
  return absl::StrCat(kReadyPrefix, tenant, "/", channel, "/");
}
inline void AppendReadyKey(std::string* out, absl::string_view tenant,
                           absl::string_view channel, absl::Time due,
                           absl::string_view sequence,
                           absl::string_view recipient) {
  absl::StrAppend(out, kReadyPrefix, tenant, "/", channel, "/");
  AppendTimeKey(out, due);
  absl::StrAppend(out, "/", sequence, "/", recipient);
}
inline std::string ReadyKey(absl::string_view tenant, absl::string_view channel,
                            absl::Time due, absl::string_view sequence,
                            absl::string_view recipient) {
  std::string key;
  AppendReadyKey(&key, tenant, channel, due, sequence, recipient);
  return key;
}
struct ReadyEntry {
  std::string channel;
  absl::Time due;
  KeyRef recipient;
};
inline std::optional<ReadyEntry> ParseReadyKey(absl::string_view key) {
  auto parts = SplitKey(key, kReadyPrefix, 5);
  if (parts.empty()) return std::nullopt;
  std::optional<absl::Time> due = ParseTimeKey(parts[2]);
  if (!due.has_value()) return std::nullopt;
  return ReadyEntry{
      std::string(parts[1]),
      *due,
      {std::string(parts[0]), std::string(parts[3]), std::string(parts[4])}};
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
