// A fixture for tests of the application layer (app/): the use cases run
// directly on the in-memory event store, with the manual clock and
// sequential ids. No gRPC, no server, no threads, no sleeps.
//
// The store is wrapped in a WatchingStore that counts commits, keeps the
// streams each commit appended to, and can fail or interleave a commit
// (`before_commit`), so that tests can check what was written and how.

#ifndef SEQUENCER_TESTS_APP_APP_FIXTURE_H_
#define SEQUENCER_TESTS_APP_APP_FIXTURE_H_

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "app/app_deps.h"
#include "app/caller.h"
#include "app/pipeline/command_runner.h"
#include "app/runtime/clock.h"
#include "app/runtime/id_generator.h"
#include "app/runtime/lock_table.h"
#include "app/runtime/poll_registry.h"
#include "app/runtime/queue_fronts.h"
#include "app/runtime/ready_steps.h"
#include "app/runtime/work_signal.h"
#include "app/storage/repository.h"
#include "app/storage/store_layout.h"
#include "app/use_cases/enrollment.h"
#include "app/use_cases/sequences.h"
#include "domain/model.h"
#include "domain/recipient.h"
#include "eventstore/event_store.h"
#include "eventstore/in_memory_event_store.h"
#include "gtest/gtest.h"
#include "tests/util/forwarding_event_store.h"

namespace sequencer::app::testing {

// Forwards to an in-memory store and watches every Commit.
class WatchingStore : public sequencer::testing::ForwardingEventStore {
 public:
  explicit WatchingStore(eventstore::EventStore* inner)
      : ForwardingEventStore(inner) {}

  absl::StatusOr<eventstore::CommitResult> Commit(
      const eventstore::CommitBatch& batch) override {
    ++commits;
    std::vector<std::string> streams;
    for (const auto& append : batch.appends) streams.push_back(append.stream);
    appended_streams.push_back(std::move(streams));
    if (before_commit) {
      absl::Status status = before_commit(batch);
      if (!status.ok()) return status;
    }
    return ForwardingEventStore::Commit(batch);
  }

  // Commits the underlying store directly (not counted, no hook).
  absl::StatusOr<eventstore::CommitResult> CommitInner(
      const eventstore::CommitBatch& batch) {
    return inner().Commit(batch);
  }

  // Commit calls so far, whatever they answered.
  int commits = 0;
  // For each Commit call, the streams its batch appended to.
  std::vector<std::vector<std::string>> appended_streams;
  // Runs before each commit; an error is that commit's answer (nothing is
  // written then).
  std::function<absl::Status(const eventstore::CommitBatch&)> before_commit;
};

// Everything the store holds that a change could write: the log's end and
// the whole index keyspace.
struct StoreImage {
  uint64_t last_position = 0;
  std::vector<std::pair<std::string, std::string>> index;

  friend bool operator==(const StoreImage& a, const StoreImage& b) {
    return a.last_position == b.last_position && a.index == b.index;
  }
  friend bool operator!=(const StoreImage& a, const StoreImage& b) {
    return !(a == b);
  }
  // gtest prints this on a failed comparison.
  friend void PrintTo(const StoreImage& image, std::ostream* os) {
    *os << "{last_position " << image.last_position << ", "
        << image.index.size() << " index entries}";
  }
};

inline constexpr char kTenant[] = "tenant-a";
inline constexpr char kActor[] = "user:alice";

inline domain::StepDefinition EmailStep(absl::Duration delay) {
  domain::StepDefinition step;
  step.type = domain::StepType::kEmail;
  step.mode = domain::StepMode::kAutomatic;
  step.delay = delay;
  step.content.subject = "Hello {{first_name}}";
  step.content.body = "Hi {{first_name}}, a word from us.";
  return step;
}

// "<STATUS>@v<version>": what the tests record as a recipient command's
// response.
inline std::string EncodeOutcome(const CommandOutcome& outcome) {
  return absl::StrCat(std::string(domain::StatusName(outcome.after.status)),
                      "@v", outcome.after.version);
}

class AppFixture : public ::testing::Test {
 protected:
  AppFixture() {
    deps_.repository = &repository_;
    deps_.clock = &clock_;
    deps_.ids = &ids_;
    deps_.locks = &locks_;
    deps_.work = &work_;
    deps_.polls = &polls_;
    deps_.fronts = &fronts_;
    deps_.ready_steps = &ready_steps_;
  }

  CallContext Call() const { return CallContext{kTenant, kActor}; }

  // An idempotent request identity with the given id.
  static RequestIdentity Identity(std::string request_id,
                                  std::string method = "/test/Method",
                                  uint64_t fingerprint = 1) {
    return RequestIdentity{std::move(method), std::move(request_id),
                           fingerprint, true};
  }

  // A fresh request id for helpers ("setup-1", "setup-2", ...).
  std::string NextRequestId() { return absl::StrCat("setup-", ++setup_ids_); }

  absl::Status CreateSequence(const std::string& sequence_id,
                              std::vector<domain::StepDefinition> steps) {
    CreateSequenceRequest request;
    request.identity = Identity(NextRequestId(), "/test/CreateSequence");
    request.command.sequence_id = sequence_id;
    request.command.name = "Outreach " + sequence_id;
    request.command.steps = std::move(steps);
    return app::CreateSequence(deps_, Call(), request, nullptr).status();
  }

  static domain::EnrollRecipient Enrollee(const std::string& recipient_id) {
    domain::EnrollRecipient recipient;
    recipient.recipient_id = recipient_id;
    recipient.contact.email = recipient_id + "@example.com";
    recipient.variables["first_name"] = "Ada";
    return recipient;
  }

  absl::StatusOr<Answered<EnrollResult>> EnrollIds(
      const std::string& sequence_id, const std::vector<std::string>& ids,
      const std::string& request_id) {
    EnrollRequest request;
    request.identity = Identity(request_id, "/test/EnrollRecipients");
    request.sequence_id = sequence_id;
    for (const auto& id : ids) request.recipients.push_back(Enrollee(id));
    return EnrollRecipients(deps_, Call(), request, nullptr);
  }

  absl::Status Enroll(const std::string& sequence_id,
                      const std::vector<std::string>& ids) {
    return EnrollIds(sequence_id, ids, NextRequestId()).status();
  }

  // "r0000", "r0001", ... (sorted as they are numbered).
  static std::vector<std::string> ManyIds(int count) {
    std::vector<std::string> ids;
    ids.reserve(count);
    for (int i = 0; i < count; ++i) {
      ids.push_back(absl::StrCat("r", absl::Dec(i, absl::kZeroPad4)));
    }
    return ids;
  }

  // Runs one recipient command with a fresh request id.
  absl::StatusOr<Answered<CommandOutcome>> Act(
      const std::string& sequence_id, const std::string& recipient_id,
      const domain::RecipientCommand& command) {
    RecipientCommandRequest request;
    request.identity = Identity(NextRequestId(), "/test/Act");
    request.sequence_id = sequence_id;
    request.recipient_id = recipient_id;
    return CommandRunner(deps_).RunRecipient(Call(), request, command,
                                             EncodeOutcome);
  }

  domain::Recipient Recipient(const std::string& sequence_id,
                              const std::string& recipient_id) const {
    absl::StatusOr<domain::Recipient> recipient =
        repository_.LoadRecipient(kTenant, sequence_id, recipient_id);
    EXPECT_TRUE(recipient.ok()) << recipient.status();
    return recipient.ok() ? *recipient : domain::Recipient{};
  }

  domain::Sequence Sequence(const std::string& sequence_id) const {
    absl::StatusOr<domain::Sequence> sequence =
        repository_.LoadSequence(kTenant, sequence_id);
    EXPECT_TRUE(sequence.ok()) << sequence.status();
    return sequence.ok() ? *sequence : domain::Sequence{};
  }

  StoreImage Image() const {
    StoreImage image;
    image.last_position = memory_.LastPosition();
    absl::StatusOr<std::vector<std::pair<std::string, std::string>>> index =
        memory_.ScanIndex("", "", static_cast<size_t>(-1));
    EXPECT_TRUE(index.ok()) << index.status();
    if (index.ok()) image.index = *std::move(index);
    return image;
  }

  bool HasIndex(const std::string& key) const {
    absl::StatusOr<std::optional<std::string>> value = memory_.GetIndex(key);
    EXPECT_TRUE(value.ok()) << value.status();
    return value.ok() && value->has_value();
  }

  eventstore::InMemoryEventStore memory_;
  WatchingStore store_{&memory_};
  Repository repository_{&store_};
  LockTable locks_;
  ManualClock clock_;
  SequentialIdGenerator ids_;
  WorkSignal work_;
  PollRegistry polls_{&clock_};
  QueueFronts fronts_;
  ReadySteps ready_steps_;
  AppDeps deps_;
  int setup_ids_ = 0;
};

}  // namespace sequencer::app::testing

#endif  // SEQUENCER_TESTS_APP_APP_FIXTURE_H_
