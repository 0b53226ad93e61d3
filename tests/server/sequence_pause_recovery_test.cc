// A sequence pause moves its recipients in bounded commits
// (app/use_cases/sequence_pause.h). One that a crash cuts between two chunks
// is finished by the real server when it starts again: every recipient ends
// PAUSED by the sequence, and a retry of the request answers the outcome the
// start-up recorded without writing anything.

#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "app/pipeline/idempotency.h"
#include "app/runtime/id_generator.h"
#include "app/runtime/lock_table.h"
#include "app/storage/repository.h"
#include "app/storage/store_layout.h"
#include "app/use_cases/sequence_pause.h"
#include "gtest/gtest.h"
#include "server/sequence_service.h"
#include "tests/util/api_helpers.h"
#include "tests/util/forwarding_event_store.h"
#include "tests/util/grpc_status_matchers.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

constexpr char kSeq[] = "seq-big";
constexpr char kRequestId[] = "pause-big";

// Fails every commit from the `fail_from`-th on, as a crash would leave them:
// not written.
class CrashingStore : public ForwardingEventStore {
 public:
  CrashingStore(eventstore::EventStore* inner, int fail_from)
      : ForwardingEventStore(inner), fail_from_(fail_from) {}

  absl::StatusOr<eventstore::CommitResult> Commit(
      const eventstore::CommitBatch& batch) override {
    if (++commits_ >= fail_from_) {
      return absl::UnavailableError("the process died here");
    }
    return ForwardingEventStore::Commit(batch);
  }

 private:
  const int fail_from_;
  int commits_ = 0;
};

v1::SequenceActionRequest PauseRequest() {
  v1::SequenceActionRequest request;
  request.set_request_id(kRequestId);
  request.set_sequence_id(kSeq);
  return request;
}

int CountWithStatus(TestServer& server, v1::RecipientStatus status) {
  int count = 0;
  std::string token;
  do {
    v1::ListRecipientsRequest request;
    request.set_sequence_id(kSeq);
    request.add_statuses(status);
    request.set_page_size(1000);
    request.set_page_token(token);
    v1::ListRecipientsResponse response;
    grpc::Status listed =
        server.recipients().ListRecipients(CallAs().get(), request, &response);
    EXPECT_TRUE(listed.ok()) << listed.error_message();
    if (!listed.ok()) return -1;
    count += response.recipients_size();
    token = response.next_page_token();
  } while (!token.empty());
  return count;
}

TEST(SequencePauseRecoveryTest, APauseCutBetweenChunksIsFinishedAtStartUp) {
  TestServer server;
  CreateSequence(server, kSeq,
                 {EmailStep(absl::Hours(24)), SmsStep(absl::Hours(24))});
  const int total = static_cast<int>(2 * app::kSequenceOpChunk + 500);
  std::vector<std::string> ids;
  for (int i = 0; i < total; ++i) ids.push_back(absl::StrFormat("r%05d", i));
  Enroll(server, kSeq, ids);

  {
    // The pause as the service runs it, on the server's own store, with the
    // process dying at the third commit: SequencePaused and the first chunk
    // are written, the rest is not.
    CrashingStore store(&server.store(), /*fail_from=*/3);
    app::Repository repository(&store);
    app::LockTable locks;
    app::SequentialIdGenerator id_generator;
    app::AppDeps deps;
    deps.repository = &repository;
    deps.clock = &server.clock();
    deps.ids = &id_generator;
    deps.locks = &locks;
    const app::SequencePauseRequest request{
        {"/sequencer.v1.SequenceService/PauseSequence", kRequestId,
         app::RequestFingerprint(PauseRequest())},
        kSeq,
        /*pause=*/true,
        std::nullopt};
    EXPECT_THAT(app::RunSequencePause(deps, app::CallContext{kTenant, kActor},
                                      request, server::SequencePauseEncoder())
                    .status(),
                StatusIs(absl::StatusCode::kUnavailable));
  }
  ASSERT_EQ(CountWithStatus(server, v1::RECIPIENT_STATUS_PAUSED),
            static_cast<int>(app::kSequenceOpChunk));
  ASSERT_EQ(CountWithStatus(server, v1::RECIPIENT_STATUS_IN_PROGRESS),
            total - static_cast<int>(app::kSequenceOpChunk));

  server.Restart();

  EXPECT_EQ(CountWithStatus(server, v1::RECIPIENT_STATUS_IN_PROGRESS), 0);
  EXPECT_EQ(CountWithStatus(server, v1::RECIPIENT_STATUS_PAUSED), total);
  const v1::Recipient last = MustGetRecipient(server, kSeq, ids.back());
  EXPECT_TRUE(last.paused_by_sequence());
  absl::StatusOr<std::optional<std::string>> record =
      server.store().GetIndex(app::layout::SequenceOpKey(kTenant, kSeq));
  ASSERT_TRUE(record.ok());
  EXPECT_FALSE(record->has_value()) << "the seqop/ record is gone";

  // The retry answers what the start-up recorded, and writes nothing.
  const std::vector<std::string> before = LogSnapshot(server);
  v1::SequenceActionResponse response;
  grpc::Status retried = server.sequences().PauseSequence(
      CallAs().get(), PauseRequest(), &response);
  ASSERT_TRUE(retried.ok()) << retried.error_message();
  EXPECT_EQ(response.sequence().status(), v1::SEQUENCE_STATUS_PAUSED);
  EXPECT_EQ(response.affected_recipients(),
            total - static_cast<int>(app::kSequenceOpChunk));
  EXPECT_EQ(LogSnapshot(server), before);
}

}  // namespace
}  // namespace sequencer::testing
