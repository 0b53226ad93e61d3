// Loads domain state by folding a stream's events, and turns decided events
// into store writes. Recipient and sequence state are projections of their own
// streams; the listing indexes (app/storage/store_layout.h) are projections
// kept in the same atomic commit as the events. Thread-safe (the store is).
//
// Sequence snapshots: every action needs its sequence, whose stream starts
// with the whole definition (SequenceCreated, up to ~13 MiB), so LoadSequence
// keeps the folded state of recently loaded sequences with the stream version
// it was folded to. Each load still asks the store for the stream's version
// (one lookup): equal to the snapshot's, the snapshot is returned; higher,
// only the newer events are read and folded onto it; lower (a stream that
// shrank, which the store never does today), the stream is folded from the
// start. The log stays the truth and no commit path has to invalidate
// anything: a load that starts after a commit returned sees its version. The
// snapshots hold at most kSequenceCacheBytes of folded event data (a sequence
// larger than a quarter of it is not kept); when full, they are all dropped.
// Recipient snapshots work the same way (an action folds the recipient, and a
// recipient's history grows with every action on it), bounded by count: at
// most kRecipientCacheEntries recipients in two generations; when the young
// one is full, the old one is dropped and the young one becomes old, and a
// snapshot found in the old one moves back to the young one (so what was used
// since the last turn stays). A recipient
// without a snapshot is read at once, without asking for its version first.
// A commit moves a kept recipient snapshot forward itself (Committed), so the
// next action on the recipient reads only its stream version, not its new
// events.

#ifndef SEQUENCER_APP_STORAGE_REPOSITORY_H_
#define SEQUENCER_APP_STORAGE_REPOSITORY_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "domain/events.h"
#include "domain/model.h"
#include "eventstore/event_store.h"
#include "sequencer/v1/events.pb.h"

namespace sequencer::app {

class Repository {
 public:
  // Folded event bytes the sequence snapshots may hold (see the file comment).
  static constexpr size_t kSequenceCacheBytes = 64 << 20;
  // Recipients whose folded state is kept (see the file comment).
  static constexpr size_t kRecipientCacheEntries = 1 << 14;

  // `store` must outlive the repository.
  explicit Repository(eventstore::EventStore* store) : store_(*store) {}

  eventstore::EventStore& store() const { return store_; }

  // The folded state; `exists` is false for an unknown id. DATA_LOSS for an
  // undecodable event.
  absl::StatusOr<domain::Sequence> LoadSequence(
      absl::string_view tenant, absl::string_view sequence_id) const;
  absl::StatusOr<domain::Recipient> LoadRecipient(
      absl::string_view tenant, absl::string_view sequence_id,
      absl::string_view recipient_id) const;

  // As above, but NOT_FOUND for an unknown sequence, or an unknown or deleted
  // recipient.
  absl::StatusOr<domain::Sequence> GetSequence(
      absl::string_view tenant, absl::string_view sequence_id) const;
  absl::StatusOr<domain::Recipient> GetRecipient(
      absl::string_view tenant, absl::string_view sequence_id,
      absl::string_view recipient_id) const;

  // `batch` was committed (call before the locks of its change are
  // released): each append to a recipient stream whose snapshot is kept at
  // the append's expected version has its events folded onto the snapshot,
  // which then stands at the version the commit reached. Other snapshots are
  // left alone (the next load reads what they miss). A snapshot whose new
  // events do not decode is dropped.
  void Committed(const eventstore::CommitBatch& batch);

  // Drops the snapshot of a recipient stream that was erased (a stream that
  // starts again from version 1 must not be folded onto it), and keeps loads
  // that began before from storing one. Call after the erasure committed.
  void ForgetRecipient(absl::string_view stream);

  // The recipient's stored events, oldest first, with versions and positions.
  absl::StatusOr<std::vector<std::pair<eventstore::StoredEvent, v1::Event>>>
  ReadRecipientEvents(absl::string_view tenant, absl::string_view sequence_id,
                      absl::string_view recipient_id) const;

  static eventstore::NewEvent Encode(const domain::SequenceEvent& event);
  static eventstore::NewEvent Encode(const domain::RecipientEvent& event);

  // The index entries (key -> value) that the recipient's state implies:
  // listing (rl/, rs/) and its report contribution (rp/,
  // domain::ContributionOf) while it exists and is not deleted; the scheduler's
  // due/ entry while it waits for a delay, or at the deadline of a send in
  // flight; the delivery queue's ready/ entry while an automatic step waits
  // for a worker. See app/storage/store_layout.h.
  static std::map<std::string, std::string> ProjectionEntries(
      absl::string_view tenant, absl::string_view sequence_id,
      absl::string_view recipient_id, const domain::Recipient& recipient,
      const domain::Sequence& sequence);

  // The same entries without building a map: calls `add(key, value)` once per
  // entry (the views are valid during the call), building the keys in
  // `scratch`. For whole-store passes (ProjectionVerifier).
  static void AddProjectionEntries(
      absl::string_view tenant, absl::string_view sequence_id,
      absl::string_view recipient_id, const domain::Recipient& recipient,
      const domain::Sequence& sequence, std::string* scratch,
      absl::FunctionRef<void(absl::string_view key, absl::string_view value)>
          add);

  // Index writes that move the stored projections from `before` to `after`.
  static std::vector<eventstore::IndexWrite> ProjectionWrites(
      absl::string_view tenant, absl::string_view sequence_id,
      absl::string_view recipient_id, const domain::Recipient& before,
      const domain::Recipient& after, const domain::Sequence& sequence);

 private:
  struct SequenceSnapshot {
    uint64_t version = 0;
    // Stored event data folded into `state`: what the snapshot is charged.
    size_t bytes = 0;
    std::shared_ptr<const domain::Sequence> state;
  };

  struct RecipientSnapshot {
    uint64_t version = 0;
    std::shared_ptr<const domain::Recipient> state;
  };

  // Recipient snapshots by stream, in two generations (see the file
  // comment). Thread-compatible: the repository guards it.
  class RecipientSnapshots {
   public:
    // The stream's snapshot (moved to the young generation), or null.
    RecipientSnapshot* Find(absl::string_view stream);
    // Adds a snapshot of a stream that has none.
    void Add(absl::string_view stream, RecipientSnapshot snapshot);
    void Erase(absl::string_view stream);

   private:
    absl::flat_hash_map<std::string, RecipientSnapshot> young_;
    absl::flat_hash_map<std::string, RecipientSnapshot> old_;
  };

  eventstore::EventStore& store_;
  mutable absl::Mutex recipients_mu_;
  mutable RecipientSnapshots recipients_ ABSL_GUARDED_BY(recipients_mu_);
  // Advanced by ForgetRecipient.
  uint64_t recipient_epoch_ ABSL_GUARDED_BY(recipients_mu_) = 0;
  mutable absl::Mutex cache_mu_;
  mutable absl::flat_hash_map<std::string, SequenceSnapshot> sequences_
      ABSL_GUARDED_BY(cache_mu_);
  mutable size_t cached_bytes_ ABSL_GUARDED_BY(cache_mu_) = 0;
};

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_STORAGE_REPOSITORY_H_
