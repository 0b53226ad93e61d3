// ProjectionVerifier on a real server's store: no discrepancy after a mix of
// API calls, and exactly the tampering done to the index or the log otherwise.

#include "app/storage/projection_verifier.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "app/storage/event_codec.h"
#include "gtest/gtest.h"
#include "tests/util/api_helpers.h"
#include "tests/util/forwarding_event_store.h"
#include "tests/util/test_server.h"
#include "tests/util/test_util.h"

namespace sequencer::testing {
namespace {

using ActionMethod = grpc::Status (v1::RecipientService::Stub::*)(
    grpc::ClientContext*, const v1::RecipientActionRequest&, v1::Recipient*);

void MustAct(TestServer& server, ActionMethod method,
             const std::string& sequence_id, const std::string& recipient_id,
             const std::string& tenant = kTenant) {
  v1::Recipient recipient;
  grpc::Status status = (server.recipients().*method)(
      CallAs(tenant).get(), ActionRequest(sequence_id, recipient_id),
      &recipient);
  ASSERT_TRUE(status.ok()) << recipient_id << ": " << status.error_message();
}

void MustDelete(TestServer& server, const std::string& sequence_id,
                const std::string& recipient_id) {
  v1::DeleteRecipientResponse response;
  grpc::Status status = server.recipients().DeleteRecipient(
      CallAs().get(), ActionRequest(sequence_id, recipient_id), &response);
  ASSERT_TRUE(status.ok()) << recipient_id << ": " << status.error_message();
}

void MustSignal(TestServer& server, const std::string& sequence_id,
                const std::string& recipient_id, v1::SignalType signal) {
  v1::RecordSignalRequest request;
  request.set_request_id(NextRequestId());
  request.set_sequence_id(sequence_id);
  request.set_recipient_id(recipient_id);
  request.set_signal(signal);
  request.set_detail("provider-msg-1");
  v1::Recipient recipient;
  grpc::Status status =
      server.recipients().RecordSignal(CallAs().get(), request, &recipient);
  ASSERT_TRUE(status.ok()) << recipient_id << ": " << status.error_message();
}

std::string Describe(const app::VerifyResult& result) {
  return result.Summary();
}

class ProjectionVerifierTest : public ::testing::Test {
 protected:
  // Two tenants, three sequences, recipients in many statuses, two deleted.
  void SetUp() override {
    CreateSequence(server_, "s1",
                   {EmailStep(absl::Hours(24)), SmsStep(absl::Hours(48))});
    Enroll(server_, "s1", {"r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8"});
    MustAct(server_, &v1::RecipientService::Stub::PauseRecipient, "s1", "r1");
    MustAct(server_, &v1::RecipientService::Stub::PauseRecipient, "s1", "r2");
    MustAct(server_, &v1::RecipientService::Stub::ResumeRecipient, "s1", "r2");
    MustAct(server_, &v1::RecipientService::Stub::StopRecipient, "s1", "r3");
    MustDelete(server_, "s1", "r4");
    MustSignal(server_, "s1", "r5", v1::SIGNAL_TYPE_REPLY);
    MustSignal(server_, "s1", "r6", v1::SIGNAL_TYPE_BOUNCE);
    MustSignal(server_, "s1", "r8", v1::SIGNAL_TYPE_UNSUBSCRIBE);

    CreateSequence(server_, "s2", {TaskStep(absl::ZeroDuration())});
    Enroll(server_, "s2", {"p1", "p2"});
    MustDelete(server_, "s2", "p2");

    CreateSequence(server_, "s1", {EmailStep(absl::Hours(1))}, true,
                   "tenant-b");
    Enroll(server_, "s1", {"r1"}, "tenant-b");
    MustAct(server_, &v1::RecipientService::Stub::PauseRecipient, "s1", "r1",
            "tenant-b");
  }

  app::VerifyResult MustVerify(app::ProjectionVerifier::Options options = {}) {
    app::ProjectionVerifier verifier(&server_.store(), options);
    auto result = verifier.Verify();
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *std::move(result) : app::VerifyResult();
  }

  void Tamper(std::vector<eventstore::IndexWrite> writes) {
    eventstore::CommitBatch batch;
    batch.index_writes = std::move(writes);
    SEQ_ASSERT_OK(server_.store().Commit(batch));
  }

  void AppendRaw(const std::string& stream, const std::string& type,
                 const std::string& data) {
    eventstore::CommitBatch batch;
    batch.appends.push_back({stream, eventstore::kAnyVersion, {{type, data}}});
    SEQ_ASSERT_OK(server_.store().Commit(batch));
  }

  TestServer server_;
};

TEST_F(ProjectionVerifierTest, ConsistentStoreHasNoDiscrepancy) {
  app::VerifyResult result = MustVerify();
  EXPECT_TRUE(result.ok()) << Describe(result);
  EXPECT_EQ(result.discrepancy_count, 0u);
  EXPECT_TRUE(result.discrepancies.empty());
  EXPECT_EQ(result.last_position, server_.store().LastPosition());
  // The two deleted recipients' events are erased; their tombstones stay.
  EXPECT_EQ(result.events + result.erased_events,
            server_.store().LastPosition());
  EXPECT_GT(result.erased_events, 0u);
  EXPECT_EQ(result.sequences, 3u);
  EXPECT_EQ(result.recipients, 9u);
  EXPECT_EQ(result.deleted_recipients, 0u);
  EXPECT_EQ(result.tombstones, 2u);
  // The listing entries: sq: 3, rl: 9, rs: 9 (other projections may add more).
  for (const auto& [prefix, count] :
       std::vector<std::pair<std::string, size_t>>{
           {"sq/", 3}, {"rl/", 9}, {"rs/", 9}, {"due/", 2}, {"rp/", 9}}) {
    auto entries = server_.store().ScanIndex(prefix, "", 1000);
    ASSERT_TRUE(entries.ok()) << entries.status();
    EXPECT_EQ(entries->size(), count) << prefix;
  }
  // Compared: those 21, the scheduler's due/ entries of the two recipients
  // waiting for a delay (s1/r2 resumed, s1/r7 untouched) and one report
  // contribution (rp/) per listed recipient.
  EXPECT_EQ(result.index_entries, 32u);
  EXPECT_GT(result.idempotency_records, 0u);

  // The counts by status are those the service serves.
  std::map<std::string, uint64_t> served;
  struct Listed {
    std::string tenant, sequence;
    std::vector<std::string> recipients;
  };
  for (const Listed& listed :
       {Listed{kTenant, "s1", {"r1", "r2", "r3", "r5", "r6", "r7", "r8"}},
        Listed{kTenant, "s2", {"p1"}}, Listed{"tenant-b", "s1", {"r1"}}}) {
    for (const std::string& id : listed.recipients) {
      v1::Recipient recipient;
      grpc::Status status =
          GetRecipient(server_, listed.sequence, id, &recipient, listed.tenant);
      ASSERT_TRUE(status.ok()) << status.error_message();
      ++served[v1::RecipientStatus_Name(recipient.status())];
    }
  }
  EXPECT_EQ(result.recipients_by_status, served);
  EXPECT_EQ(result.recipients_by_status["RECIPIENT_STATUS_PAUSED"], 2u)
      << Describe(result);
  EXPECT_TRUE(absl::StrContains(result.Summary(), "OK")) << result.Summary();
}

// Splits the streams where it is told to, and moves one event to the
// position of another, as a damaged log could.
class SplitDuplicatingStore : public ForwardingEventStore {
 public:
  SplitDuplicatingStore(eventstore::EventStore* inner,
                        std::vector<std::string> splits, uint64_t from,
                        uint64_t to)
      : ForwardingEventStore(inner),
        splits_(std::move(splits)),
        from_(from),
        to_(to) {}
  absl::StatusOr<std::vector<eventstore::StoredEvent>> ReadAll(
      uint64_t from_position, size_t max_count) const override {
    auto events = ForwardingEventStore::ReadAll(from_position, max_count);
    if (!events.ok()) return events;
    for (auto& event : *events) {
      if (event.position == from_) event.position = to_;
    }
    return events;
  }
  absl::StatusOr<std::vector<std::string>> StreamSplitPoints(
      absl::string_view, int) const override {
    return splits_;
  }

 private:
  std::vector<std::string> splits_;
  uint64_t from_;
  uint64_t to_;
};

// Every field of the result.
void ExpectSameResult(const app::VerifyResult& a, const app::VerifyResult& b) {
  EXPECT_EQ(a.last_position, b.last_position);
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.sequences, b.sequences);
  EXPECT_EQ(a.recipients, b.recipients);
  EXPECT_EQ(a.deleted_recipients, b.deleted_recipients);
  EXPECT_EQ(a.recipients_by_status, b.recipients_by_status);
  EXPECT_EQ(a.index_entries, b.index_entries);
  EXPECT_EQ(a.idempotency_records, b.idempotency_records);
  EXPECT_EQ(a.discrepancy_count, b.discrepancy_count);
  EXPECT_EQ(a.discrepancies, b.discrepancies);
}

TEST_F(ProjectionVerifierTest, AnyNumberOfThreadsGivesTheSameResult) {
  // Findings in every part of the log and every prefix: a stream outside the
  // layout, a recipient of no sequence, a changed, a removed and an
  // unexpected entry.
  v1::Event event;
  event.mutable_metadata()->set_tenant_id(kTenant);
  event.mutable_stopped();
  AppendRaw("misc/whatever", "Stopped", event.SerializeAsString());
  AppendRaw("rcp/tenant-a/nope/r1", "Stopped", event.SerializeAsString());
  Tamper({{"rl/tenant-a/s1/r7", "PAUSED"},
          {"rs/tenant-a/s1/IN_PROGRESS/r3", std::nullopt},
          {"rs/tenant-b/s1/PAUSED/zz", ""},
          {"sq/tenant-b/ghost", ""}});
  app::VerifyResult one = MustVerify({/*max_reported=*/100, /*threads=*/1});
  EXPECT_GE(one.discrepancy_count, 6u) << Describe(one);
  for (int threads : {2, 3, 8}) {
    SCOPED_TRACE(threads);
    ExpectSameResult(MustVerify({/*max_reported=*/100, /*threads=*/threads}),
                     one);
    // Every prefix compared in key ranges, one per thread.
    ExpectSameResult(MustVerify({/*max_reported=*/100, /*threads=*/threads,
                                 /*split_prefix_at=*/1}),
                     one);
  }
  // Ranges split anywhere: inside a sequence's recipients, between
  // tenants, among the sequence streams, past the end.
  for (const std::vector<std::string>& splits :
       std::vector<std::vector<std::string>>{
           {"rcp/tenant-a/s1/r3"},
           {"rcp/tenant-a/s1/r2", "rcp/tenant-a/s1/r6", "rcp/tenant-b"},
           {"misc", "rcp/tenant-a/s2/p1", "seq/tenant-a/s2"},
           {"zzz"},
           // Not ascending, or empty: such points are dropped.
           {"rcp/tenant-b", "rcp/tenant-a", "", "rcp/tenant-b", "seq/"}}) {
    SCOPED_TRACE(absl::StrJoin(splits, ","));
    SplitDuplicatingStore split(&server_.store(), splits, 0, 0);
    app::ProjectionVerifier verifier(
        &split, {/*max_reported=*/100,
                 /*threads=*/static_cast<int>(splits.size()) + 1,
                 /*split_prefix_at=*/1});
    auto result = verifier.Verify();
    ASSERT_TRUE(result.ok()) << result.status();
    ExpectSameResult(*result, one);
  }
  // Bounded lists keep the same first findings.
  app::VerifyResult bounded_one =
      MustVerify({/*max_reported=*/3, /*threads=*/1});
  ExpectSameResult(MustVerify({/*max_reported=*/3, /*threads=*/2}),
                   bounded_one);
  ExpectSameResult(
      MustVerify({/*max_reported=*/3, /*threads=*/3, /*split_prefix_at=*/1}),
      bounded_one);
  EXPECT_EQ(bounded_one.discrepancy_count, one.discrepancy_count);
  ASSERT_EQ(bounded_one.discrepancies.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(bounded_one.discrepancies[i], one.discrepancies[i]);
  }
}

TEST_F(ProjectionVerifierTest, APositionUsedInTwoRangesIsFoundAsByOneScan) {
  // The last event (tenant-b's r1) takes the position of the first event of
  // tenant-a's s1/r1, which the other range reads.
  const uint64_t last = server_.store().LastPosition();
  auto events = server_.store().ReadAll(1, SIZE_MAX);
  ASSERT_TRUE(events.ok());
  uint64_t target = 0;
  for (const auto& event : *events) {
    if (event.stream == "rcp/tenant-a/s1/r1") {
      target = event.position;
      break;
    }
  }
  ASSERT_GT(target, 0u);
  ASSERT_EQ(events->back().stream, "rcp/tenant-b/s1/r1");
  SplitDuplicatingStore split(&server_.store(), {"rcp/tenant-a/s2"}, last,
                              target);
  SplitDuplicatingStore whole(&server_.store(), {}, last, target);
  app::ProjectionVerifier two(&split, {/*max_reported=*/100, /*threads=*/2});
  app::ProjectionVerifier one(&whole, {/*max_reported=*/100, /*threads=*/1});
  auto result = two.Verify();
  ASSERT_TRUE(result.ok()) << result.status();
  auto expected = one.Verify();
  ASSERT_TRUE(expected.ok()) << expected.status();
  ExpectSameResult(*result, *expected);
  const std::string all = absl::StrJoin(result->discrepancies, "\n");
  EXPECT_TRUE(absl::StrContains(
      all, absl::StrCat("event at position ", target,
                        R"( ("rcp/tenant-b/s1/r1" v2): position used twice)")))
      << all;
  EXPECT_TRUE(
      absl::StrContains(all, absl::StrCat("log ends at position ", last - 1)))
      << all;
}

TEST_F(ProjectionVerifierTest, ReportsAChangedStatusValue) {
  Tamper({{"rl/tenant-a/s1/r7", "PAUSED"}});
  app::VerifyResult result = MustVerify();
  ASSERT_EQ(result.discrepancy_count, 1u) << Describe(result);
  ASSERT_EQ(result.discrepancies.size(), 1u);
  EXPECT_EQ(result.discrepancies[0],
            R"(different index entry "rl/tenant-a/s1/r7" = "PAUSED", )"
            R"(expected "IN_PROGRESS")");
  EXPECT_FALSE(result.ok());
}

TEST_F(ProjectionVerifierTest, ReportsARemovedStatusEntry) {
  Tamper({{"rs/tenant-a/s1/IN_PROGRESS/r7", std::nullopt}});
  app::VerifyResult result = MustVerify();
  ASSERT_EQ(result.discrepancy_count, 1u) << Describe(result);
  EXPECT_EQ(result.discrepancies[0],
            R"(missing index entry "rs/tenant-a/s1/IN_PROGRESS/r7" = "")");
}

// A report contribution altered behind the service's back: one more send
// counted for s1/r5, r6's entry removed, and one for the deleted r4.
TEST_F(ProjectionVerifierTest, ReportsAlteredReportEntriesByName) {
  auto stored = server_.store().GetIndex("rp/tenant-a/s1/r5");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  auto contribution = app::DecodeReportContribution(**stored);
  ASSERT_TRUE(contribution.ok()) << contribution.status();
  contribution->steps.resize(1);
  ++contribution->steps[0].sent;
  Tamper({{"rp/tenant-a/s1/r5", app::EncodeReportContribution(*contribution)},
          {"rp/tenant-a/s1/r6", std::nullopt},
          {"rp/tenant-a/s1/r4", **stored}});
  app::VerifyResult result = MustVerify();
  ASSERT_EQ(result.discrepancy_count, 3u) << Describe(result);
  EXPECT_TRUE(absl::StartsWith(result.discrepancies[0],
                               R"(unexpected index entry "rp/tenant-a/s1/r4")"))
      << result.discrepancies[0];
  // Findings show what a contribution counts (r5 replied before any send).
  EXPECT_EQ(result.discrepancies[1],
            R"(different index entry "rp/tenant-a/s1/r5" = {RESPONDED step0: )"
            R"(sent 1 before first send: replies 1}, expected {RESPONDED )"
            R"(before first send: replies 1})");
  EXPECT_TRUE(absl::StartsWith(result.discrepancies[2],
                               R"(missing index entry "rp/tenant-a/s1/r6")"))
      << result.discrepancies[2];
  EXPECT_FALSE(result.ok());
}

TEST_F(ProjectionVerifierTest, ReportsEntriesNobodyExpects) {
  // A listing entry for a deleted recipient, and a sequence that never was.
  Tamper({{"rs/tenant-a/s1/PAUSED/r4", ""}, {"sq/tenant-b/ghost", ""}});
  app::VerifyResult result = MustVerify();
  ASSERT_EQ(result.discrepancy_count, 2u) << Describe(result);
  EXPECT_EQ(result.discrepancies[0],
            R"(unexpected index entry "sq/tenant-b/ghost" = "")");
  EXPECT_EQ(result.discrepancies[1],
            R"(unexpected index entry "rs/tenant-a/s1/PAUSED/r4" = "")");
}

TEST_F(ProjectionVerifierTest, BoundsTheListButCountsEverything) {
  std::vector<eventstore::IndexWrite> writes;
  for (int i = 0; i < 10; ++i) {
    writes.push_back({absl::StrCat("rl/tenant-a/s9/x", i), "PAUSED"});
  }
  Tamper(writes);
  app::VerifyResult result = MustVerify({/*max_reported=*/4});
  EXPECT_EQ(result.discrepancy_count, 10u);
  EXPECT_EQ(result.discrepancies.size(), 4u);
  EXPECT_TRUE(absl::StrContains(result.Summary(), "10 discrepancies (first 4"))
      << result.Summary();
}

TEST_F(ProjectionVerifierTest, ReportsAnUndecodableEventOnce) {
  const uint64_t position = server_.store().LastPosition() + 1;
  AppendRaw("rcp/tenant-a/s1/r7", "Paused", "\xff\xff not a protobuf");
  app::VerifyResult result = MustVerify();
  ASSERT_EQ(result.discrepancy_count, 1u) << Describe(result);
  EXPECT_TRUE(absl::StrContains(result.discrepancies[0],
                                absl::StrCat("event at position ", position,
                                             R"( ("rcp/tenant-a/s1/r7" v)")))
      << result.discrepancies[0];
  EXPECT_TRUE(absl::StrContains(result.discrepancies[0], "does not parse"))
      << result.discrepancies[0];
}

TEST_F(ProjectionVerifierTest, DoesNotJudgeRecipientsOfAnUnfoldableSequence) {
  // The sequence's stream no longer folds: that is the one finding; its
  // recipients' index entries depend on it and are not compared.
  AppendRaw("seq/tenant-a/s1", "SequencePaused", "\xff\xff not a protobuf");
  app::VerifyResult result = MustVerify();
  ASSERT_EQ(result.discrepancy_count, 1u) << Describe(result);
  EXPECT_TRUE(
      absl::StrContains(result.discrepancies[0], R"(("seq/tenant-a/s1" v)"))
      << result.discrepancies[0];
  EXPECT_TRUE(absl::StrContains(result.discrepancies[0], "does not parse"))
      << result.discrepancies[0];
}

TEST_F(ProjectionVerifierTest, ReportsAStreamOutsideTheLayout) {
  v1::Event event;
  event.mutable_metadata()->set_tenant_id(kTenant);
  event.mutable_stopped();
  AppendRaw("misc/whatever", "Stopped", event.SerializeAsString());
  app::VerifyResult result = MustVerify();
  ASSERT_EQ(result.discrepancy_count, 1u) << Describe(result);
  EXPECT_TRUE(absl::StrContains(result.discrepancies[0],
                                R"(unknown stream "misc/whatever")"))
      << result.discrepancies[0];
}

TEST_F(ProjectionVerifierTest, ReportsAMismatchedTypeAndTenant) {
  v1::Event event;
  event.mutable_metadata()->set_tenant_id("tenant-b");
  event.mutable_stopped();
  AppendRaw("rcp/tenant-a/s1/r7", "Paused", event.SerializeAsString());
  app::VerifyResult result = MustVerify();
  // The fold applies Stopped: the index entries of r7 are now stale, too
  // (its listing, and any other projection of a running recipient).
  EXPECT_GE(result.discrepancy_count, 5u) << Describe(result);
  for (const std::string& line : result.discrepancies) {
    EXPECT_TRUE(absl::StrContains(line, "/r7")) << line;
  }
  const std::string all = absl::StrJoin(result.discrepancies, "\n");
  EXPECT_TRUE(absl::StrContains(all, R"(stored type "Paused" but the payload)"))
      << all;
  EXPECT_TRUE(absl::StrContains(all, R"(metadata names tenant "tenant-b")"))
      << all;
  EXPECT_TRUE(absl::StrContains(
      all, R"(different index entry "rl/tenant-a/s1/r7" = "IN_PROGRESS")"))
      << all;
  EXPECT_TRUE(absl::StrContains(
      all, R"(unexpected index entry "rs/tenant-a/s1/IN_PROGRESS/r7")"))
      << all;
  EXPECT_TRUE(absl::StrContains(
      all, R"(missing index entry "rs/tenant-a/s1/STOPPED/r7")"))
      << all;
}

// Hides one position from ReadAll, as a log with a hole would.
class HoleyStore : public ForwardingEventStore {
 public:
  HoleyStore(eventstore::EventStore* inner, uint64_t hole)
      : ForwardingEventStore(inner), hole_(hole) {}
  absl::StatusOr<std::vector<eventstore::StoredEvent>> ReadAll(
      uint64_t from_position, size_t max_count) const override {
    auto events = ForwardingEventStore::ReadAll(from_position, max_count);
    if (!events.ok()) return events;
    std::vector<eventstore::StoredEvent> out;
    for (auto& event : *events) {
      if (event.position != hole_) out.push_back(std::move(event));
    }
    return out;
  }

 private:
  uint64_t hole_;
};

TEST_F(ProjectionVerifierTest, ReportsAGapInTheLog) {
  // The last event is r1's Paused in tenant-b: a hole there is the only
  // finding about positions or versions.
  const uint64_t last = server_.store().LastPosition();
  HoleyStore holey(&server_.store(), last - 1);
  auto stored = server_.store().ReadAll(last - 1, 2);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 2u);
  ASSERT_EQ((*stored)[0].stream, (*stored)[1].stream);

  app::ProjectionVerifier verifier(&holey);
  auto result = verifier.Verify();
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->discrepancy_count, 2u) << Describe(*result);
  EXPECT_EQ(
      result->discrepancies[0],
      absl::StrCat("log gap: expected position ", last - 1, ", found ", last));
  EXPECT_TRUE(absl::StrContains(result->discrepancies[1], "version follows"))
      << result->discrepancies[1];
  EXPECT_EQ(result->events + result->erased_events, last - 1);
}

}  // namespace
}  // namespace sequencer::testing
