#include "server/projection_verifier.h"

#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "domain/model.h"
#include "sequencer/v1/events.pb.h"
#include "server/codec.h"
#include "server/repository.h"
#include "server/store_layout.h"

namespace sequencer::server {
namespace {

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
  // After folding: listed (exists and not deleted), with this status, and
  // the index entries its state implies (Repository::ProjectionEntries).
  bool listed = false;
  std::string status;
  std::map<std::string, std::string> entries;
};

StreamInfo ParseStreamName(absl::string_view name) {
  StreamInfo info;
  std::vector<std::string> parts = absl::StrSplit(name, '/');
  for (const auto& part : parts) {
    if (part.empty()) return info;
  }
  if (parts.size() == 3 && parts[0] == "seq") {
    info.kind = StreamKind::kSequence;
    info.tenant = parts[1];
    info.sequence = parts[2];
  } else if (parts.size() == 4 && parts[0] == "rcp") {
    info.kind = StreamKind::kRecipient;
    info.tenant = parts[1];
    info.sequence = parts[2];
    info.recipient = parts[3];
  }
  return info;
}

// The identity ("tenant/sequence" or "tenant/sequence/recipient") a listing
// key belongs to, or "" when the key is malformed.
std::string KeyIdentity(absl::string_view prefix, absl::string_view key) {
  std::vector<absl::string_view> parts =
      absl::StrSplit(key.substr(prefix.size()), '/');
  for (absl::string_view part : parts) {
    if (part.empty()) return "";
  }
  if (prefix == "sq/" && parts.size() == 2) {
    return absl::StrCat(parts[0], "/", parts[1]);
  }
  if (prefix == "rl/" && parts.size() == 3) {
    return absl::StrCat(parts[0], "/", parts[1], "/", parts[2]);
  }
  if (prefix == "rs/" && parts.size() == 4) {
    return absl::StrCat(parts[0], "/", parts[1], "/", parts[3]);
  }
  if (prefix == "due/" && parts.size() == 4) {
    return absl::StrCat(parts[1], "/", parts[2], "/", parts[3]);
  }
  if (prefix == "ready/" && parts.size() == 5) {
    return absl::StrCat(parts[0], "/", parts[3], "/", parts[4]);
  }
  return "";
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

  // 1. The log: contiguous positions and versions, decodable events.
  std::map<std::string, StreamInfo> streams;
  uint64_t next_position = 1;
  while (true) {
    auto chunk = store_.ReadAll(next_position, options_.chunk_size);
    if (!chunk.ok()) return chunk.status();
    if (chunk->empty()) break;
    for (const eventstore::StoredEvent& stored : *chunk) {
      ++result.events;
      if (stored.position != next_position) {
        findings.Add(absl::StrCat("log gap: expected position ", next_position,
                                  ", found ", stored.position));
      }
      next_position = stored.position + 1;
      const std::string where =
          absl::StrCat("event at position ", stored.position, " (",
                       Quote(stored.stream), " v", stored.version, ")");

      auto [it, inserted] = streams.try_emplace(stored.stream);
      StreamInfo& info = it->second;
      if (inserted) {
        info = ParseStreamName(stored.stream);
        if (info.kind == StreamKind::kUnknown) {
          findings.Add(absl::StrCat("unknown stream ", Quote(stored.stream),
                                    " (first event at position ",
                                    stored.position, ")"));
        }
      }
      if (stored.version != info.version + 1) {
        findings.Add(absl::StrCat(where, ": version follows v", info.version));
      }
      info.version = stored.version;
      if (info.kind == StreamKind::kUnknown) continue;

      v1::Event event;
      if (!event.ParseFromString(stored.data)) {
        findings.Add(absl::StrCat(where, ": does not parse"));
        info.broken = true;
        continue;
      }
      absl::Status decoded = info.kind == StreamKind::kSequence
                                 ? SequenceEventFromProto(event).status()
                                 : RecipientEventFromProto(event).status();
      if (!decoded.ok()) {
        findings.Add(
            absl::StrCat(where, ": does not decode: ", decoded.message()));
        info.broken = true;
        continue;
      }
      const std::string type = EventTypeName(event);
      if (type != stored.type) {
        findings.Add(absl::StrCat(where, ": stored type ", Quote(stored.type),
                                  " but the payload is ", type));
      }
      if (event.metadata().tenant_id() != info.tenant) {
        findings.Add(absl::StrCat(where, ": metadata names tenant ",
                                  Quote(event.metadata().tenant_id())));
      }
    }
  }
  if (next_position - 1 != result.last_position) {
    findings.Add(absl::StrCat("log ends at position ", next_position - 1,
                              " but the store's last position is ",
                              result.last_position));
  }

  // 2. Fold every stream with the service's own code.
  Repository repository(&store_);
  std::set<std::string> folded_sequences;             // "tenant/sequence"
  std::set<std::string> unverifiable;                 // identities not compared
  std::map<std::string, domain::Sequence> sequences;  // "tenant/sequence"
  for (auto& [name, info] : streams) {
    if (info.kind == StreamKind::kSequence) {
      const std::string identity =
          absl::StrCat(info.tenant, "/", info.sequence);
      if (info.broken) {
        unverifiable.insert(identity);
        continue;
      }
      auto sequence = repository.LoadSequence(info.tenant, info.sequence);
      if (!sequence.ok()) {
        findings.Add(absl::StrCat("stream ", Quote(name), " does not fold: ",
                                  sequence.status().ToString()));
        unverifiable.insert(identity);
        continue;
      }
      if (!sequence->exists || sequence->sequence_id != info.sequence ||
          sequence->tenant_id != info.tenant) {
        findings.Add(absl::StrCat("stream ", Quote(name),
                                  " does not fold into its sequence"));
        continue;
      }
      ++result.sequences;
      info.listed = true;
      folded_sequences.insert(identity);
    } else if (info.kind == StreamKind::kRecipient) {
      const std::string identity =
          absl::StrCat(info.tenant, "/", info.sequence, "/", info.recipient);
      if (info.broken) {
        unverifiable.insert(identity);
        continue;
      }
      const std::string sequence_identity =
          absl::StrCat(info.tenant, "/", info.sequence);
      auto cached = sequences.find(sequence_identity);
      if (cached == sequences.end()) {
        auto loaded = repository.LoadSequence(info.tenant, info.sequence);
        if (!loaded.ok()) return loaded.status();
        cached = sequences.emplace(sequence_identity, *std::move(loaded)).first;
      }
      auto recipient =
          repository.LoadRecipient(info.tenant, info.sequence, info.recipient);
      if (!recipient.ok()) {
        findings.Add(absl::StrCat("stream ", Quote(name), " does not fold: ",
                                  recipient.status().ToString()));
        unverifiable.insert(identity);
        continue;
      }
      if (!recipient->exists || recipient->recipient_id != info.recipient ||
          recipient->sequence_id != info.sequence ||
          recipient->tenant_id != info.tenant) {
        findings.Add(absl::StrCat("stream ", Quote(name),
                                  " does not fold into its recipient"));
        continue;
      }
      if (recipient->deleted) {
        ++result.deleted_recipients;
        continue;
      }
      ++result.recipients;
      info.listed = true;
      info.status = std::string(domain::StatusName(recipient->status));
      ++result.recipients_by_status[info.status];
      info.entries = Repository::ProjectionEntries(info.tenant, info.sequence,
                                                   info.recipient, *recipient,
                                                   cached->second);
    }
  }
  for (const auto& [name, info] : streams) {
    if (info.kind == StreamKind::kRecipient &&
        !folded_sequences.count(
            absl::StrCat(info.tenant, "/", info.sequence)) &&
        !unverifiable.count(absl::StrCat(info.tenant, "/", info.sequence))) {
      findings.Add(absl::StrCat("stream ", Quote(name),
                                " belongs to no existing sequence"));
    }
  }

  // 3. Compare the projection indexes, one prefix at a time.
  for (absl::string_view prefix : {"sq/", "rl/", "rs/", "due/", "ready/"}) {
    std::map<std::string, std::string> expected;
    for (const auto& [name, info] : streams) {
      if (!info.listed) continue;
      if (prefix == "sq/" && info.kind == StreamKind::kSequence) {
        expected[layout::SequenceListKey(info.tenant, info.sequence)] = "";
      }
      for (const auto& [key, value] : info.entries) {
        if (absl::StartsWith(key, prefix)) expected[key] = value;
      }
    }
    std::string start_after;
    while (true) {
      auto entries = store_.ScanIndex(prefix, start_after, options_.chunk_size);
      if (!entries.ok()) return entries.status();
      if (entries->empty()) break;
      start_after = entries->back().first;
      for (const auto& [key, value] : *entries) {
        ++result.index_entries;
        const std::string identity = KeyIdentity(prefix, key);
        if (!identity.empty() && unverifiable.count(identity)) continue;
        auto it = expected.find(key);
        if (it == expected.end()) {
          findings.Add(absl::StrCat("unexpected index entry ", Quote(key),
                                    " = ", Quote(value)));
          continue;
        }
        if (it->second != value) {
          findings.Add(absl::StrCat("different index entry ", Quote(key), " = ",
                                    Quote(value), ", expected ",
                                    Quote(it->second)));
        }
        expected.erase(it);
      }
    }
    for (const auto& [key, value] : expected) {
      findings.Add(absl::StrCat("missing index entry ", Quote(key), " = ",
                                Quote(value)));
    }
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

}  // namespace sequencer::server
