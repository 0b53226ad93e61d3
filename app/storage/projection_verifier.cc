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

// A key prefix as a string_view (the two-argument constructor stays a
// constant expression under sanitizers, which check the pointer otherwise).
template <size_t N>
constexpr absl::string_view View(const char (&prefix)[N]) {
  return absl::string_view(prefix, N - 1);
}

// Where sequence streams are (layout::SequenceStream).
constexpr absl::string_view kSequenceStreams =
    View(layout::kSequenceStreamPrefix);

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
    View(layout::kSequenceListRoot), View(layout::kRecipientListRoot),
    View(layout::kStatusIndexRoot), View(layout::kDuePrefix),
    View(layout::kReadyPrefix)};
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

// One run of ProjectionVerifier::Verify: (1) the log, one stream after the
// other (ScanStreams: a sequential read), sequences first since a recipient's
// index entries depend on its sequence; each event is checked, decoded once
// and folded with the service's own code (codec + domain::Evolve, as
// Repository::LoadSequence/LoadRecipient); (2) the positions; (3) the
// projection indexes against what the folded states imply.
class VerifyPass {
 public:
  VerifyPass(const eventstore::EventStore& store,
             const ProjectionVerifier::Options& options)
      : store_(store),
        options_(options),
        findings_(&result_, options.max_reported),
        stream_findings_(&stream_lines_, options.max_reported),
        orphan_findings_(&orphan_lines_, options.max_reported) {}

  absl::StatusOr<VerifyResult> Run() {
    result_.last_position = store_.LastPosition();
    seen_.assign(result_.last_position + 1, false);
    if (absl::Status scanned = ScanLog(); !scanned.ok()) return scanned;
    CheckPositions();
    // The log's own findings (gaps) come first, then the streams', then
    // recipients of no sequence.
    MoveFindings(&stream_lines_);
    MoveFindings(&orphan_lines_);
    for (int bucket = 0; bucket < kComparedCount; ++bucket) {
      if (absl::Status compared = CompareIndex(bucket); !compared.ok()) {
        return compared;
      }
    }
    if (absl::Status counted = CountIdempotencyRecords(); !counted.ok()) {
      return counted;
    }
    return std::move(result_);
  }

 private:
  absl::Status ScanLog() {
    auto visit = [this](const eventstore::StoredEventView& stored) {
      return Visit(stored);
    };
    absl::Status scanned = store_.ScanStreams(kSequenceStreams, visit);
    FinishStream();
    if (!scanned.ok()) return scanned;
    scanned =
        store_.ScanStreams("", [&](const eventstore::StoredEventView& stored) {
          if (absl::StartsWith(stored.stream, kSequenceStreams)) {
            return absl::OkStatus();  // Done above.
          }
          return visit(stored);
        });
    FinishStream();
    return scanned;
  }

  void StartStream(const eventstore::StoredEventView& stored) {
    FinishStream();
    current_ = std::string(stored.stream);
    current_info_ = ParseStreamName(current_);
    info_ = &current_info_;
    previous_position_ = 0;
    sequence_state_ = domain::Sequence();
    recipient_state_ = domain::Recipient();
    if (info_->kind == StreamKind::kUnknown) {
      stream_findings_.Add(absl::StrCat("unknown stream ", Quote(current_),
                                        " (first event at position ",
                                        stored.position, ")"));
    }
  }

  absl::Status Visit(const eventstore::StoredEventView& stored) {
    ++result_.events;
    if (info_ == nullptr || stored.stream != current_) StartStream(stored);
    CheckPlace(stored);
    if (info_->kind == StreamKind::kUnknown || info_->broken) {
      return absl::OkStatus();
    }
    Fold(stored);
    return absl::OkStatus();
  }

  static std::string Where(const eventstore::StoredEventView& stored) {
    return absl::StrCat("event at position ", stored.position, " (",
                        Quote(stored.stream), " v", stored.version, ")");
  }

  // The event's position (once in the log) and version (next in its
  // stream).
  void CheckPlace(const eventstore::StoredEventView& stored) {
    if (stored.position == 0) {
      stream_findings_.Add(absl::StrCat(Where(stored), ": position 0"));
    } else if (stored.position <= result_.last_position) {
      if (seen_[stored.position]) {
        stream_findings_.Add(
            absl::StrCat(Where(stored), ": position used twice"));
      }
      seen_[stored.position] = true;
    } else {
      beyond_.insert(stored.position);
    }
    if (stored.version != info_->version + 1) {
      stream_findings_.Add(
          absl::StrCat(Where(stored), ": version follows v", info_->version));
      // A stream with a missing event cannot be folded: reported once, and
      // its index entries are not compared.
      info_->broken = true;
    } else if (stored.position <= previous_position_) {
      stream_findings_.Add(absl::StrCat(Where(stored), ": comes before v",
                                        info_->version, " at position ",
                                        previous_position_));
    }
    info_->version = stored.version;
    previous_position_ = stored.position;
  }

  // Decodes the event and folds it into the stream's state.
  void Fold(const eventstore::StoredEventView& stored) {
    if (!event_.ParseFromArray(stored.data.data(),
                               static_cast<int>(stored.data.size()))) {
      stream_findings_.Add(absl::StrCat(Where(stored), ": does not parse"));
      info_->broken = true;
      return;
    }
    absl::Status decoded;
    if (info_->kind == StreamKind::kSequence) {
      auto folded = SequenceEventFromProto(event_);
      decoded = folded.status();
      if (folded.ok()) {
        sequence_state_ = domain::Evolve(std::move(sequence_state_), *folded);
      }
    } else {
      auto folded = RecipientEventFromProto(event_);
      decoded = folded.status();
      if (folded.ok()) {
        recipient_state_ = domain::Evolve(std::move(recipient_state_), *folded);
      }
    }
    if (!decoded.ok()) {
      stream_findings_.Add(absl::StrCat(
          Where(stored), ": does not decode: ", decoded.message()));
      info_->broken = true;
      return;
    }
    const std::string type = EventTypeName(event_);
    if (type != stored.type) {
      stream_findings_.Add(absl::StrCat(Where(stored), ": stored type ",
                                        Quote(stored.type),
                                        " but the payload is ", type));
    }
    if (event_.metadata().tenant_id() != info_->tenant) {
      stream_findings_.Add(absl::StrCat(Where(stored),
                                        ": metadata names tenant ",
                                        Quote(event_.metadata().tenant_id())));
    }
  }

  void FinishStream() {
    if (info_ == nullptr) return;
    StreamInfo& done = *info_;
    info_ = nullptr;
    if (done.kind == StreamKind::kSequence) FinishSequence(done);
    if (done.kind == StreamKind::kRecipient) FinishRecipient(done);
  }

  void FinishSequence(StreamInfo& done) {
    const std::string identity = absl::StrCat(done.tenant, "/", done.sequence);
    if (done.broken) {
      unverifiable_.insert(identity);
      return;
    }
    if (!sequence_state_.exists ||
        sequence_state_.sequence_id != done.sequence ||
        sequence_state_.tenant_id != done.tenant) {
      stream_findings_.Add(absl::StrCat("stream ", Quote(current_),
                                        " does not fold into its sequence"));
      return;
    }
    ++result_.sequences;
    done.listed = true;
    folded_sequences_.insert(identity);
    sequences_[identity] = std::move(sequence_state_);
    expected_[0 /* sq/ */].emplace_back(
        layout::SequenceListKey(done.tenant, done.sequence), "");
  }

  void FinishRecipient(StreamInfo& done) {
    const std::string identity =
        absl::StrCat(done.tenant, "/", done.sequence, "/", done.recipient);
    const std::string sequence_identity =
        absl::StrCat(done.tenant, "/", done.sequence);
    if (!folded_sequences_.count(sequence_identity) &&
        !unverifiable_.count(sequence_identity)) {
      orphan_findings_.Add(absl::StrCat("stream ", Quote(current_),
                                        " belongs to no existing sequence"));
    }
    // A recipient of a sequence that could not be folded cannot be judged
    // either: its index entries depend on the sequence.
    if (done.broken || unverifiable_.count(sequence_identity)) {
      unverifiable_.insert(identity);
      return;
    }
    const domain::Recipient& recipient = recipient_state_;
    if (!recipient.exists || recipient.recipient_id != done.recipient ||
        recipient.sequence_id != done.sequence ||
        recipient.tenant_id != done.tenant) {
      stream_findings_.Add(absl::StrCat("stream ", Quote(current_),
                                        " does not fold into its recipient"));
      return;
    }
    if (recipient.deleted) {
      ++result_.deleted_recipients;
      return;
    }
    ++result_.recipients;
    done.listed = true;
    done.status = std::string(domain::StatusName(recipient.status));
    ++result_.recipients_by_status[done.status];
    // An absent or unfoldable sequence folds to the empty state, as
    // Repository::LoadSequence gives it.
    static const domain::Sequence* const kNoSequence = new domain::Sequence();
    auto sequence = sequences_.find(sequence_identity);
    for (auto& [key, value] : Repository::ProjectionEntries(
             done.tenant, done.sequence, done.recipient, recipient,
             sequence == sequences_.end() ? *kNoSequence : sequence->second)) {
      const int bucket = ComparedPrefixOf(key);
      if (bucket >= 0) expected_[bucket].emplace_back(key, value);
    }
  }

  // Positions: 1..last_position, each once (duplicates were found above).
  void CheckPositions() {
    uint64_t next_position = 1;
    auto found = [&](uint64_t position) {
      if (position != next_position) {
        findings_.Add(absl::StrCat("log gap: expected position ", next_position,
                                   ", found ", position));
      }
      next_position = position + 1;
    };
    for (uint64_t p = 1; p < seen_.size(); ++p) {
      if (seen_[p]) found(p);
    }
    for (uint64_t p : beyond_) found(p);
    if (next_position - 1 != result_.last_position) {
      findings_.Add(absl::StrCat("log ends at position ", next_position - 1,
                                 " but the store's last position is ",
                                 result_.last_position));
    }
  }

  void MoveFindings(VerifyResult* lines) {
    for (std::string& line : lines->discrepancies) {
      findings_.Add(std::move(line));
    }
    result_.discrepancy_count +=
        lines->discrepancy_count - lines->discrepancies.size();
  }

  // One compared prefix: a merge of the sorted expected entries with the
  // stored ones (which ScanIndex gives in key order). Missing entries are
  // listed after the prefix's others.
  absl::Status CompareIndex(int bucket) {
    const absl::string_view prefix = kComparedPrefixes[bucket];
    std::vector<std::pair<std::string, std::string>>& want = expected_[bucket];
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
        ++result_.discrepancy_count;  // Counted, not listed.
      }
    };
    std::string start_after;
    while (true) {
      auto entries = store_.ScanIndex(prefix, start_after, options_.chunk_size);
      if (!entries.ok()) return entries.status();
      if (entries->empty()) break;
      start_after = entries->back().first;
      for (const auto& [key, value] : *entries) {
        ++result_.index_entries;
        while (next < want.size() && want[next].first < key) {
          miss(want[next++]);
        }
        const bool expected_here =
            next < want.size() && want[next].first == key;
        if (!unverifiable_.empty()) {
          const std::string identity = KeyIdentity(key);
          if (!identity.empty() && unverifiable_.count(identity)) {
            if (expected_here) ++next;
            continue;
          }
        }
        if (!expected_here) {
          findings_.Add(absl::StrCat("unexpected index entry ", Quote(key),
                                     " = ", Quote(value)));
          continue;
        }
        if (want[next].second != value) {
          findings_.Add(absl::StrCat("different index entry ", Quote(key),
                                     " = ", Quote(value), ", expected ",
                                     Quote(want[next].second)));
        }
        ++next;
      }
    }
    while (next < want.size()) miss(want[next++]);
    for (std::string& line : missing) findings_.Add(std::move(line));
    std::vector<std::pair<std::string, std::string>>().swap(want);
    return absl::OkStatus();
  }

  absl::Status CountIdempotencyRecords() {
    std::string start_after;
    while (true) {
      auto entries = store_.ScanIndex(layout::kIdempotencyPrefix, start_after,
                                      options_.chunk_size);
      if (!entries.ok()) return entries.status();
      if (entries->empty()) return absl::OkStatus();
      start_after = entries->back().first;
      result_.idempotency_records += entries->size();
    }
  }

  const eventstore::EventStore& store_;
  const ProjectionVerifier::Options& options_;
  VerifyResult result_;
  Findings findings_;
  // Findings about the streams and orphans, kept apart until the positions
  // have been checked.
  VerifyResult stream_lines_;
  Findings stream_findings_;
  VerifyResult orphan_lines_;
  Findings orphan_findings_;
  // The index entries the folded states imply, per compared prefix; sorted
  // before the comparison (they mostly come sorted already).
  std::vector<std::pair<std::string, std::string>> expected_[kComparedCount];
  std::map<std::string, domain::Sequence> sequences_;  // "tenant/sequence"
  std::set<std::string> folded_sequences_;             // "tenant/sequence"
  std::set<std::string> unverifiable_;  // identities not compared
  // Which positions 1..last_position the streams hold, and any beyond it.
  std::vector<bool> seen_;
  std::set<uint64_t> beyond_;
  // The stream being read (`info_` points at `current_info_` while there is
  // one); streams are read one after the other, each once.
  StreamInfo current_info_;
  StreamInfo* info_ = nullptr;
  std::string current_;
  uint64_t previous_position_ = 0;
  domain::Sequence sequence_state_;
  domain::Recipient recipient_state_;
  v1::Event event_;
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
  return VerifyPass(store_, options_).Run();
}

}  // namespace sequencer::app
