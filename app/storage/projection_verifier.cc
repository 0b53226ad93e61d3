#include "app/storage/projection_verifier.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "app/storage/event_codec.h"
#include "app/storage/repository.h"
#include "app/storage/store_layout.h"
#include "domain/model.h"
#include "sequencer/v1/events.pb.h"

namespace sequencer::app {
namespace {

// Where sequence streams are (layout::SequenceStream).
constexpr absl::string_view kSequenceStreams = layout::kSequenceStreamPrefix;

enum class StreamKind { kUnknown, kSequence, kRecipient };

struct StreamInfo {
  StreamKind kind = StreamKind::kUnknown;
  std::string tenant;
  std::string sequence;
  std::string recipient;
  // The last version seen in the log.
  uint64_t version = 0;
  // Some event did not decode: the stream is not folded and its index entries
  // are not compared.
  bool broken = false;
  // After folding: listed (exists and not deleted), with this status.
  bool listed = false;
  std::string status;
};

// The listing prefixes compared, in the order they are compared.
constexpr absl::string_view kComparedPrefixes[] = {
    layout::kSequenceListRoot, layout::kRecipientListRoot,
    layout::kStatusIndexRoot, layout::kDuePrefix, layout::kReadyPrefix};
constexpr int kComparedCount =
    sizeof(kComparedPrefixes) / sizeof(kComparedPrefixes[0]);

// The index of the compared prefix `key` starts with, or -1.
int ComparedPrefixOf(absl::string_view key) {
  for (int i = 0; i < kComparedCount; ++i) {
    if (absl::StartsWith(key, kComparedPrefixes[i])) return i;
  }
  return -1;
}

StreamInfo ParseStreamName(absl::string_view name) {
  StreamInfo info;
  std::optional<layout::KeyRef> ref = layout::ParseStream(name);
  if (!ref.has_value()) return info;
  info.kind = ref->recipient_id.empty() ? StreamKind::kSequence
                                        : StreamKind::kRecipient;
  info.tenant = ref->tenant;
  info.sequence = ref->sequence_id;
  info.recipient = ref->recipient_id;
  return info;
}

// The identity ("tenant/sequence" or "tenant/sequence/recipient") an index
// key of a compared prefix belongs to, or "" when the key is malformed.
std::string KeyIdentity(absl::string_view key) {
  std::optional<layout::KeyRef> ref;
  if (auto listed = layout::ParseSequenceListKey(key)) {
    ref = std::move(listed);
  } else if (auto recipient = layout::ParseRecipientListKey(key)) {
    ref = std::move(recipient);
  } else if (auto by_status = layout::ParseStatusIndexKey(key, nullptr)) {
    ref = std::move(by_status);
  } else if (auto due = layout::ParseDueKey(key)) {
    ref = due->recipient;
  } else if (auto ready = layout::ParseReadyKey(key)) {
    ref = ready->recipient;
  }
  if (!ref.has_value()) return "";
  return ref->recipient_id.empty()
             ? absl::StrCat(ref->tenant, "/", ref->sequence_id)
             : absl::StrCat(ref->tenant, "/", ref->sequence_id, "/",
                            ref->recipient_id);
}

std::string Quote(absl::string_view s) {
  return absl::StrCat("\"", absl::CHexEscape(s), "\"");
}

class Findings {
 public:
  Findings(VerifyResult* result, size_t max_reported)
      : result_(*result), max_reported_(max_reported) {}

  void Add(std::string line) {
    ++result_.discrepancy_count;
    if (result_.discrepancies.size() < max_reported_) {
      result_.discrepancies.push_back(std::move(line));
    }
  }

 private:
  VerifyResult& result_;
  size_t max_reported_;
};

}  // namespace

std::string VerifyResult::Summary() const {
  std::string out =
      absl::StrCat("log: ", events, " events, last position ", last_position,
                   "\nsequences: ", sequences, "\nrecipients: ", recipients,
                   " listed, ", deleted_recipients, " deleted\n");
  for (const auto& [status, count] : recipients_by_status) {
    absl::StrAppend(&out, "  ", status, ": ", count, "\n");
  }
  absl::StrAppend(&out, "index: ", index_entries, " listing entries, ",
                  idempotency_records, " idempotency records\n");
  if (ok()) {
    absl::StrAppend(&out, "OK: the projections match the log\n");
    return out;
  }
  absl::StrAppend(&out, discrepancy_count, " discrepancies");
  if (discrepancies.size() < discrepancy_count) {
    absl::StrAppend(&out, " (first ", discrepancies.size(), " listed)");
  }
  absl::StrAppend(&out, ":\n");
  for (const auto& line : discrepancies)
    absl::StrAppend(&out, "  ", line, "\n");
  return out;
}

ProjectionVerifier::ProjectionVerifier(eventstore::EventStore* store,
                                       Options options)
    : store_(*store), options_(options) {
  if (options_.chunk_size == 0) options_.chunk_size = 1;
}

absl::StatusOr<VerifyResult> ProjectionVerifier::Verify() const {
  VerifyResult result;
  Findings findings(&result, options_.max_reported);
  result.last_position = store_.LastPosition();

  // 1. The log, one stream after the other (ScanStreams: a sequential read),
  // sequences first: a recipient's index entries depend on its sequence.
  // Each event is checked, decoded once and folded with the service's own
  // code (codec + domain::Evolve, as Repository::LoadSequence/LoadRecipient).
  // Findings about the streams are kept apart until the positions have been
  // checked, so that the log's own findings (gaps) come first.
  VerifyResult stream_lines;
  Findings stream_findings(&stream_lines, options_.max_reported);
  // Recipients whose sequence does not exist, reported after the above.
  VerifyResult orphan_lines;
  Findings orphan_findings(&orphan_lines, options_.max_reported);
  // The index entries the folded states imply, per compared prefix; sorted
  // before the comparison (they mostly come sorted already).
  std::vector<std::pair<std::string, std::string>> expected[kComparedCount];
  std::map<std::string, domain::Sequence> sequences;  // "tenant/sequence"
  std::set<std::string> folded_sequences;             // "tenant/sequence"
  std::set<std::string> unverifiable;                 // identities not compared
  // Which positions 1..last_position the streams hold (one bit each), and
  // any beyond it.
  std::vector<bool> seen(result.last_position + 1, false);
  std::set<uint64_t> beyond;

  // The stream being read (`info` points at `current_info` while there is
  // one); streams are read one after the other, each once.
  StreamInfo current_info;
  StreamInfo* info = nullptr;
  std::string current;  // the stream `info` describes
  uint64_t previous_position = 0;
  domain::Sequence sequence_state;
  domain::Recipient recipient_state;
  v1::Event event;

  auto finish_stream = [&]() {
    if (info == nullptr) return;
    StreamInfo& done = *info;
    info = nullptr;
    if (done.kind == StreamKind::kSequence) {
      const std::string identity =
          absl::StrCat(done.tenant, "/", done.sequence);
      if (done.broken) {
        unverifiable.insert(identity);
        return;
      }
      if (!sequence_state.exists ||
          sequence_state.sequence_id != done.sequence ||
          sequence_state.tenant_id != done.tenant) {
        stream_findings.Add(absl::StrCat("stream ", Quote(current),
                                         " does not fold into its sequence"));
        return;
      }
      ++result.sequences;
      done.listed = true;
      folded_sequences.insert(identity);
      sequences[identity] = std::move(sequence_state);
      expected[0 /* sq/ */].emplace_back(
          layout::SequenceListKey(done.tenant, done.sequence), "");
    } else if (done.kind == StreamKind::kRecipient) {
      const std::string identity =
          absl::StrCat(done.tenant, "/", done.sequence, "/", done.recipient);
      const std::string sequence_identity =
          absl::StrCat(done.tenant, "/", done.sequence);
      if (!folded_sequences.count(sequence_identity) &&
          !unverifiable.count(sequence_identity)) {
        orphan_findings.Add(absl::StrCat("stream ", Quote(current),
                                         " belongs to no existing sequence"));
      }
      // A recipient of a sequence that could not be folded cannot be judged
      // either: its index entries depend on the sequence.
      if (done.broken || unverifiable.count(sequence_identity)) {
        unverifiable.insert(identity);
        return;
      }
      const domain::Recipient& recipient = recipient_state;
      if (!recipient.exists || recipient.recipient_id != done.recipient ||
          recipient.sequence_id != done.sequence ||
          recipient.tenant_id != done.tenant) {
        stream_findings.Add(absl::StrCat("stream ", Quote(current),
                                         " does not fold into its recipient"));
        return;
      }
      if (recipient.deleted) {
        ++result.deleted_recipients;
        return;
      }
      ++result.recipients;
      done.listed = true;
      done.status = std::string(domain::StatusName(recipient.status));
      ++result.recipients_by_status[done.status];
      // An absent or unfoldable sequence folds to the empty state, as
      // Repository::LoadSequence gives it.
      static const domain::Sequence* const kNoSequence = new domain::Sequence();
      auto sequence = sequences.find(sequence_identity);
      for (auto& [key, value] : Repository::ProjectionEntries(
               done.tenant, done.sequence, done.recipient, recipient,
               sequence == sequences.end() ? *kNoSequence : sequence->second)) {
        const int bucket = ComparedPrefixOf(key);
        if (bucket >= 0) expected[bucket].emplace_back(key, value);
      }
    }
  };

  auto visit = [&](const eventstore::StoredEventView& stored) -> absl::Status {
    ++result.events;
    if (info == nullptr || stored.stream != current) {
      finish_stream();
      current = std::string(stored.stream);
      current_info = ParseStreamName(current);
      info = &current_info;
      previous_position = 0;
      sequence_state = domain::Sequence();
      recipient_state = domain::Recipient();
      if (info->kind == StreamKind::kUnknown) {
        stream_findings.Add(absl::StrCat("unknown stream ", Quote(current),
                                         " (first event at position ",
                                         stored.position, ")"));
      }
    }
    // Built only for a finding.
    auto where = [&stored]() {
      return absl::StrCat("event at position ", stored.position, " (",
                          Quote(stored.stream), " v", stored.version, ")");
    };
    if (stored.position == 0) {
      stream_findings.Add(absl::StrCat(where(), ": position 0"));
    } else if (stored.position <= result.last_position) {
      if (seen[stored.position]) {
        stream_findings.Add(absl::StrCat(where(), ": position used twice"));
      }
      seen[stored.position] = true;
    } else {
      beyond.insert(stored.position);
    }
    if (stored.version != info->version + 1) {
      stream_findings.Add(
          absl::StrCat(where(), ": version follows v", info->version));
      // A stream with a missing event cannot be folded: reported once, and
      // its index entries are not compared.
      info->broken = true;
    } else if (stored.position <= previous_position) {
      stream_findings.Add(absl::StrCat(where(), ": comes before v",
                                       info->version, " at position ",
                                       previous_position));
    }
    info->version = stored.version;
    previous_position = stored.position;
    if (info->kind == StreamKind::kUnknown || info->broken) {
      return absl::OkStatus();
    }

    if (!event.ParseFromArray(stored.data.data(),
                              static_cast<int>(stored.data.size()))) {
      stream_findings.Add(absl::StrCat(where(), ": does not parse"));
      info->broken = true;
      return absl::OkStatus();
    }
    absl::Status decoded;
    if (info->kind == StreamKind::kSequence) {
      auto folded = SequenceEventFromProto(event);
      decoded = folded.status();
      if (folded.ok()) {
        sequence_state = domain::Evolve(std::move(sequence_state), *folded);
      }
    } else {
      auto folded = RecipientEventFromProto(event);
      decoded = folded.status();
      if (folded.ok()) {
        recipient_state = domain::Evolve(std::move(recipient_state), *folded);
      }
    }
    if (!decoded.ok()) {
      stream_findings.Add(
          absl::StrCat(where(), ": does not decode: ", decoded.message()));
      info->broken = true;
      return absl::OkStatus();
    }
    const std::string type = EventTypeName(event);
    if (type != stored.type) {
      stream_findings.Add(absl::StrCat(where(), ": stored type ",
                                       Quote(stored.type),
                                       " but the payload is ", type));
    }
    if (event.metadata().tenant_id() != info->tenant) {
      stream_findings.Add(absl::StrCat(where(), ": metadata names tenant ",
                                       Quote(event.metadata().tenant_id())));
    }
    return absl::OkStatus();
  };

  absl::Status scanned = store_.ScanStreams(kSequenceStreams, visit);
  finish_stream();
  if (!scanned.ok()) return scanned;
  scanned =
      store_.ScanStreams("", [&](const eventstore::StoredEventView& stored) {
        if (absl::StartsWith(stored.stream, kSequenceStreams)) {
          return absl::OkStatus();  // Done above.
        }
        return visit(stored);
      });
  finish_stream();
  if (!scanned.ok()) return scanned;

  // Positions: 1..last_position, each once (duplicates were found above).
  uint64_t next_position = 1;
  auto found = [&](uint64_t position) {
    if (position != next_position) {
      findings.Add(absl::StrCat("log gap: expected position ", next_position,
                                ", found ", position));
    }
    next_position = position + 1;
  };
  for (uint64_t p = 1; p < seen.size(); ++p) {
    if (seen[p]) found(p);
  }
  for (uint64_t p : beyond) found(p);
  if (next_position - 1 != result.last_position) {
    findings.Add(absl::StrCat("log ends at position ", next_position - 1,
                              " but the store's last position is ",
                              result.last_position));
  }
  for (std::string& line : stream_lines.discrepancies) {
    findings.Add(std::move(line));
  }
  result.discrepancy_count +=
      stream_lines.discrepancy_count - stream_lines.discrepancies.size();

  for (std::string& line : orphan_lines.discrepancies) {
    findings.Add(std::move(line));
  }
  result.discrepancy_count +=
      orphan_lines.discrepancy_count - orphan_lines.discrepancies.size();

  // 2. Compare the projection indexes, one prefix at a time: a merge of the
  // sorted expected entries with the stored ones (which ScanIndex gives in
  // key order). Missing entries are listed after the prefix's others.
  for (int bucket = 0; bucket < kComparedCount; ++bucket) {
    const absl::string_view prefix = kComparedPrefixes[bucket];
    std::vector<std::pair<std::string, std::string>>& want = expected[bucket];
    if (!std::is_sorted(want.begin(), want.end())) {
      std::sort(want.begin(), want.end());
    }
    size_t next = 0;  // the first expected entry not yet matched or missed
    std::vector<std::string> missing;
    auto miss = [&](const std::pair<std::string, std::string>& entry) {
      if (missing.size() < options_.max_reported) {
        missing.push_back(absl::StrCat("missing index entry ",
                                       Quote(entry.first), " = ",
                                       Quote(entry.second)));
      } else {
        ++result.discrepancy_count;  // Counted, not listed.
      }
    };
    std::string start_after;
    while (true) {
      auto entries = store_.ScanIndex(prefix, start_after, options_.chunk_size);
      if (!entries.ok()) return entries.status();
      if (entries->empty()) break;
      start_after = entries->back().first;
      for (const auto& [key, value] : *entries) {
        ++result.index_entries;
        while (next < want.size() && want[next].first < key) {
          miss(want[next++]);
        }
        const bool expected_here =
            next < want.size() && want[next].first == key;
        if (!unverifiable.empty()) {
          const std::string identity = KeyIdentity(key);
          if (!identity.empty() && unverifiable.count(identity)) {
            if (expected_here) ++next;
            continue;
          }
        }
        if (!expected_here) {
          findings.Add(absl::StrCat("unexpected index entry ", Quote(key),
                                    " = ", Quote(value)));
          continue;
        }
        if (want[next].second != value) {
          findings.Add(absl::StrCat("different index entry ", Quote(key), " = ",
                                    Quote(value), ", expected ",
                                    Quote(want[next].second)));
        }
        ++next;
      }
    }
    while (next < want.size()) miss(want[next++]);
    for (std::string& line : missing) findings.Add(std::move(line));
    std::vector<std::pair<std::string, std::string>>().swap(want);
  }

  std::string start_after;
  while (true) {
    auto entries = store_.ScanIndex("idem/", start_after, options_.chunk_size);
    if (!entries.ok()) return entries.status();
    if (entries->empty()) break;
    start_after = entries->back().first;
    result.idempotency_records += entries->size();
  }
  return result;
}

}  // namespace sequencer::app
