// The real sequencerd binary, killed with SIGKILL under concurrent load, cycle
// after cycle, against an expected-state oracle in the style of RocksDB's
// db_stress.
//
// Each of N client threads (16 by default) owns its recipients, so it knows
// exactly which calls touched them: it enrolls new ones and runs pause,
// resume, skip, stop, delete and bulk pause/resume/skip on its own, at random,
// refusals included. For every recipient the oracle keeps the calls that
// were acknowledged with the version each one left (or "at least one event"
// when the answer does not say, as for enrollment and bulk calls), and the one
// call that was in flight when the server died. After each restart the
// recipient's timeline (every event with its request id) must be exactly:
// the acknowledged calls' events, in order, each request id in one run, then
// at most the in-flight call's events. A call that was refused or answered
// with no change left no event. An in-flight call on several recipients
// (bulk, enrollment) is on all of them or on none. Then every in-flight call
// is retried with its request id: when it had been applied, the retry changes
// nothing (nothing is applied twice).
//
// Environment: SEQ_CRASH_CYCLES (kills; default 3), SEQ_CRASH_THREADS (default
// 16), SEQ_CRASH_SEED (default: from the clock; printed). The long run is
// deploy/crash_stress.sh.

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "tests/server/bulk_helpers.h"
#include "tests/util/api_helpers.h"
#include "tests/util/daemon.h"
#include "tests/util/process.h"
#include "tests/util/temp_dir.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(30);
constexpr char kSeq[] = "stress";
// Recipients no call touched since the last kill that each worker checks
// again per cycle (besides every touched one).
constexpr int kSamplePerCycle = 8;

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* text = getenv(name);
  uint64_t value = 0;
  if (text == nullptr || !absl::SimpleAtoi(text, &value)) return fallback;
  return value;
}

std::unique_ptr<grpc::ClientContext> WithDeadline() {
  auto context = CallAs();
  context->set_deadline(absl::ToChronoTime(absl::Now() + kTimeout));
  return context;
}

// A refusal is an answer: the call was judged and wrote nothing.
bool IsAnswer(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::INVALID_ARGUMENT:
      return true;
    default:
      return false;
  }
}

// One acknowledged call that wrote events on a recipient.
struct Acked {
  std::string request_id;
  // The version the call left, when its answer says (single actions).
  std::optional<uint64_t> version;
  // An answer with a version but no earlier version known: maybe no event.
  bool maybe_empty = false;
};

struct Expected {
  std::vector<Acked> acked;
  // Last version seen for sure (after a check, or from an answer).
  std::optional<uint64_t> version;
  bool deleted = false;
  // Enrolled in an acknowledged call (or found after a check).
  bool enrolled = false;
  // Touched by a call since the last check.
  bool dirty = true;
};

enum class Kind { kEnroll, kSingle, kBulk };

// The call a worker had in flight when the server died.
struct InFlight {
  Kind kind = Kind::kSingle;
  v1::Action action = v1::ACTION_UNSPECIFIED;
  std::string request_id;
  std::vector<std::string> ids;
  v1::EnrollRecipientsRequest enroll;
  v1::BulkActionRequest bulk;
};

struct Totals {
  uint64_t acknowledged = 0;
  uint64_t refused = 0;
  uint64_t in_flight = 0;
  uint64_t in_flight_applied = 0;
  uint64_t in_flight_absent = 0;
  // Untouched recipients checked again (sampled).
  uint64_t checked = 0;
};

// Answered calls of every worker; the test waits on it to choose when to kill.
class AnswerCount {
 public:
  void Add() {
    absl::MutexLock lock(&mu_);
    ++count_;
  }
  // False when fewer than `n` calls were answered within `timeout`.
  bool AwaitAtLeast(uint64_t n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return count_ >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }

 private:
  absl::Mutex mu_;
  uint64_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

class Worker {
 public:
  Worker(int index, uint64_t seed) : index_(index), rng_(seed) {}

  // Calls until the server stops answering. `acks` counts acknowledged calls
  // of every worker.
  void Run(Daemon& daemon, AnswerCount& acks) {
    for (;;) {
      std::optional<InFlight> call = Next();
      grpc::Status status = Send(daemon, *call);
      if (!IsAnswer(status)) {
        in_flight_ = std::move(call);
        return;
      }
      if (status.ok()) {
        ++totals_.acknowledged;
      } else {
        ++totals_.refused;
      }
      acks.Add();
    }
  }

  // Checks recipients against the oracle after a restart and learns their
  // versions; resolves the in-flight call. Checks every recipient a call
  // touched since the last check, and `sample` others in turn (all of them
  // when negative), so that a long run's cycles do not grow with its history.
  void Check(Daemon& daemon, int sample) {
    std::optional<bool> in_flight_applied;
    int sampled = 0;
    size_t position = 0;
    const size_t count = recipients_.size();
    for (auto& [id, expected] : recipients_) {
      const size_t turn = (position++ + count - sample_cursor_) % count;
      const bool touched =
          in_flight_ &&
          std::count(in_flight_->ids.begin(), in_flight_->ids.end(), id) > 0;
      if (!expected.dirty && !touched && sample >= 0) {
        if (turn >= static_cast<size_t>(sample)) continue;
        ++sampled;
      }
      expected.dirty = false;
      SCOPED_TRACE(absl::StrCat("worker ", index_, " recipient ", id));
      std::optional<bool> applied;
      ASSERT_NO_FATAL_FAILURE(
          CheckRecipient(daemon, id, expected, touched, &applied));
      if (touched) {
        ASSERT_TRUE(applied.has_value());
        if (in_flight_applied.has_value()) {
          EXPECT_EQ(*in_flight_applied, *applied)
              << "call " << in_flight_->request_id
              << " applied on some of its recipients only";
        }
        in_flight_applied = applied;
      }
    }
    if (count > 0 && sample > 0) {
      sample_cursor_ = (sample_cursor_ + sample) % count;
    }
    totals_.checked += sampled;
    if (!in_flight_) return;
    ++totals_.in_flight;
    if (in_flight_applied.value_or(false)) {
      ++totals_.in_flight_applied;
    } else {
      ++totals_.in_flight_absent;
    }
    for (const std::string& id : in_flight_->ids) {
      Expected& expected = recipients_[id];
      if (in_flight_->kind == Kind::kEnroll &&
          in_flight_applied.value_or(false)) {
        expected.enrolled = true;
      }
    }
    was_applied_ = in_flight_applied.value_or(false);
  }

  // Retries the in-flight call with its request id: exactly once.
  void Retry(Daemon& daemon) {
    if (!in_flight_) return;
    InFlight call = *std::move(in_flight_);
    in_flight_.reset();
    std::map<std::string, std::optional<uint64_t>> before;
    for (const std::string& id : call.ids) before[id] = recipients_[id].version;
    grpc::Status status = Send(daemon, call);
    ASSERT_TRUE(IsAnswer(status))
        << call.request_id << ": " << status.error_message();
    if (!was_applied_) return;
    EXPECT_TRUE(status.ok()) << "retry of applied call " << call.request_id
                             << ": " << status.error_message();
    for (const std::string& id : call.ids) {
      Expected& expected = recipients_[id];
      if (expected.deleted) continue;
      v1::Recipient now;
      grpc::Status read = GetRecipientOn(daemon, id, &now);
      ASSERT_TRUE(read.ok()) << id << ": " << read.error_message();
      EXPECT_EQ(now.version(), before[id].value_or(0))
          << id << ": the retry of " << call.request_id << " applied again";
    }
  }

  const Totals& totals() const { return totals_; }

 private:
  grpc::Status GetRecipientOn(Daemon& daemon, const std::string& id,
                              v1::Recipient* out) {
    v1::GetRecipientRequest request;
    request.set_sequence_id(kSeq);
    request.set_recipient_id(id);
    return daemon.recipients().GetRecipient(WithDeadline().get(), request, out);
  }

  std::vector<std::string> Live() const {
    std::vector<std::string> ids;
    for (const auto& [id, expected] : recipients_) {
      if (expected.enrolled && !expected.deleted) ids.push_back(id);
    }
    return ids;
  }

  int Uniform(int n) {
    return std::uniform_int_distribution<int>(0, n - 1)(rng_);
  }

  std::optional<InFlight> Next() {
    InFlight call;
    call.request_id = NextRequestId();
    const std::vector<std::string> live = Live();
    const int dice = Uniform(100);
    if (live.size() < 3 || dice < 12) {
      call.kind = Kind::kEnroll;
      call.enroll.set_request_id(call.request_id);
      call.enroll.set_sequence_id(kSeq);
      const int count = 1 + Uniform(3);
      for (int i = 0; i < count; ++i) {
        const std::string id = absl::StrCat("w", index_, "-", next_id_++);
        call.ids.push_back(id);
        v1::RecipientInput* input = call.enroll.add_recipients();
        input->set_recipient_id(id);
        input->mutable_contact()->set_email(absl::StrCat(id, "@example.com"));
        (*input->mutable_variables())["first_name"] = id;
        (*input->mutable_variables())["company"] = "Acme";
      }
      return call;
    }
    if (dice < 30) {
      call.kind = Kind::kBulk;
      constexpr v1::BulkActionType kTypes[] = {v1::BULK_ACTION_TYPE_PAUSE,
                                               v1::BULK_ACTION_TYPE_RESUME,
                                               v1::BULK_ACTION_TYPE_SKIP_STEP};
      std::vector<std::string> pick = live;
      std::shuffle(pick.begin(), pick.end(), rng_);
      pick.resize(std::min<size_t>(pick.size(), 2 + Uniform(4)));
      call.ids = pick;
      call.bulk = BulkRequest(kSeq, pick, kTypes[Uniform(3)]);
      call.bulk.set_request_id(call.request_id);
      return call;
    }
    call.kind = Kind::kSingle;
    constexpr v1::Action kActions[] = {
        v1::ACTION_PAUSE,  v1::ACTION_PAUSE,     v1::ACTION_RESUME,
        v1::ACTION_RESUME, v1::ACTION_SKIP_STEP, v1::ACTION_SKIP_STEP,
        v1::ACTION_STOP,   v1::ACTION_DELETE};
    call.action = kActions[Uniform(std::size(kActions))];
    call.ids = {live[Uniform(live.size())]};
    return call;
  }

  // Sends `call`; on an answer, updates the oracle.
  grpc::Status Send(Daemon& daemon, const InFlight& call) {
    for (const std::string& id : call.ids) recipients_[id].dirty = true;
    v1::RecipientService::Stub& stub = daemon.recipients();
    switch (call.kind) {
      case Kind::kEnroll: {
        v1::EnrollRecipientsResponse response;
        grpc::Status status =
            stub.EnrollRecipients(WithDeadline().get(), call.enroll, &response);
        if (status.ok()) {
          EXPECT_EQ(response.enrolled_count(),
                    static_cast<int>(call.ids.size()))
              << call.request_id;
          for (const std::string& id : call.ids) {
            Expected& expected = recipients_[id];
            if (expected.enrolled) continue;  // A retry's recorded answer.
            expected.enrolled = true;
            expected.acked.push_back({call.request_id, std::nullopt});
            expected.version.reset();
          }
        }
        return status;
      }
      case Kind::kBulk: {
        v1::BulkActionResponse response;
        grpc::Status status =
            stub.BulkAction(WithDeadline().get(), call.bulk, &response);
        if (status.ok()) {
          EXPECT_EQ(response.affected_count(),
                    static_cast<int>(call.ids.size()))
              << call.request_id;
          for (const std::string& id : call.ids) {
            Expected& expected = recipients_[id];
            if (!expected.acked.empty() &&
                expected.acked.back().request_id == call.request_id) {
              continue;  // A retry's recorded answer.
            }
            expected.acked.push_back({call.request_id, std::nullopt});
            expected.version.reset();
          }
        }
        return status;
      }
      case Kind::kSingle:
        break;
    }
    const std::string& id = call.ids[0];
    v1::RecipientActionRequest request = ActionRequest(kSeq, id);
    request.set_request_id(call.request_id);
    v1::Recipient answer;
    grpc::Status status;
    switch (call.action) {
      case v1::ACTION_PAUSE:
        status = stub.PauseRecipient(WithDeadline().get(), request, &answer);
        break;
      case v1::ACTION_RESUME:
        status = stub.ResumeRecipient(WithDeadline().get(), request, &answer);
        break;
      case v1::ACTION_SKIP_STEP:
        status = stub.SkipStep(WithDeadline().get(), request, &answer);
        break;
      case v1::ACTION_STOP:
        status = stub.StopRecipient(WithDeadline().get(), request, &answer);
        break;
      case v1::ACTION_DELETE: {
        v1::DeleteRecipientResponse deleted;
        status = stub.DeleteRecipient(WithDeadline().get(), request, &deleted);
        if (status.ok()) {
          Expected& expected = recipients_[id];
          if (!expected.deleted) {
            expected.deleted = true;
            expected.acked.push_back({call.request_id, std::nullopt});
          }
        }
        return status;
      }
      default:
        ADD_FAILURE() << "unexpected action " << call.action;
        return grpc::Status(grpc::StatusCode::INTERNAL, "test bug");
    }
    if (status.ok()) {
      Expected& expected = recipients_[id];
      if (!expected.acked.empty() &&
          expected.acked.back().request_id == call.request_id) {
        // A retry's recorded answer: it names the version the call left,
        // so the call is in the log whole.
        EXPECT_EQ(answer.version(), expected.version.value_or(0))
            << id << ": " << call.request_id;
        return status;
      }
      if (expected.version.has_value()) {
        if (answer.version() != *expected.version) {
          expected.acked.push_back({call.request_id, answer.version()});
        }
      } else {
        expected.acked.push_back({call.request_id, answer.version(),
                                  /*maybe_empty=*/true});
      }
      expected.version = answer.version();
    }
    return status;
  }

  // Matches the recipient's timeline against its acknowledged calls, then the
  // in-flight call (`touched`): sets `applied` to whether the latter is there.
  void CheckRecipient(Daemon& daemon, const std::string& id, Expected& expected,
                      bool touched, std::optional<bool>* applied) {
    v1::GetRecipientRequest request;
    request.set_sequence_id(kSeq);
    request.set_recipient_id(id);
    v1::RecipientTimeline timeline;
    grpc::Status status = daemon.recipients().GetRecipientTimeline(
        WithDeadline().get(), request, &timeline);
    const bool in_flight_delete = touched &&
                                  in_flight_->kind == Kind::kSingle &&
                                  in_flight_->action == v1::ACTION_DELETE;
    const bool in_flight_enroll = touched && in_flight_->kind == Kind::kEnroll;
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
      if (!expected.enrolled && !touched) return;  // An enrollment that failed.
      if (expected.deleted) {
        if (touched) *applied = false;  // Nothing to change on a tombstone.
        return;
      }
      ASSERT_TRUE(in_flight_delete || (in_flight_enroll && !expected.enrolled))
          << "acknowledged recipient missing";
      if (in_flight_delete) {
        expected.deleted = true;
        *applied = true;
      } else {
        *applied = false;
      }
      return;
    }
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_FALSE(expected.deleted) << "an acknowledged delete was lost";
    if (!expected.enrolled) {
      ASSERT_TRUE(in_flight_enroll) << "enrolled by nobody";
    }

    // Runs of consecutive events with one request id.
    struct Run {
      std::string request_id;
      uint64_t last_version;
    };
    std::vector<Run> runs;
    uint64_t version = 0;
    for (const v1::TimelineEntry& entry : timeline.entries()) {
      ASSERT_EQ(entry.version(), ++version) << "gap in the stream";
      const std::string& rid = entry.event().metadata().request_id();
      if (runs.empty() || runs.back().request_id != rid) {
        runs.push_back({rid, entry.version()});
      } else {
        runs.back().last_version = entry.version();
      }
    }
    size_t r = 0;
    for (const Acked& call : expected.acked) {
      if (r < runs.size() && runs[r].request_id == call.request_id) {
        if (call.version.has_value()) {
          EXPECT_EQ(runs[r].last_version, *call.version)
              << call.request_id << " left another version than it answered";
        }
        ++r;
        continue;
      }
      // Answered with no change: the version did not move.
      ASSERT_TRUE(call.maybe_empty &&
                  call.version == (r == 0 ? 0 : runs[r - 1].last_version))
          << "acknowledged call " << call.request_id << " lost; found "
          << (r < runs.size() ? runs[r].request_id : "nothing");
    }
    std::set<std::string> seen;
    for (const Run& run : runs) {
      EXPECT_TRUE(seen.insert(run.request_id).second)
          << run.request_id << " applied twice";
    }
    const bool extra = r < runs.size();
    if (extra) {
      ASSERT_TRUE(touched && runs[r].request_id == in_flight_->request_id)
          << "unexpected events of " << runs[r].request_id;
      ASSERT_EQ(r + 1, runs.size()) << "events after the in-flight call";
      expected.acked.push_back({in_flight_->request_id, runs[r].last_version});
    }
    if (touched) {
      // An enrollment in flight is there when the recipient is.
      *applied = extra || (in_flight_enroll && !expected.enrolled);
      if (in_flight_enroll && !expected.enrolled) {
        ASSERT_FALSE(runs.empty());
        EXPECT_EQ(runs[0].request_id, in_flight_->request_id);
      }
    }
    expected.enrolled = true;
    expected.version = version;
    // Versions are known from here; earlier answers need no more care.
    for (Acked& call : expected.acked) call.maybe_empty = false;
  }

  const int index_;
  std::mt19937_64 rng_;
  int next_id_ = 0;
  std::map<std::string, Expected> recipients_;
  std::optional<InFlight> in_flight_;
  bool was_applied_ = false;
  size_t sample_cursor_ = 0;
  Totals totals_;
};

TEST(CrashStressTest, KillNineUnderLoadKeepsEveryAcknowledgedCall) {
  const uint64_t cycles = EnvOr("SEQ_CRASH_CYCLES", 3);
  const int threads = static_cast<int>(EnvOr("SEQ_CRASH_THREADS", 16));
  const uint64_t seed = EnvOr(
      "SEQ_CRASH_SEED", static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())));
  std::cout << "crash stress: " << cycles << " cycles, " << threads
            << " threads, SEQ_CRASH_SEED=" << seed << std::endl;
  std::mt19937_64 rng(seed);

  TempDir dir;
  const std::string data_dir = dir.Sub("data");
  Daemon daemon(data_dir);
  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  {
    v1::CreateSequenceRequest request;
    request.set_request_id(NextRequestId());
    request.set_sequence_id(kSeq);
    request.set_name("Stress");
    *request.add_steps() = EmailStep(absl::Hours(24));
    *request.add_steps() = TaskStep(absl::Hours(48));
    *request.add_steps() = SmsStep(absl::Hours(72));
    v1::CreateSequenceResponse response;
    grpc::Status status = daemon.sequences().CreateSequence(
        WithDeadline().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  std::vector<std::unique_ptr<Worker>> workers;
  for (int w = 0; w < threads; ++w) {
    workers.push_back(std::make_unique<Worker>(w, rng()));
  }
  const absl::Time start = absl::Now();
  for (uint64_t cycle = 0; cycle < cycles; ++cycle) {
    SCOPED_TRACE(absl::StrCat("cycle ", cycle, " seed ", seed));
    // Kill after a random number of answered calls, so that the kill lands in
    // every phase of the calls.
    const uint64_t kill_after =
        std::uniform_int_distribution<uint64_t>(20, 400)(rng);
    AnswerCount acks;
    std::vector<std::thread> running;
    for (auto& worker : workers) {
      running.emplace_back(
          [&daemon, &acks, w = worker.get()] { w->Run(daemon, acks); });
    }
    const bool reached = acks.AwaitAtLeast(kill_after, kTimeout);
    const int wait_status = daemon.Stop(SIGKILL);
    for (std::thread& t : running) t.join();
    ASSERT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL)
        << wait_status;
    ASSERT_TRUE(reached) << "the server stopped answering";

    ASSERT_NO_FATAL_FAILURE(daemon.Start());
    for (auto& worker : workers) {
      ASSERT_NO_FATAL_FAILURE(worker->Check(daemon, kSamplePerCycle));
    }
    for (auto& worker : workers) {
      ASSERT_NO_FATAL_FAILURE(worker->Retry(daemon));
    }
  }

  // Everything, once more, after one more kill: the last retries, and every
  // recipient however long ago it was touched.
  EXPECT_TRUE(WIFSIGNALED(daemon.Stop(SIGKILL)));
  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  for (auto& worker : workers) {
    ASSERT_NO_FATAL_FAILURE(worker->Check(daemon, /*sample=*/-1));
  }
  Totals total;
  for (const auto& worker : workers) {
    total.acknowledged += worker->totals().acknowledged;
    total.refused += worker->totals().refused;
    total.in_flight += worker->totals().in_flight;
    total.in_flight_applied += worker->totals().in_flight_applied;
    total.in_flight_absent += worker->totals().in_flight_absent;
    total.checked += worker->totals().checked;
  }
  std::cout << "crash stress: " << cycles << " kills in "
            << absl::FormatDuration(absl::Now() - start) << "; "
            << total.acknowledged << " calls acknowledged, " << total.refused
            << " refused, " << total.in_flight << " in flight at a kill ("
            << total.in_flight_applied << " applied, " << total.in_flight_absent
            << " absent); " << total.checked
            << " untouched recipients re-checked" << std::endl;
  RecordProperty("acknowledged", std::to_string(total.acknowledged));
  RecordProperty("in_flight", std::to_string(total.in_flight));

  const int wait_status = daemon.Stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0)
      << wait_status;
  auto verify = RunCommand(
      {SEQUENCERCTL_PATH, "verify", "--data_dir=" + data_dir}, kTimeout);
  ASSERT_TRUE(verify.ok()) << verify.status();
  EXPECT_EQ(verify->ExitCode(), 0) << verify->output;
}

}  // namespace
}  // namespace sequencer::testing
