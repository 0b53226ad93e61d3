// LeaseSteps long polls through a real server: waiting polls hold no thread
// (other calls keep answering with a thousand of them outstanding), a commit
// wakes only the polls of the queue it added work to, deadlines follow the
// service clock, a cancelled poll is freed, and shutdown (SIGTERM of the real
// sequencerd) answers every waiting poll.

#include <signal.h>
#include <sys/wait.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "app/runtime/clock.h"
#include "app/runtime/id_generator.h"
#include "app/runtime/poll_registry.h"
#include "app/storage/event_codec.h"
#include "eventstore/rocksdb_event_store.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/sequencer_server.h"
#include "tests/util/api_helpers.h"
#include "tests/util/daemon.h"
#include "tests/util/grpc_status_matchers.h"
#include "tests/util/temp_dir.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

using app::PollRegistry;

// Bounds for things that happen promptly; reaching one means a failure.
constexpr absl::Duration kPatience = absl::Seconds(60);
constexpr absl::Duration kLongWait = absl::Seconds(30);

// LeaseSteps calls in flight, made with the callback API (no client thread
// per call).
class Polls {
 public:
  ~Polls() {
    for (auto& call : calls_) call->context.TryCancel();
    EXPECT_TRUE(AwaitAnswered(static_cast<int>(calls_.size())));
  }

  // Starts a poll and returns its index.
  int Start(v1::DeliveryService::Stub& stub, v1::StepType channel,
            absl::Duration wait, const std::string& tenant = kTenant) {
    auto call = std::make_unique<Call>(this);
    call->context.AddMetadata("x-tenant-id", tenant);
    call->context.AddMetadata("x-actor", "worker");
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::minutes(5));
    call->request.set_channel(channel);
    call->request.set_max_steps(10);
    *call->request.mutable_wait() = app::ToProtoDuration(wait);
    Call* raw = call.get();
    {
      absl::MutexLock lock(&mu_);
      calls_.push_back(std::move(call));
    }
    stub.async()->LeaseSteps(&raw->context, &raw->request, &raw->response, raw);
    raw->StartCall();
    return static_cast<int>(calls_.size()) - 1;
  }

  void Cancel(int i) { calls_[i]->context.TryCancel(); }

  // Waits until `n` polls in all have answered / received response headers.
  bool AwaitAnswered(int n) { return Await(&answered_, n); }
  bool AwaitHeaders(int n) { return Await(&headers_, n); }

  int answered() {
    absl::MutexLock lock(&mu_);
    return answered_;
  }
  bool done(int i) {
    absl::MutexLock lock(&mu_);
    return calls_[i]->done;
  }
  grpc::Status status(int i) {
    absl::MutexLock lock(&mu_);
    return calls_[i]->status;
  }
  // Valid once done(i).
  const v1::LeaseStepsResponse& response(int i) { return calls_[i]->response; }
  int size() const { return static_cast<int>(calls_.size()); }

 private:
  struct Call : grpc::ClientUnaryReactor {
    explicit Call(Polls* polls) : polls(polls) {}
    void OnReadInitialMetadataDone(bool ok) override {
      absl::MutexLock lock(&polls->mu_);
      if (ok) ++polls->headers_;
    }
    void OnDone(const grpc::Status& s) override {
      absl::MutexLock lock(&polls->mu_);
      status = s;
      done = true;
      ++polls->answered_;
    }
    Polls* polls;
    grpc::ClientContext context;
    v1::LeaseStepsRequest request;
    v1::LeaseStepsResponse response;
    grpc::Status status;
    bool done = false;
  };

  bool Await(const int* counter, int n) {
    absl::MutexLock lock(&mu_);
    auto reached = [counter, n]() { return *counter >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), kPatience);
  }

  absl::Mutex mu_;
  std::vector<std::unique_ptr<Call>> calls_;
  int answered_ ABSL_GUARDED_BY(mu_) = 0;
  int headers_ ABSL_GUARDED_BY(mu_) = 0;
};

bool AwaitCounts(server::SequencerServer& server,
                 const std::function<bool(const PollRegistry::Counts&)>& done) {
  return server.polls().AwaitCounts(done, kPatience);
}

bool AwaitNoPolls(server::SequencerServer& server) {
  return AwaitCounts(server, [](const PollRegistry::Counts& counts) {
    return counts.open == 0 && counts.waiting == 0;
  });
}

bool AwaitWaiting(server::SequencerServer& server, int waiting) {
  return AwaitCounts(server, [waiting](const PollRegistry::Counts& counts) {
    return counts.waiting == waiting;
  });
}

// GetSequence with a client deadline, so that a starved server fails the
// test instead of hanging it.
grpc::Status GetSequence(v1::SequenceService::Stub& stub,
                         const std::string& sequence_id) {
  auto context = CallAs();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(20));
  v1::GetSequenceRequest request;
  request.set_sequence_id(sequence_id);
  v1::Sequence response;
  return stub.GetSequence(context.get(), request, &response);
}

class LongPollTest : public ::testing::Test {
 protected:
  server::SequencerServer& server() { return server_.server(); }
  TestServer server_;
};

TEST_F(LongPollTest, AThousandWaitingPollsLeaveOtherCallsAnswering) {
  CreateSequence(server_, "seq", {EmailStep(absl::Hours(1))});
  Polls polls;
  constexpr int kPolls = 1000;
  for (int i = 0; i < kPolls; ++i) {
    polls.Start(server_.delivery(), v1::STEP_TYPE_EMAIL, kLongWait);
  }
  ASSERT_TRUE(AwaitWaiting(server(), kPolls))
      << "waiting: " << server().polls().counts().waiting;
  // More polls than worker threads wait, and calls still get a thread.
  for (int i = 0; i < 20; ++i) {
    grpc::Status status = GetSequence(server_.sequences(), "seq");
    ASSERT_TRUE(status.ok()) << i << ": " << status.error_message();
  }
  v1::Recipient ignored;
  EXPECT_THAT(GetRecipient(server_, "seq", "nobody", &ignored),
              StatusIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_EQ(polls.answered(), 0);

  server_.AdvanceTime(kLongWait);
  ASSERT_TRUE(polls.AwaitAnswered(kPolls)) << polls.answered();
  for (int i = 0; i < kPolls; ++i) {
    ASSERT_TRUE(polls.status(i).ok())
        << i << ": " << polls.status(i).error_message();
    EXPECT_EQ(polls.response(i).leases_size(), 0);
  }
  EXPECT_TRUE(AwaitNoPolls(server()));
}

TEST_F(LongPollTest, ManualClockEndsAPollWhenTimeMovesPastItsWait) {
  Polls polls;
  polls.Start(server_.delivery(), v1::STEP_TYPE_EMAIL, absl::Seconds(10));
  ASSERT_TRUE(AwaitWaiting(server(), 1));

  server_.AdvanceTime(absl::Seconds(9));
  // AdvanceTime ends due polls before it answers: this one is not due.
  EXPECT_EQ(server().polls().counts().waiting, 1);
  EXPECT_FALSE(polls.done(0));

  server_.AdvanceTime(absl::Seconds(1));
  ASSERT_TRUE(polls.AwaitAnswered(1));
  EXPECT_TRUE(polls.status(0).ok()) << polls.status(0).error_message();
  EXPECT_EQ(polls.response(0).leases_size(), 0);
  EXPECT_TRUE(AwaitNoPolls(server()));
}

TEST_F(LongPollTest, ACommitWakesOnlyItsQueuesPollsAndTheyGetTheLeases) {
  constexpr char kOther[] = "tenant-b";
  CreateSequence(server_, "seq", {EmailStep(absl::ZeroDuration())});
  CreateSequence(server_, "seq", {EmailStep(absl::ZeroDuration())}, true,
                 kOther);
  Polls polls;
  const int first =
      polls.Start(server_.delivery(), v1::STEP_TYPE_EMAIL, kLongWait);
  ASSERT_TRUE(AwaitWaiting(server(), 1));  // so that `first` is the oldest
  const int second =
      polls.Start(server_.delivery(), v1::STEP_TYPE_EMAIL, kLongWait);
  const int sms = polls.Start(server_.delivery(), v1::STEP_TYPE_SMS, kLongWait);
  const int other_tenant =
      polls.Start(server_.delivery(), v1::STEP_TYPE_EMAIL, kLongWait, kOther);
  ASSERT_TRUE(AwaitWaiting(server(), 4));
  EXPECT_EQ(server().polls().counts().woken, 0);

  // One email step of tenant-a becomes deliverable: one commit, one entry.
  Enroll(server_, "seq", {"r1"});
  server_.AdvanceTime(absl::ZeroDuration());
  ASSERT_TRUE(polls.AwaitAnswered(1));
  ASSERT_TRUE(polls.done(first));
  ASSERT_TRUE(polls.status(first).ok()) << polls.status(first).error_message();
  ASSERT_EQ(polls.response(first).leases_size(), 1);
  EXPECT_EQ(polls.response(first).leases(0).recipient_id(), "r1");
  EXPECT_EQ(server().polls().counts().woken, 1)
      << "only the oldest poll of tenant-a's EMAIL queue is woken";
  EXPECT_TRUE(AwaitWaiting(server(), 3));

  // The next one goes to the next poll of that queue.
  Enroll(server_, "seq", {"r2"});
  server_.AdvanceTime(absl::ZeroDuration());
  ASSERT_TRUE(polls.AwaitAnswered(2));
  ASSERT_TRUE(polls.done(second));
  ASSERT_EQ(polls.response(second).leases_size(), 1);
  EXPECT_EQ(polls.response(second).leases(0).recipient_id(), "r2");
  EXPECT_EQ(server().polls().counts().woken, 2);
  EXPECT_FALSE(polls.done(sms));
  EXPECT_FALSE(polls.done(other_tenant));
  EXPECT_TRUE(AwaitWaiting(server(), 2));

  // Work of the other tenant wakes its poll, not the SMS one.
  Enroll(server_, "seq", {"b1"}, kOther);
  server_.AdvanceTime(absl::ZeroDuration());
  ASSERT_TRUE(polls.AwaitAnswered(3));
  ASSERT_TRUE(polls.done(other_tenant));
  ASSERT_EQ(polls.response(other_tenant).leases_size(), 1);
  EXPECT_EQ(polls.response(other_tenant).leases(0).recipient_id(), "b1");
  EXPECT_FALSE(polls.done(sms));
  EXPECT_EQ(server().polls().counts().woken, 3);

  server_.AdvanceTime(kLongWait);
  ASSERT_TRUE(polls.AwaitAnswered(4));
  EXPECT_TRUE(polls.status(sms).ok());
  EXPECT_EQ(polls.response(sms).leases_size(), 0);
  EXPECT_TRUE(AwaitNoPolls(server()));
}

TEST_F(LongPollTest, WorkAlreadyQueuedIsLeasedWithoutWaiting) {
  CreateSequence(server_, "seq", {EmailStep(absl::ZeroDuration())});
  Enroll(server_, "seq", {"r1", "r2"});
  server_.AdvanceTime(absl::ZeroDuration());
  Polls polls;
  polls.Start(server_.delivery(), v1::STEP_TYPE_EMAIL, kLongWait);
  ASSERT_TRUE(polls.AwaitAnswered(1));
  ASSERT_TRUE(polls.status(0).ok()) << polls.status(0).error_message();
  EXPECT_EQ(polls.response(0).leases_size(), 2);
  EXPECT_EQ(server().polls().counts().woken, 0);
}

TEST_F(LongPollTest, ACancelledPollIsAnsweredAndFreed) {
  Polls polls;
  polls.Start(server_.delivery(), v1::STEP_TYPE_EMAIL, kLongWait);
  polls.Start(server_.delivery(), v1::STEP_TYPE_EMAIL, kLongWait);
  ASSERT_TRUE(AwaitWaiting(server(), 2));
  EXPECT_EQ(server().polls().counts().open, 2);

  polls.Cancel(0);
  ASSERT_TRUE(polls.AwaitAnswered(1));
  EXPECT_THAT(polls.status(0), StatusIs(grpc::StatusCode::CANCELLED));
  EXPECT_TRUE(AwaitCounts(server(), [](const PollRegistry::Counts& counts) {
    return counts.open == 1 && counts.waiting == 1;
  }));
  EXPECT_FALSE(polls.done(1));

  // Work still reaches the poll that stayed.
  CreateSequence(server_, "seq", {EmailStep(absl::ZeroDuration())});
  Enroll(server_, "seq", {"r1"});
  server_.AdvanceTime(absl::ZeroDuration());
  ASSERT_TRUE(polls.AwaitAnswered(2));
  EXPECT_EQ(polls.response(1).leases_size(), 1);
  EXPECT_TRUE(AwaitNoPolls(server()));
}

TEST_F(LongPollTest, APollWhoseClientDeadlinePassesIsFreed) {
  auto context = CallAs();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(200));
  v1::LeaseStepsRequest request;
  request.set_channel(v1::STEP_TYPE_SMS);
  *request.mutable_wait() = app::ToProtoDuration(kLongWait);
  v1::LeaseStepsResponse response;
  grpc::Status status =
      server_.delivery().LeaseSteps(context.get(), request, &response);
  EXPECT_THAT(status, StatusIs(grpc::StatusCode::DEADLINE_EXCEEDED))
      << status.error_message();
  EXPECT_TRUE(AwaitNoPolls(server()));
}

TEST_F(LongPollTest, BadPollRequestsAreRefusedBeforeWaiting) {
  v1::LeaseStepsRequest request;
  request.set_channel(v1::STEP_TYPE_EMAIL);
  *request.mutable_wait() = app::ToProtoDuration(absl::Seconds(31));
  v1::LeaseStepsResponse response;
  EXPECT_THAT(server_.delivery().LeaseSteps(CallAs().get(), request, &response),
              StatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  request.clear_wait();
  EXPECT_THAT(
      server_.delivery().LeaseSteps(CallAs("").get(), request, &response),
      StatusIs(grpc::StatusCode::UNAUTHENTICATED));
  EXPECT_TRUE(AwaitNoPolls(server()));
}

// With the system clock, the registry's timer ends a poll at its deadline.
TEST(LongPollSystemClockTest, TheTimerEndsAPollAtItsDeadline) {
  TempDir dir;
  auto store = eventstore::RocksDbEventStore::Open(dir.Sub("data"));
  ASSERT_TRUE(store.ok()) << store.status();
  app::SystemClock clock;
  app::SequentialIdGenerator ids;
  server::ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  auto server = server::SequencerServer::Start(options, store->get(), &clock,
                                               nullptr, &ids);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = v1::DeliveryService::NewStub(grpc::CreateChannel(
      (*server)->address(), grpc::InsecureChannelCredentials()));
  Polls polls;
  // A short wait, then a long one: the timer re-arms for the earlier one.
  polls.Start(*stub, v1::STEP_TYPE_EMAIL, kLongWait);
  ASSERT_TRUE(AwaitWaiting(**server, 1));
  polls.Start(*stub, v1::STEP_TYPE_EMAIL, absl::Milliseconds(100));
  ASSERT_TRUE(polls.AwaitAnswered(1));
  EXPECT_TRUE(polls.done(1)) << "the short poll answers first";
  EXPECT_TRUE(polls.status(1).ok()) << polls.status(1).error_message();
  EXPECT_EQ(polls.response(1).leases_size(), 0);
  EXPECT_FALSE(polls.done(0));
  (*server)->Shutdown();
  ASSERT_TRUE(polls.AwaitAnswered(2));
  EXPECT_TRUE(polls.status(0).ok())
      << "shutdown answers a waiting poll: " << polls.status(0).error_message();
  server->reset();
}

// The real binary: a thousand polls wait while unary calls answer, then
// SIGTERM answers each of them (OK, no leases) and the process exits.
TEST(LongPollDaemonTest, AThousandPollsWaitThenSigtermAnswersEveryOne) {
  TempDir dir;
  Daemon daemon(dir.Sub("data"));
  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  {
    v1::CreateSequenceRequest request;
    request.set_request_id("create-1");
    request.set_sequence_id("seq");
    request.set_name("Sequence");
    *request.add_steps() = EmailStep(absl::Hours(1));
    v1::CreateSequenceResponse response;
    grpc::Status status =
        daemon.sequences().CreateSequence(CallAs().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  auto delivery = v1::DeliveryService::NewStub(daemon.channel());
  Polls polls;
  constexpr int kPolls = 1000;
  for (int i = 0; i < kPolls; ++i) {
    polls.Start(*delivery, v1::STEP_TYPE_EMAIL, kLongWait);
  }
  // A poll sends its headers when it starts waiting: all are held.
  ASSERT_TRUE(polls.AwaitHeaders(kPolls));
  EXPECT_EQ(polls.answered(), 0);
  for (int i = 0; i < 20; ++i) {
    grpc::Status status = GetSequence(daemon.sequences(), "seq");
    ASSERT_TRUE(status.ok()) << i << ": " << status.error_message();
  }

  daemon.process().Kill(SIGTERM);
  // The target is 5 s; the bound is generous, far below the 30 s it took.
  absl::StatusOr<int> exit = daemon.process().Wait(absl::Seconds(15));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0) << *exit;
  ASSERT_TRUE(polls.AwaitAnswered(kPolls));
  int ok = 0;
  for (int i = 0; i < kPolls; ++i) {
    if (polls.status(i).ok() && polls.response(i).leases_size() == 0) ++ok;
  }
  EXPECT_EQ(ok, kPolls) << "e.g. poll 0: " << polls.status(0).error_code()
                        << " " << polls.status(0).error_message();
}

// The real binary with --clock=manual: a commit gives the lease to the poll
// of its queue, AdvanceTime past the wait ends the others.
TEST(LongPollDaemonTest, CommitWakesTheRightPollAndAdvanceTimeEndsTheRest) {
  TempDir dir;
  Daemon daemon(dir.Sub("data"));
  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  auto delivery = v1::DeliveryService::NewStub(daemon.channel());
  auto clock = v1::ClockService::NewStub(daemon.channel());
  auto advance = [&clock](absl::Duration by) {
    v1::AdvanceTimeRequest request;
    *request.mutable_by() = app::ToProtoDuration(by);
    v1::TimeResponse response;
    grpc::Status status =
        clock->AdvanceTime(CallAs().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  };
  {
    v1::CreateSequenceRequest request;
    request.set_request_id("create-1");
    request.set_sequence_id("seq");
    request.set_name("Sequence");
    *request.add_steps() = SmsStep(absl::ZeroDuration());
    v1::CreateSequenceResponse response;
    grpc::Status status =
        daemon.sequences().CreateSequence(CallAs().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  Polls polls;
  const int email = polls.Start(*delivery, v1::STEP_TYPE_EMAIL, kLongWait);
  const int sms = polls.Start(*delivery, v1::STEP_TYPE_SMS, kLongWait);
  const int gone = polls.Start(*delivery, v1::STEP_TYPE_SMS, kLongWait);
  ASSERT_TRUE(polls.AwaitHeaders(3));
  polls.Cancel(gone);
  ASSERT_TRUE(polls.AwaitAnswered(1));
  EXPECT_THAT(polls.status(gone), StatusIs(grpc::StatusCode::CANCELLED));

  {
    v1::EnrollRecipientsRequest request;
    request.set_request_id("enroll-1");
    request.set_sequence_id("seq");
    v1::RecipientInput* recipient = request.add_recipients();
    recipient->set_recipient_id("r1");
    recipient->mutable_contact()->set_phone("+15550100");
    (*recipient->mutable_variables())["first_name"] = "Ann";
    v1::EnrollRecipientsResponse response;
    grpc::Status status = daemon.recipients().EnrollRecipients(
        CallAs().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  ASSERT_NO_FATAL_FAILURE(advance(absl::ZeroDuration()));
  ASSERT_TRUE(polls.AwaitAnswered(2));
  ASSERT_TRUE(polls.done(sms));
  ASSERT_TRUE(polls.status(sms).ok()) << polls.status(sms).error_message();
  ASSERT_EQ(polls.response(sms).leases_size(), 1);
  EXPECT_EQ(polls.response(sms).leases(0).recipient_id(), "r1");
  EXPECT_FALSE(polls.done(email));

  ASSERT_NO_FATAL_FAILURE(advance(kLongWait - absl::Seconds(1)));
  EXPECT_FALSE(polls.done(email));
  ASSERT_NO_FATAL_FAILURE(advance(absl::Seconds(1)));
  ASSERT_TRUE(polls.AwaitAnswered(3));
  EXPECT_TRUE(polls.status(email).ok()) << polls.status(email).error_message();
  EXPECT_EQ(polls.response(email).leases_size(), 0);
  EXPECT_EQ(daemon.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace sequencer::testing
