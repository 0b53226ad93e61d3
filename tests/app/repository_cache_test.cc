// Repository's sequence and recipient snapshots: a load after any commit
// gives exactly the fold of the whole stream, and reads only the events it
// has not folded yet.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "app/storage/repository.h"
#include "app/storage/store_layout.h"
#include "domain/events.h"
#include "eventstore/in_memory_event_store.h"
#include "gtest/gtest.h"
#include "tests/util/forwarding_event_store.h"

namespace sequencer::app {
namespace {

// An in-memory store that records ReadStream calls.
class CountingStore : public testing::ForwardingEventStore {
 public:
  CountingStore() : ForwardingEventStore(&memory_) {}

  absl::StatusOr<std::vector<eventstore::StoredEvent>> ReadStream(
      absl::string_view stream, uint64_t from_version,
      size_t max_count) const override {
    reads.push_back(from_version);
    return ForwardingEventStore::ReadStream(stream, from_version, max_count);
  }

  // from_version of every ReadStream call.
  mutable std::vector<uint64_t> reads;

 private:
  eventstore::InMemoryEventStore memory_;
};

domain::SequenceEvent Event(domain::SequenceEventPayload payload) {
  domain::SequenceEvent event;
  event.metadata.tenant_id = "t";
  event.metadata.actor = "a";
  event.metadata.request_id = "r";
  event.metadata.occurred_at = absl::FromUnixSeconds(1000);
  event.payload = std::move(payload);
  return event;
}

void Append(eventstore::EventStore& store,
            const domain::SequenceEventPayload& payload) {
  eventstore::CommitBatch batch;
  batch.appends.push_back({app::layout::SequenceStream("t", "s"),
                           eventstore::kAnyVersion,
                           {app::Repository::Encode(Event(payload))}});
  ASSERT_TRUE(store.Commit(batch).ok());
}

domain::SequenceCreated Created() {
  domain::SequenceCreated created;
  created.sequence_id = "s";
  created.name = "Welcome";
  domain::StepDefinition step;
  step.delay = absl::Hours(1);
  created.steps.push_back(step);
  return created;
}

TEST(RepositorySequenceCacheTest, FoldsOnlyNewEventsAndFollowsEveryCommit) {
  CountingStore store;
  app::Repository repository(&store);

  auto unknown = repository.LoadSequence("t", "s");
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  EXPECT_FALSE(unknown->exists);

  Append(store, Created());
  store.reads.clear();
  auto created = repository.LoadSequence("t", "s");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->exists);
  EXPECT_FALSE(created->paused);
  EXPECT_EQ(created->version, 1u);
  EXPECT_EQ(store.reads, std::vector<uint64_t>({1}));

  // Unchanged stream: the snapshot, no read of the stream.
  store.reads.clear();
  auto again = repository.LoadSequence("t", "s");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->exists);
  EXPECT_EQ(again->name, "Welcome");
  EXPECT_TRUE(store.reads.empty());

  // A commit through the store alone (no repository involved) is seen by the
  // next load, which reads only the new event.
  Append(store, domain::SequencePaused{"s"});
  store.reads.clear();
  auto paused = repository.LoadSequence("t", "s");
  ASSERT_TRUE(paused.ok());
  EXPECT_TRUE(paused->paused);
  EXPECT_EQ(paused->version, 2u);
  EXPECT_EQ(store.reads, std::vector<uint64_t>({2}));

  Append(store, domain::SequenceResumed{"s"});
  Append(store, domain::SequencePaused{"s"});
  auto cached = repository.LoadSequence("t", "s");
  ASSERT_TRUE(cached.ok());
  // The same as folding the whole stream afresh.
  app::Repository fresh(&store);
  auto folded = fresh.LoadSequence("t", "s");
  ASSERT_TRUE(folded.ok());
  EXPECT_EQ(cached->version, 4u);
  EXPECT_EQ(folded->version, 4u);
  EXPECT_EQ(cached->paused, folded->paused);
  EXPECT_EQ(cached->name, folded->name);
  EXPECT_EQ(cached->steps.size(), folded->steps.size());
  EXPECT_EQ(cached->created_at, folded->created_at);
  EXPECT_EQ(cached->created_by, folded->created_by);
}

TEST(RepositorySequenceCacheTest, SequencesAreKeptApart) {
  CountingStore store;
  app::Repository repository(&store);
  Append(store, Created());
  ASSERT_TRUE(repository.LoadSequence("t", "s").ok());
  auto other = repository.LoadSequence("t", "other");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->exists);
  auto other_tenant = repository.LoadSequence("u", "s");
  ASSERT_TRUE(other_tenant.ok());
  EXPECT_FALSE(other_tenant->exists);
}

domain::RecipientEvent RecipientEvent(
    const domain::RecipientEventPayload& payload) {
  domain::RecipientEvent event;
  event.metadata.tenant_id = "t";
  event.metadata.actor = "a";
  event.metadata.request_id = "r";
  event.metadata.occurred_at = absl::FromUnixSeconds(1000);
  event.payload = payload;
  return event;
}

void AppendRecipient(eventstore::EventStore& store,
                     const domain::RecipientEventPayload& payload) {
  eventstore::CommitBatch batch;
  batch.appends.push_back({app::layout::RecipientStream("t", "s", "r1"),
                           eventstore::kAnyVersion,
                           {app::Repository::Encode(RecipientEvent(payload))}});
  ASSERT_TRUE(store.Commit(batch).ok());
}

// `loaded` (r1, from a repository with snapshots) equals what a repository
// without any folds from the whole stream.
void ExpectWholeStreamFold(eventstore::EventStore& store,
                           const domain::Recipient& loaded) {
  app::Repository fresh(&store);
  auto folded = fresh.LoadRecipient("t", "s", "r1");
  ASSERT_TRUE(folded.ok()) << folded.status();
  EXPECT_EQ(folded->version, loaded.version);
  EXPECT_EQ(folded->status, loaded.status);
  EXPECT_EQ(folded->paused_from, loaded.paused_from);
  EXPECT_EQ(folded->contact, loaded.contact);
  EXPECT_EQ(folded->variables, loaded.variables);
}

TEST(RepositoryRecipientCacheTest, FoldsOnlyNewEventsAndFollowsEveryCommit) {
  CountingStore store;
  app::Repository repository(&store);

  // Not in the store: one read finds nothing, and nothing is kept.
  auto unknown = repository.LoadRecipient("t", "s", "r1");
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  EXPECT_FALSE(unknown->exists);
  EXPECT_EQ(store.reads, std::vector<uint64_t>({1}));
  store.reads.clear();

  domain::RecipientEnrolled enrolled;
  enrolled.sequence_id = "s";
  enrolled.recipient_id = "r1";
  enrolled.contact.email = "r1@example.com";
  enrolled.variables = {{"first_name", "Ada"}};
  enrolled.step_count = 1;
  AppendRecipient(store, enrolled);
  auto loaded = repository.LoadRecipient("t", "s", "r1");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(loaded->exists);
  EXPECT_EQ(loaded->version, 1u);
  EXPECT_EQ(store.reads, std::vector<uint64_t>({1}));

  store.reads.clear();
  auto again = repository.LoadRecipient("t", "s", "r1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->contact.email, "r1@example.com");
  EXPECT_TRUE(store.reads.empty());

  // Commits made behind the repository's back: the next load reads only
  // them, and equals a fold of the whole stream.
  AppendRecipient(store, domain::Paused{});
  AppendRecipient(store, domain::Resumed{});
  AppendRecipient(store, domain::Paused{});
  store.reads.clear();
  auto paused = repository.LoadRecipient("t", "s", "r1");
  ASSERT_TRUE(paused.ok());
  EXPECT_EQ(store.reads, std::vector<uint64_t>({2}));
  EXPECT_EQ(paused->version, 4u);
  EXPECT_EQ(paused->status, domain::RecipientStatus::kPaused);
  ExpectWholeStreamFold(store, *paused);

  // Another recipient of the same sequence is its own stream.
  auto other = repository.LoadRecipient("t", "s", "r2");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->exists);
}

// A commit that tells the repository (Committed, as CommandRunner does) moves
// the snapshot forward: the next load reads no event. A commit that did not
// start from the snapshot's version (or one it was not told of) leaves it to
// the next load, which reads what it misses.
TEST(RepositoryRecipientCacheTest, CommittedMovesTheSnapshotForward) {
  CountingStore store;
  app::Repository repository(&store);
  domain::RecipientEnrolled enrolled;
  enrolled.sequence_id = "s";
  enrolled.recipient_id = "r1";
  enrolled.contact.email = "r1@example.com";
  enrolled.step_count = 1;
  AppendRecipient(store, enrolled);
  ASSERT_TRUE(repository.LoadRecipient("t", "s", "r1").ok());

  auto commit = [&](const domain::RecipientEventPayload& payload,
                    int64_t expected) {
    eventstore::CommitBatch batch;
    batch.appends.push_back(
        {app::layout::RecipientStream("t", "s", "r1"),
         expected,
         {app::Repository::Encode(RecipientEvent(payload))}});
    EXPECT_TRUE(store.Commit(batch).ok());
    repository.Committed(batch);
  };
  commit(domain::Paused{}, 1);
  store.reads.clear();
  auto paused = repository.LoadRecipient("t", "s", "r1");
  ASSERT_TRUE(paused.ok());
  EXPECT_TRUE(store.reads.empty());
  EXPECT_EQ(paused->version, 2u);
  EXPECT_EQ(paused->status, domain::RecipientStatus::kPaused);

  // Behind the repository's back, then a told commit from version 3: the
  // snapshot (at 2) is not moved, and the next load reads event 3 on.
  AppendRecipient(store, domain::Resumed{});
  commit(domain::Paused{}, 3);
  store.reads.clear();
  auto again = repository.LoadRecipient("t", "s", "r1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(store.reads, std::vector<uint64_t>({3}));
  EXPECT_EQ(again->version, 4u);
  EXPECT_EQ(again->status, domain::RecipientStatus::kPaused);

  ExpectWholeStreamFold(store, *again);
}

// Snapshots live in two generations of kRecipientCacheEntries / 2: a
// recipient loaded again since the last turn keeps its snapshot across the
// next turn; one not used for two turns is read again.
TEST(RepositoryRecipientCacheTest, KeepsWhatWasUsedSinceTheLastTurn) {
  CountingStore store;
  app::Repository repository(&store);
  constexpr size_t kHalf = app::Repository::kRecipientCacheEntries / 2;
  auto id = [](size_t i) { return absl::StrCat("r", i); };
  eventstore::CommitBatch batch;
  for (size_t i = 0; i < 2 * kHalf + 1; ++i) {
    domain::RecipientEnrolled enrolled;
    enrolled.sequence_id = "s";
    enrolled.recipient_id = id(i);
    enrolled.step_count = 1;
    batch.appends.push_back(
        {app::layout::RecipientStream("t", "s", id(i)),
         0,
         {app::Repository::Encode(RecipientEvent(enrolled))}});
  }
  ASSERT_TRUE(store.Commit(batch).ok());
  auto load = [&](size_t i) {
    store.reads.clear();
    auto loaded = repository.LoadRecipient("t", "s", id(i));
    EXPECT_TRUE(loaded.ok() && loaded->exists) << id(i);
    return store.reads.size();
  };
  // r0 .. r<kHalf - 1> fill the young generation; r<kHalf> turns it old.
  for (size_t i = 0; i <= kHalf; ++i) EXPECT_EQ(load(i), 1u) << i;
  EXPECT_EQ(load(0), 0u);  // From the old generation, back to the young one.
  // The next turn drops the old generation (r1 .. r<kHalf - 1>).
  for (size_t i = kHalf + 1; i < 2 * kHalf; ++i) EXPECT_EQ(load(i), 1u) << i;
  EXPECT_EQ(load(0), 0u);
  EXPECT_EQ(load(kHalf), 0u);
  EXPECT_EQ(load(1), 1u);
}

}  // namespace
}  // namespace sequencer::app
