#include "app/storage/projection_verifier.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "app/runtime/read_deadline.h"
#include "app/storage/event_codec.h"
#include "app/storage/repository.h"
#include "app/storage/store_layout.h"
#include "domain/model.h"
#include "domain/report.h"
#include "google/protobuf/arena.h"
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

enum class StreamKind { kUnknown, kSequence, kRecipient, kTombstone };

// The stream being read. The ids point into LogPass::current_.
struct StreamInfo {
  StreamKind kind = StreamKind::kUnknown;
  absl::string_view tenant;
  absl::string_view sequence;
  absl::string_view recipient;
  // The last version seen in the log.
  uint64_t version = 0;
  // Some event did not decode: the stream is not folded and its index entries
  // are not compared.
  bool broken = false;
};

// The listing prefixes compared, in the order they are compared.
constexpr absl::string_view kComparedPrefixes[] = {
    View(layout::kSequenceListRoot), View(layout::kRecipientListRoot),
    View(layout::kStatusIndexRoot),  View(layout::kDuePrefix),
    View(layout::kReadyPrefix),      View(layout::kReportRoot)};
constexpr int kComparedCount =
    sizeof(kComparedPrefixes) / sizeof(kComparedPrefixes[0]);
constexpr int kStatusBucket = 2;  // rs/

// The index of the compared prefix `key` starts with, or -1.
int ComparedPrefixOf(absl::string_view key) {
  for (int i = 0; i < kComparedCount; ++i) {
    if (absl::StartsWith(key, kComparedPrefixes[i])) return i;
  }
  return -1;
}

StreamInfo ParseStreamName(absl::string_view name) {
  StreamInfo info;
  std::optional<layout::KeyRefView> ref = layout::ParseStreamView(name);
  if (!ref.has_value()) {
    ref = layout::ParseDeletionStreamView(name);
    if (!ref.has_value()) return info;
    info.kind = StreamKind::kTombstone;
  } else {
    info.kind = ref->recipient_id.empty() ? StreamKind::kSequence
                                          : StreamKind::kRecipient;
  }
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
  } else if (auto report = layout::ParseReportEntryKey(key)) {
    ref = std::move(report);
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

// An index entry's value as a finding shows it: quoted, or for a report
// contribution (rp/) that decodes, what it counts, e.g.
// {IN_PROGRESS step0: sent 1 replies 2}.
std::string ShowValue(absl::string_view key, absl::string_view value) {
  if (!absl::StartsWith(key, layout::kReportRoot)) return Quote(value);
  absl::StatusOr<domain::ReportContribution> contribution =
      DecodeReportContribution(value);
  if (!contribution.ok()) return Quote(value);
  auto show = [](const domain::StepTally& t) {
    std::string out;
    for (const auto& [name, count] :
         std::initializer_list<std::pair<const char*, int64_t>>{
             {"waiting", t.waiting},
             {"due", t.due},
             {"sent", t.sent},
             {"skipped", t.skipped},
             {"failed", t.failed},
             {"bounced", t.bounced},
             {"replies", t.replies},
             {"meetings", t.meetings}}) {
      if (count != 0) absl::StrAppend(&out, " ", name, " ", count);
    }
    return out;
  };
  std::string out =
      absl::StrCat("{", layout::StatusKeyView(contribution->status));
  for (size_t i = 0; i < contribution->steps.size(); ++i) {
    if (contribution->steps[i].empty()) continue;
    absl::StrAppend(&out, " step", i, ":", show(contribution->steps[i]));
  }
  if (!contribution->before_first_send.empty()) {
    absl::StrAppend(
        &out, " before first send:", show(contribution->before_first_send));
  }
  return absl::StrCat(out, "}");
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

  // Adds the findings of `lines` (listed and counted) after these.
  void Move(VerifyResult* lines) {
    for (std::string& line : lines->discrepancies) Add(std::move(line));
    result_.discrepancy_count +=
        lines->discrepancy_count - lines->discrepancies.size();
    lines->discrepancies.clear();
    lines->discrepancy_count = 0;
  }

 private:
  VerifyResult& result_;
  size_t max_reported_;
};

// Index entries (key, value), their bytes kept in large blocks that are
// never moved: no allocation per entry.
class EntryList {
 public:
  size_t size() const { return refs_.size(); }
  absl::string_view key(size_t i) const {
    return absl::string_view(refs_[i].data, refs_[i].key_size);
  }
  absl::string_view value(size_t i) const {
    return absl::string_view(refs_[i].data + refs_[i].key_size,
                             refs_[i].value_size);
  }

  void Add(absl::string_view key, absl::string_view value) {
    const size_t size = key.size() + value.size();
    if (size > left_) {
      // Blocks grow from 64 KiB to 1 MiB, so that small lists stay small;
      // their bytes are not initialized.
      const size_t block = std::max(
          blocks_.size() < 4 ? kFirstBlockSize << blocks_.size() : kBlockSize,
          size);
      blocks_.push_back(std::unique_ptr<char[]>(new char[block]));
      next_ = blocks_.back().get();
      left_ = block;
    }
    std::memcpy(next_, key.data(), key.size());
    std::memcpy(next_ + key.size(), value.data(), value.size());
    refs_.push_back({next_, static_cast<uint32_t>(key.size()),
                     static_cast<uint32_t>(value.size())});
    next_ += size;
    left_ -= size;
  }
  // Appends `other`'s entries after this list's and leaves it empty. A
  // large list's bytes are taken over (no copy; its blocks are at least half
  // used), a small one's copied (its first block would be mostly unused).
  void TakeAll(EntryList&& other) {
    if (other.size() < kTakeOverAt) {
      for (size_t i = 0; i < other.size(); ++i) {
        Add(other.key(i), other.value(i));
      }
      other = EntryList();
      return;
    }
    refs_.insert(refs_.end(), other.refs_.begin(), other.refs_.end());
    for (auto& block : other.blocks_) blocks_.push_back(std::move(block));
    other.blocks_.clear();
    other.refs_.clear();
    other.next_ = nullptr;
    other.left_ = 0;
  }

  // Orders the entries by key (keeping the order of equal keys); checks
  // first, since they mostly come in order already.
  void Sort() {
    auto less = [](const Ref& a, const Ref& b) {
      return absl::string_view(a.data, a.key_size) <
             absl::string_view(b.data, b.key_size);
    };
    if (!std::is_sorted(refs_.begin(), refs_.end(), less)) {
      std::stable_sort(refs_.begin(), refs_.end(), less);
    }
  }

 private:
  static constexpr size_t kFirstBlockSize = size_t{64} << 10;
  static constexpr size_t kTakeOverAt = 4096;
  static constexpr size_t kBlockSize = size_t{1} << 20;
  struct Ref {
    const char* data;
    uint32_t key_size;
    uint32_t value_size;
  };

  std::vector<std::unique_ptr<char[]>> blocks_;
  char* next_ = nullptr;
  size_t left_ = 0;
  std::vector<Ref> refs_;
};

// Entries [begin, end) of a sorted EntryList.
struct EntrySlice {
  const EntryList* list;
  size_t begin;
  size_t end;
};

// The expected entries of several sorted slices, in key order. Slices that
// follow each other (the ranges' rl/ entries) are read as one chain; the
// chains are merged.
class MergedEntries {
 public:
  explicit MergedEntries(const std::vector<EntrySlice>& slices) {
    for (const EntrySlice& slice : slices) {
      if (slice.begin == slice.end) continue;
      if (!chains_.empty()) {
        const EntrySlice& last = chains_.back().slices.back();
        if (last.list->key(last.end - 1) < slice.list->key(slice.begin)) {
          chains_.back().slices.push_back(slice);
          continue;
        }
      }
      chains_.push_back(Chain{{slice}, 0, slice.begin});
    }
    Pick();
  }
  bool done() const { return current_ == nullptr; }
  absl::string_view key() const { return current_->key(); }
  absl::string_view value() const { return current_->value(); }
  void Next() {
    current_->Next();
    Pick();
  }

 private:
  struct Chain {
    std::vector<EntrySlice> slices;
    size_t slice = 0;
    size_t index = 0;

    bool done() const { return slice == slices.size(); }
    absl::string_view key() const { return slices[slice].list->key(index); }
    absl::string_view value() const { return slices[slice].list->value(index); }
    void Next() {
      if (++index == slices[slice].end && ++slice < slices.size()) {
        index = slices[slice].begin;
      }
    }
  };

  void Pick() {
    current_ = nullptr;
    for (Chain& chain : chains_) {
      if (chain.done()) continue;
      if (current_ == nullptr || chain.key() < current_->key()) {
        current_ = &chain;
      }
    }
  }

  std::vector<Chain> chains_;
  Chain* current_ = nullptr;
};

// One bit per log position 1..last.
class PositionBits {
 public:
  explicit PositionBits(uint64_t last) : words_(last / 64 + 1, 0) {}

  // Marks `position` (<= last); true when it was marked already.
  bool Mark(uint64_t position) {
    uint64_t& word = words_[position / 64];
    const uint64_t bit = uint64_t{1} << (position % 64);
    const bool was = (word & bit) != 0;
    word |= bit;
    return was;
  }
  // Adds the positions of `other`; false when some are in both.
  bool MergeDisjoint(const PositionBits& other) {
    bool disjoint = true;
    for (size_t i = 0; i < words_.size(); ++i) {
      if ((words_[i] & other.words_[i]) != 0) disjoint = false;
      words_[i] |= other.words_[i];
    }
    return disjoint;
  }
  // Calls `found` with each marked position, ascending.
  template <typename F>
  void ForEach(F found) const {
    for (size_t i = 0; i < words_.size(); ++i) {
      uint64_t word = words_[i];
      while (word != 0) {
        const int bit = __builtin_ctzll(word);
        found(i * 64 + bit);
        word &= word - 1;
      }
    }
  }

 private:
  std::vector<uint64_t> words_;
};

// A sequence stream after the sequence pass.
struct SequenceFold {
  // Folded into its sequence (listed); `state` is the folded state.
  bool folded = false;
  // Could not be folded (a broken stream): its recipients are not judged.
  bool unverifiable = false;
  domain::Sequence state;
};
// By "tenant/sequence".
using SequenceMap = std::map<std::string, SequenceFold, std::less<>>;

// Listed recipients are counted by status in an array of this size; a status
// past it (none today) is counted by name.
constexpr int kStatusSlots = 16;

// One scan of part of the log: the sequence streams (ScanSequences), or the
// other streams in a range of names. Each event is checked, decoded once and
// folded with the service's own code (codec + domain::Evolve, as
// Repository::LoadSequence/LoadRecipient); each recipient's expected index
// entries are collected. Passes over disjoint ranges run on their own threads;
// `seen` and `beyond` are then their own, and merged afterwards.
class LogPass {
 public:
  LogPass(const ProjectionVerifier::Options& options, uint64_t last_position,
          PositionBits* seen, std::set<uint64_t>* beyond,
          SequenceMap* sequences)
      : deadline_(options.stopped, "events"),
        last_position_(last_position),
        seen_(*seen),
        beyond_(*beyond),
        sequences_(*sequences),
        stream_findings_(&stream_lines, options.max_reported),
        orphan_findings_(&orphan_lines, options.max_reported) {}

  absl::Status ScanSequences(const eventstore::EventStore& store) {
    absl::Status scanned = store.ScanStreams(
        kSequenceStreams, [this](const eventstore::StoredEventView& stored) {
          return Visit(stored);
        });
    FinishStream();
    for (EntryList& list : expected) list.Sort();
    return scanned;
  }

  // The streams in [from, to) ("" to: no bound) but the sequences'.
  absl::Status ScanRange(const eventstore::EventStore& store,
                         absl::string_view from, absl::string_view to) {
    absl::Status scanned = store.ScanStreamRange(
        from, to, [this](const eventstore::StoredEventView& stored) {
          if (absl::StartsWith(stored.stream, kSequenceStreams)) {
            return absl::OkStatus();  // The sequence pass reads them.
          }
          return Visit(stored);
        });
    FinishStream();
    FlushStatusGroups();
    for (EntryList& list : expected) list.Sort();
    return scanned;
  }

  // What the pass found.
  uint64_t events = 0;
  uint64_t sequences = 0;
  uint64_t recipients = 0;
  uint64_t deleted_recipients = 0;
  uint64_t tombstones = 0;
  std::array<uint64_t, kStatusSlots> recipients_by_status = {};
  std::map<std::string, uint64_t> other_statuses;
  // Findings about the streams and orphans, kept apart until the positions
  // have been checked.
  VerifyResult stream_lines;
  VerifyResult orphan_lines;
  // Identities whose index entries are not compared.
  std::set<std::string> unverifiable;
  // The index entries the folded states imply, per compared prefix, sorted
  // by ScanRange.
  EntryList expected[kComparedCount];

 private:
  // The arena's first block is `block`, which it keeps across resets.
  static google::protobuf::ArenaOptions EventArenaOptions(char* block) {
    google::protobuf::ArenaOptions options;
    options.initial_block = block;
    options.initial_block_size = kArenaBlockSize;
    return options;
  }

  absl::Status Visit(const eventstore::StoredEventView& stored) {
    if (absl::Status s = deadline_.Tick(); !s.ok()) return s;
    ++events;
    if (!in_stream_ || stored.stream != current_) StartStream(stored);
    CheckPlace(stored);
    if (info_.kind == StreamKind::kUnknown || info_.broken) {
      return absl::OkStatus();
    }
    Fold(stored);
    return absl::OkStatus();
  }

  void StartStream(const eventstore::StoredEventView& stored) {
    FinishStream();
    in_stream_ = true;
    current_.assign(stored.stream.data(), stored.stream.size());
    info_ = ParseStreamName(current_);
    previous_position_ = 0;
    if (info_.kind == StreamKind::kSequence) sequence_state_ = {};
    if (info_.kind == StreamKind::kRecipient) recipient_state_ = {};
    if (info_.kind == StreamKind::kUnknown) {
      stream_findings_.Add(absl::StrCat("unknown stream ", Quote(current_),
                                        " (first event at position ",
                                        stored.position, ")"));
    }
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
    } else if (stored.position <= last_position_) {
      if (seen_.Mark(stored.position)) {
        stream_findings_.Add(
            absl::StrCat(Where(stored), ": position used twice"));
      }
    } else {
      beyond_.insert(stored.position);
    }
    if (stored.version != info_.version + 1) {
      stream_findings_.Add(
          absl::StrCat(Where(stored), ": version follows v", info_.version));
      // A stream with a missing event cannot be folded: reported once, and
      // its index entries are not compared.
      info_.broken = true;
    } else if (stored.position <= previous_position_) {
      stream_findings_.Add(absl::StrCat(Where(stored), ": comes before v",
                                        info_.version, " at position ",
                                        previous_position_));
    }
    info_.version = stored.version;
    previous_position_ = stored.position;
  }

  // Decodes the event and folds it into the stream's state.
  void Fold(const eventstore::StoredEventView& stored) {
    // Parsed on an arena, reset every so many events: no allocation or
    // destruction per message.
    if (event_ == nullptr || ++parsed_in_arena_ == kEventsPerArena) {
      arena_.Reset();
      event_ = google::protobuf::Arena::CreateMessage<v1::Event>(&arena_);
      parsed_in_arena_ = 0;
    }
    v1::Event& event = *event_;
    if (!event.ParseFromArray(stored.data.data(),
                              static_cast<int>(stored.data.size()))) {
      stream_findings_.Add(absl::StrCat(Where(stored), ": does not parse"));
      info_.broken = true;
      return;
    }
    absl::Status decoded;
    if (info_.kind == StreamKind::kSequence) {
      auto folded = SequenceEventFromProto(event);
      decoded = folded.status();
      if (folded.ok()) {
        sequence_state_ = domain::Evolve(std::move(sequence_state_), *folded);
      }
    } else if (info_.kind == StreamKind::kTombstone) {
      // Only Deleted events, which fold into nothing.
      auto tombstone = RecipientEventFromProto(event);
      decoded = tombstone.status();
      if (tombstone.ok() &&
          !std::holds_alternative<domain::Deleted>(tombstone->payload)) {
        stream_findings_.Add(
            absl::StrCat(Where(stored), ": a tombstone stream holds ",
                         std::string(domain::EventName(tombstone->payload))));
      }
      if (tombstone.ok()) ++tombstones;
    } else {
      auto folded = RecipientEventFromProto(event);
      decoded = folded.status();
      if (folded.ok()) {
        recipient_state_ = domain::Evolve(std::move(recipient_state_), *folded);
      }
    }
    if (!decoded.ok()) {
      stream_findings_.Add(absl::StrCat(
          Where(stored), ": does not decode: ", decoded.message()));
      info_.broken = true;
      return;
    }
    // EventTypeName looks the payload's field up; the last one is kept.
    if (event.payload_case() != type_case_ || type_case_ == 0) {
      type_case_ = event.payload_case();
      type_ = EventTypeName(event);
    }
    if (type_ != stored.type) {
      stream_findings_.Add(absl::StrCat(Where(stored), ": stored type ",
                                        Quote(stored.type),
                                        " but the payload is ", type_));
    }
    if (event.metadata().tenant_id() != info_.tenant) {
      stream_findings_.Add(absl::StrCat(Where(stored),
                                        ": metadata names tenant ",
                                        Quote(event.metadata().tenant_id())));
    }
  }

  void FinishStream() {
    if (!in_stream_) return;
    in_stream_ = false;
    if (info_.kind == StreamKind::kSequence) FinishSequence();
    if (info_.kind == StreamKind::kRecipient) FinishRecipient();
  }

  void FinishSequence() {
    std::string identity = absl::StrCat(info_.tenant, "/", info_.sequence);
    if (info_.broken) {
      unverifiable.insert(identity);
      sequences_[std::move(identity)].unverifiable = true;
      return;
    }
    if (!sequence_state_.exists ||
        sequence_state_.sequence_id != info_.sequence ||
        sequence_state_.tenant_id != info_.tenant) {
      stream_findings_.Add(absl::StrCat("stream ", Quote(current_),
                                        " does not fold into its sequence"));
      return;
    }
    ++sequences;
    SequenceFold& fold = sequences_[std::move(identity)];
    fold.folded = true;
    fold.state = std::move(sequence_state_);
    expected[0 /* sq/ */].Add(
        layout::SequenceListKey(info_.tenant, info_.sequence), "");
  }

  // The sequence of the current recipient stream (nullptr: none), looked up
  // once per run of recipients of one sequence.
  const SequenceFold* SequenceOfRecipient() {
    if (!group_valid_ || group_tenant_ != info_.tenant ||
        group_sequence_ != info_.sequence) {
      FlushStatusGroups();
      group_valid_ = true;
      group_tenant_.assign(info_.tenant.data(), info_.tenant.size());
      group_sequence_.assign(info_.sequence.data(), info_.sequence.size());
      group_identity_ = absl::StrCat(info_.tenant, "/", info_.sequence);
      auto it = sequences_.find(group_identity_);
      group_fold_ = it == sequences_.end() ? nullptr : &it->second;
    }
    return group_fold_;
  }

  void FinishRecipient() {
    const SequenceFold* sequence = SequenceOfRecipient();
    if (sequence == nullptr || (!sequence->folded && !sequence->unverifiable)) {
      orphan_findings_.Add(absl::StrCat("stream ", Quote(current_),
                                        " belongs to no existing sequence"));
    }
    // A recipient of a sequence that could not be folded cannot be judged
    // either: its index entries depend on the sequence.
    if (info_.broken || (sequence != nullptr && sequence->unverifiable)) {
      unverifiable.insert(absl::StrCat(info_.tenant, "/", info_.sequence, "/",
                                       info_.recipient));
      return;
    }
    const domain::Recipient& recipient = recipient_state_;
    if (!recipient.exists || recipient.recipient_id != info_.recipient ||
        recipient.sequence_id != info_.sequence ||
        recipient.tenant_id != info_.tenant) {
      stream_findings_.Add(absl::StrCat("stream ", Quote(current_),
                                        " does not fold into its recipient"));
      return;
    }
    if (recipient.deleted) {
      ++deleted_recipients;
      return;
    }
    ++recipients;
    const size_t slot = static_cast<size_t>(recipient.status);
    if (slot < kStatusSlots) {
      ++recipients_by_status[slot];
    } else {
      ++other_statuses[std::string(domain::StatusName(recipient.status))];
    }
    // An absent or unfoldable sequence folds to the empty state, as
    // Repository::LoadSequence gives it.
    static const domain::Sequence* const kNoSequence = new domain::Sequence();
    const absl::string_view status = layout::StatusKeyView(recipient.status);
    Repository::AddProjectionEntries(
        info_.tenant, info_.sequence, info_.recipient, recipient,
        sequence != nullptr && sequence->folded ? sequence->state
                                                : *kNoSequence,
        &key_scratch_, [&](absl::string_view key, absl::string_view value) {
          const int bucket = ComparedPrefixOf(key);
          if (bucket == kStatusBucket) {
            StatusGroup(status).Add(key, value);
          } else if (bucket >= 0) {
            expected[bucket].Add(key, value);
          }
        });
  }

  // rs/ keys order a sequence's recipients by status first: they are kept
  // by status while the scan is in one sequence's recipients (which come in
  // recipient order), and added in key order when it moves on, so that the
  // list needs no sort.
  EntryList& StatusGroup(absl::string_view status) {
    for (auto& [name, list] : status_groups_) {
      if (name.size() == status.size() + 1 && absl::StartsWith(name, status)) {
        return list;
      }
    }
    status_groups_.emplace_back(absl::StrCat(status, "/"), EntryList());
    return status_groups_.back().second;
  }
  void FlushStatusGroups() {
    std::sort(status_groups_.begin(), status_groups_.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [name, list] : status_groups_) {
      expected[kStatusBucket].TakeAll(std::move(list));
    }
    status_groups_.clear();
  }

  ReadDeadline deadline_;
  const uint64_t last_position_;
  PositionBits& seen_;
  std::set<uint64_t>& beyond_;
  // Written by the sequence pass, read by the others (which run after it).
  SequenceMap& sequences_;
  Findings stream_findings_;
  Findings orphan_findings_;

  // The stream being read; streams are read one after the other, each once.
  bool in_stream_ = false;
  std::string current_;
  StreamInfo info_;
  uint64_t previous_position_ = 0;
  domain::Sequence sequence_state_;
  domain::Recipient recipient_state_;
  static constexpr int kEventsPerArena = 1024;
  static constexpr size_t kArenaBlockSize = 1 << 20;
  std::unique_ptr<char[]> arena_block_ =
      std::unique_ptr<char[]>(new char[kArenaBlockSize]);
  google::protobuf::Arena arena_{EventArenaOptions(arena_block_.get())};
  v1::Event* event_ = nullptr;
  int parsed_in_arena_ = 0;
  int type_case_ = 0;
  std::string type_;
  std::string key_scratch_;
  // The sequence of the last recipient stream, and its rs/ entries by status
  // ("PAUSED/" -> entries in recipient order).
  bool group_valid_ = false;
  std::string group_tenant_;
  std::string group_sequence_;
  std::string group_identity_;
  const SequenceFold* group_fold_ = nullptr;
  std::vector<std::pair<std::string, EntryList>> status_groups_;
};

// The comparison of the stored entries of one prefix, or of one key range
// of it, with the expected ones.
struct PrefixComparison {
  absl::Status status;
  uint64_t index_entries = 0;
  // Unexpected and different entries, then missing ones.
  VerifyResult lines;
  VerifyResult missing;
};

// The stored entries under `prefix` with keys > `start_after` ("": from the
// first) and <= `last` ("": to the end), merged with the expected entries of
// that range (sorted slices).
PrefixComparison ComparePrefix(
    const eventstore::EventStore& store, absl::string_view prefix,
    absl::string_view start_after, absl::string_view last,
    const std::vector<EntrySlice>& expected,
    const std::set<std::string, std::less<>>& unverifiable,
    size_t max_reported) {
  PrefixComparison out;
  Findings findings(&out.lines, max_reported);
  Findings missing(&out.missing, max_reported);
  MergedEntries want(expected);
  auto miss = [&]() {
    missing.Add(absl::StrCat("missing index entry ", Quote(want.key()), " = ",
                             ShowValue(want.key(), want.value())));
    want.Next();
  };
  bool past_last = false;
  out.status = store.VisitIndex(
      prefix, start_after, [&](absl::string_view key, absl::string_view value) {
        if (!last.empty() && key > last) {
          past_last = true;
          return absl::CancelledError("past the range");
        }
        ++out.index_entries;
        while (!want.done() && want.key() < key) miss();
        const bool expected_here = !want.done() && want.key() == key;
        if (!unverifiable.empty()) {
          const std::string identity = KeyIdentity(key);
          if (!identity.empty() && unverifiable.count(identity)) {
            if (expected_here) want.Next();
            return absl::OkStatus();
          }
        }
        if (!expected_here) {
          findings.Add(absl::StrCat("unexpected index entry ", Quote(key),
                                    " = ", ShowValue(key, value)));
          return absl::OkStatus();
        }
        if (want.value() != value) {
          findings.Add(absl::StrCat("different index entry ", Quote(key), " = ",
                                    ShowValue(key, value), ", expected ",
                                    ShowValue(key, want.value())));
        }
        want.Next();
        return absl::OkStatus();
      });
  if (past_last) out.status = absl::OkStatus();
  if (!out.status.ok()) return out;
  while (!want.done()) miss();
  return out;
}

// The first entry of `list` with a key > `key` ("": the first entry).
size_t EntriesUpTo(const EntryList& list, absl::string_view key) {
  if (key.empty()) return 0;
  size_t lo = 0;
  size_t hi = list.size();
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (list.key(mid) <= key) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

// One run of ProjectionVerifier::Verify: (1) the log: the sequence streams
// first (a recipient's index entries depend on its sequence), then the other
// streams, split into ranges scanned on their own threads; (2) the positions;
// (3) the projection indexes against what the folded states imply, one
// prefix per thread.
class VerifyPass {
 public:
  static constexpr int kRangesPerThread = 4;

  VerifyPass(const eventstore::EventStore& store,
             const ProjectionVerifier::Options& options)
      : store_(store), options_(options) {}

  absl::StatusOr<VerifyResult> Run() {
    const uint64_t last_position = store_.LastPosition();
    std::vector<std::string> splits;
    if (options_.threads > 1) {
      // More ranges than threads, taken in turn: a thread that finishes its
      // range early takes the next one.
      auto points =
          store_.StreamSplitPoints("", options_.threads * kRangesPerThread);
      if (!points.ok()) return points.status();
      // Only ascending points make ranges that cover every stream once.
      for (std::string& point : *points) {
        if (!point.empty() && (splits.empty() || point > splits.back())) {
          splits.push_back(std::move(point));
        }
      }
    }
    std::optional<VerifyResult> result;
    absl::Status status = RunWith(last_position, splits, &result);
    if (!status.ok()) return status;
    if (!result.has_value()) {
      // Ranges scanned apart share a position: scanned again as one range,
      // so the finding is reported where one scan meets it.
      status = RunWith(last_position, {}, &result);
      if (!status.ok()) return status;
    }
    return std::move(result).value();
  }

 private:
  // Leaves `result` empty when positions must be checked by one scan.
  absl::Status RunWith(uint64_t last_position,
                       const std::vector<std::string>& splits,
                       std::optional<VerifyResult>* result) {
    PositionBits seen(last_position);
    std::set<uint64_t> beyond;
    SequenceMap sequences;
    LogPass sequence_pass(options_, last_position, &seen, &beyond, &sequences);
    if (absl::Status s = sequence_pass.ScanSequences(store_); !s.ok()) {
      return s;
    }

    // The ranges: ["", splits[0]), [splits[0], splits[1]), ..., [last, "").
    const size_t ranges = splits.size() + 1;
    std::vector<std::unique_ptr<PositionBits>> own_seen;
    std::vector<std::set<uint64_t>> own_beyond(ranges);
    std::vector<std::unique_ptr<LogPass>> passes;
    for (size_t i = 0; i < ranges; ++i) {
      PositionBits* range_seen = &seen;
      std::set<uint64_t>* range_beyond = &beyond;
      if (ranges > 1) {
        own_seen.push_back(std::make_unique<PositionBits>(last_position));
        range_seen = own_seen.back().get();
        range_beyond = &own_beyond[i];
      }
      passes.push_back(std::make_unique<LogPass>(
          options_, last_position, range_seen, range_beyond, &sequences));
    }
    std::vector<absl::Status> scanned(ranges);
    RunAll(ranges, [&](size_t i) {
      scanned[i] = passes[i]->ScanRange(
          store_, i == 0 ? absl::string_view() : splits[i - 1],
          i + 1 == ranges ? absl::string_view() : splits[i]);
    });
    for (const absl::Status& s : scanned) {
      if (!s.ok()) return s;
    }
    if (ranges > 1) {
      for (size_t i = 0; i < ranges; ++i) {
        if (!seen.MergeDisjoint(*own_seen[i])) return absl::OkStatus();
        beyond.insert(own_beyond[i].begin(), own_beyond[i].end());
      }
    }

    std::vector<LogPass*> all = {&sequence_pass};
    for (auto& pass : passes) all.push_back(pass.get());
    VerifyResult& out = result->emplace();
    out.last_position = last_position;
    std::array<uint64_t, kStatusSlots> by_status = {};
    std::set<std::string, std::less<>> unverifiable;
    for (LogPass* pass : all) {
      out.events += pass->events;
      out.sequences += pass->sequences;
      out.recipients += pass->recipients;
      out.deleted_recipients += pass->deleted_recipients;
      out.tombstones += pass->tombstones;
      for (int s = 0; s < kStatusSlots; ++s) {
        by_status[s] += pass->recipients_by_status[s];
      }
      unverifiable.insert(pass->unverifiable.begin(), pass->unverifiable.end());
      for (const auto& [name, count] : pass->other_statuses) {
        out.recipients_by_status[name] += count;
      }
    }
    for (int s = 0; s < kStatusSlots; ++s) {
      if (by_status[s] == 0) continue;
      const std::string_view name =
          domain::StatusName(static_cast<domain::RecipientStatus>(s));
      out.recipients_by_status[std::string(name)] += by_status[s];
    }

    // The log's own findings (gaps) come first, then the streams', then
    // recipients of no sequence.
    Findings findings(&out, options_.max_reported);
    // Erased positions hold no event: they fill the log's holes.
    PositionBits erased(last_position);
    if (absl::Status s = store_.VisitErasedPositions([&](uint64_t position) {
          if (position > last_position) return absl::OkStatus();
          ++out.erased_events;
          erased.Mark(position);
          return absl::OkStatus();
        });
        !s.ok()) {
      return s;
    }
    if (!seen.MergeDisjoint(erased)) {
      findings.Add(
          "an erased position holds an event (an erasure left an event "
          "behind)");
    }
    CheckPositions(seen, beyond, last_position, findings);
    for (LogPass* pass : all) findings.Move(&pass->stream_lines);
    for (LogPass* pass : all) findings.Move(&pass->orphan_lines);

    if (absl::Status s = ReadDeadline(options_.stopped, "events").Check();
        !s.ok()) {
      return s;
    }
    // The prefixes, and the idempotency records, compared on the threads:
    // a large prefix in one key range per thread (cut at its expected
    // entries), the larger ones first; reported in prefix order, missing
    // entries after a prefix's others.
    struct Task {
      int bucket;  // kComparedCount: the idempotency records
      std::string start_after;
      std::string last;
      PrefixComparison result;
    };
    std::vector<Task> tasks;
    constexpr int kOrder[] = {1, 2, 5, 3, 4, 0};
    static_assert(sizeof(kOrder) / sizeof(kOrder[0]) == kComparedCount);
    for (int bucket : kOrder) {
      const EntryList* largest = nullptr;
      for (LogPass* pass : all) {
        const EntryList& list = pass->expected[bucket];
        if (largest == nullptr || list.size() > largest->size()) {
          largest = &list;
        }
      }
      std::vector<std::string> cuts;
      if (options_.threads > 1 && largest->size() >= options_.split_prefix_at) {
        for (int part = 1; part < options_.threads; ++part) {
          std::string cut(largest->key(largest->size() * part /
                                       static_cast<size_t>(options_.threads)));
          if (cuts.empty() || cut > cuts.back()) cuts.push_back(std::move(cut));
        }
      }
      for (size_t part = 0; part <= cuts.size(); ++part) {
        tasks.push_back({bucket,
                         part == 0 ? "" : cuts[part - 1],
                         part == cuts.size() ? "" : cuts[part],
                         {}});
      }
    }
    tasks.push_back({kComparedCount, "", "", {}});
    uint64_t idempotency_records = 0;
    RunAll(tasks.size(), [&](size_t i) {
      Task& task = tasks[i];
      if (task.bucket == kComparedCount) {
        task.result.status =
            store_.VisitIndex(layout::kIdempotencyPrefix, "",
                              [&](absl::string_view, absl::string_view) {
                                ++idempotency_records;
                                return absl::OkStatus();
                              });
        return;
      }
      std::vector<EntrySlice> slices;
      for (LogPass* pass : all) {
        const EntryList& list = pass->expected[task.bucket];
        slices.push_back(
            {&list, EntriesUpTo(list, task.start_after),
             task.last.empty() ? list.size() : EntriesUpTo(list, task.last)});
      }
      task.result = ComparePrefix(store_, kComparedPrefixes[task.bucket],
                                  task.start_after, task.last, slices,
                                  unverifiable, options_.max_reported);
    });
    for (int bucket = 0; bucket <= kComparedCount; ++bucket) {
      for (Task& task : tasks) {
        if (task.bucket != bucket) continue;
        if (!task.result.status.ok()) return task.result.status;
        out.index_entries += task.result.index_entries;
        findings.Move(&task.result.lines);
      }
      for (Task& task : tasks) {
        if (task.bucket == bucket) findings.Move(&task.result.missing);
      }
    }
    out.idempotency_records = idempotency_records;
    return absl::OkStatus();
  }

  // Runs task(0) ... task(count - 1) on up to options_.threads threads (this
  // one included), each task once.
  void RunAll(size_t count, const std::function<void(size_t)>& task) const {
    std::atomic<size_t> next{0};
    auto work = [&]() {
      for (size_t i = next++; i < count; i = next++) task(i);
    };
    const size_t helpers =
        std::min<size_t>(count, std::max(options_.threads, 1)) - 1;
    std::vector<std::thread> threads;
    for (size_t i = 0; i < helpers; ++i) threads.emplace_back(work);
    work();
    for (std::thread& thread : threads) thread.join();
  }

  // Positions: 1..last_position, each once (duplicates were found by the
  // scans).
  static void CheckPositions(const PositionBits& seen,
                             const std::set<uint64_t>& beyond,
                             uint64_t last_position, Findings& findings) {
    uint64_t next_position = 1;
    auto found = [&](uint64_t position) {
      if (position != next_position) {
        findings.Add(absl::StrCat("log gap: expected position ", next_position,
                                  ", found ", position));
      }
      next_position = position + 1;
    };
    seen.ForEach(found);
    for (uint64_t p : beyond) found(p);
    if (next_position - 1 != last_position) {
      findings.Add(absl::StrCat("log ends at position ", next_position - 1,
                                " but the store's last position is ",
                                last_position));
    }
  }

  const eventstore::EventStore& store_;
  const ProjectionVerifier::Options& options_;
};

}  // namespace

std::string VerifyResult::Summary() const {
  std::string out = absl::StrCat(
      "log: ", events, " events, last position ", last_position, ", ",
      erased_events, " erased\nsequences: ", sequences,
      "\nrecipients: ", recipients, " listed, ", deleted_recipients,
      " deleted (kept), ", tombstones, " deletions erased\n");
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
  if (options_.threads < 1) options_.threads = 1;
}

absl::StatusOr<VerifyResult> ProjectionVerifier::Verify() const {
  return VerifyPass(store_, options_).Run();
}

}  // namespace sequencer::app
