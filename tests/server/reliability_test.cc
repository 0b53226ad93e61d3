// What the real sequencerd and sequencerctl do with a damaged write-ahead log
// and a full disk (docs/reliability.md):
//   - damage in the middle of the WAL: sequencerd refuses to start, naming the
//     file and offset, and changes nothing; sequencerctl verify refuses too;
//   - a torn tail (a write cut by a crash): sequencerd starts, drops only that
//     write, and keeps a copy of the log as found;
//   - offline commands write nothing to the data directory;
//   - a full disk: writes are refused with UNAVAILABLE and health says
//     NOT_SERVING; once space returns, writes resume and health says SERVING,
//     without a restart; starting on a full disk exits with a clear message.

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "tests/util/api_helpers.h"
#include "tests/util/daemon.h"
#include "tests/util/grpc_status_matchers.h"
#include "tests/util/process.h"
#include "tests/util/temp_dir.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

using grpc::health::v1::HealthCheckResponse;

constexpr absl::Duration kTimeout = absl::Seconds(30);

void CreateAndEnroll(Daemon& daemon, const std::vector<std::string>& ids) {
  v1::CreateSequenceRequest create;
  create.set_request_id(NextRequestId());
  create.set_sequence_id("seq-1");
  create.set_name("Outreach");
  *create.add_steps() = EmailStep(absl::Hours(24));
  v1::CreateSequenceResponse created;
  grpc::Status status =
      daemon.sequences().CreateSequence(CallAs().get(), create, &created);
  ASSERT_TRUE(status.ok()) << status.error_message();

  v1::EnrollRecipientsRequest enroll;
  enroll.set_request_id(NextRequestId());
  enroll.set_sequence_id("seq-1");
  for (const auto& id : ids) {
    v1::RecipientInput* input = enroll.add_recipients();
    input->set_recipient_id(id);
    input->mutable_contact()->set_email(absl::StrCat(id, "@example.com"));
    (*input->mutable_variables())["first_name"] = id;
    (*input->mutable_variables())["company"] = "Acme";
  }
  v1::EnrollRecipientsResponse enrolled;
  status =
      daemon.recipients().EnrollRecipients(CallAs().get(), enroll, &enrolled);
  ASSERT_TRUE(status.ok()) << status.error_message();
}

grpc::Status Pause(Daemon& daemon, const std::string& id) {
  v1::Recipient out;
  auto context = CallAs();
  context->set_deadline(absl::ToChronoTime(absl::Now() + kTimeout));
  return daemon.recipients().PauseRecipient(context.get(),
                                            ActionRequest("seq-1", id), &out);
}

v1::RecipientStatus StatusOf(Daemon& daemon, const std::string& id) {
  v1::GetRecipientRequest request;
  request.set_sequence_id("seq-1");
  request.set_recipient_id(id);
  v1::Recipient out;
  grpc::Status status =
      daemon.recipients().GetRecipient(CallAs().get(), request, &out);
  EXPECT_TRUE(status.ok()) << id << ": " << status.error_message();
  return out.status();
}

// The newest write-ahead log file of a RocksDB directory.
std::string NewestWal(const std::string& dir) {
  std::string newest;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (absl::EndsWith(name, ".log") && name > newest) newest = name;
  }
  EXPECT_FALSE(newest.empty()) << "no WAL in " << dir;
  return dir + "/" + newest;
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_size;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// Every regular file under `dir` (relative path -> contents).
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    files[std::filesystem::relative(entry.path(), dir).string()] =
        ReadFile(entry.path().string());
  }
  return files;
}

// Names the files that differ, for a readable failure.
::testing::AssertionResult SameFiles(
    const std::map<std::string, std::string>& before,
    const std::map<std::string, std::string>& after) {
  std::string diff;
  for (const auto& [name, contents] : before) {
    auto it = after.find(name);
    if (it == after.end()) {
      absl::StrAppend(&diff, " removed:", name);
    } else if (it->second != contents) {
      absl::StrAppend(&diff, " changed:", name);
    }
  }
  for (const auto& [name, contents] : after) {
    if (before.count(name) == 0) absl::StrAppend(&diff, " added:", name);
  }
  if (diff.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "data dir differs:" << diff;
}

void FlipByte(const std::string& path, uint64_t offset) {
  const int fd = open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << path;
  unsigned char byte = 0;
  ASSERT_EQ(pread(fd, &byte, 1, offset), 1);
  byte ^= 0x40;
  ASSERT_EQ(pwrite(fd, &byte, 1, offset), 1);
  close(fd);
}

RunResult RunMerged(const std::vector<std::string>& argv) {
  auto result = RunCommand(argv, kTimeout, /*merge_stderr=*/true);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : RunResult{-1, ""};
}

RunResult Ctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {SEQUENCERCTL_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunMerged(argv);
}

void ExpectKilled(int wait_status) {
  EXPECT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL)
      << wait_status;
}

// Three acknowledged pauses (a, b, c) and the WAL size after each, then
// kill -9: the WAL holds them all, unflushed.
struct ThreeWrites {
  std::string wal;
  uint64_t after_a = 0, after_b = 0, after_c = 0;
};

void WriteThreeAndKill(Daemon& daemon, const std::string& data_dir,
                       ThreeWrites* out) {
  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  ASSERT_NO_FATAL_FAILURE(CreateAndEnroll(daemon, {"a", "b", "c"}));
  out->wal = NewestWal(data_dir);
  uint64_t* sizes[] = {&out->after_a, &out->after_b, &out->after_c};
  const char* ids[] = {"a", "b", "c"};
  for (int i = 0; i < 3; ++i) {
    grpc::Status status = Pause(daemon, ids[i]);
    ASSERT_TRUE(status.ok()) << status.error_message();
    *sizes[i] = FileSize(out->wal);
  }
  ASSERT_LT(out->after_a, out->after_b);
  ASSERT_LT(out->after_b, out->after_c);
  ExpectKilled(daemon.Stop(SIGKILL));
}

TEST(WalDamageTest, DamageInTheMiddleRefusesToStartAndChangesNothing) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  Daemon daemon(data);
  ThreeWrites writes;
  ASSERT_NO_FATAL_FAILURE(WriteThreeAndKill(daemon, data, &writes));

  // A byte inside b's record; c's record follows it.
  const uint64_t flipped = (writes.after_a + writes.after_b) / 2;
  ASSERT_NO_FATAL_FAILURE(FlipByte(writes.wal, flipped));
  auto before = Snapshot(data);
  before.erase("LOG");  // RocksDB's info log: sequencerd appends to it.

  RunResult run = RunMerged(daemon.Argv());
  ASSERT_TRUE(WIFEXITED(run.wait_status)) << run.wait_status << run.output;
  EXPECT_EQ(run.ExitCode(), 1) << run.output;
  EXPECT_FALSE(absl::StrContains(run.output, "listening")) << run.output;
  EXPECT_TRUE(absl::StrContains(run.output, "DATA_LOSS")) << run.output;
  EXPECT_TRUE(absl::StrContains(run.output, writes.wal)) << run.output;
  EXPECT_TRUE(absl::StrContains(run.output, "restore")) << run.output;
  // The offset named is the start of the damaged record (or of its fragment).
  const std::string marker = "damaged at byte offset ";
  const size_t at = run.output.find(marker);
  ASSERT_NE(at, std::string::npos) << run.output;
  uint64_t offset = 0;
  const std::string rest = run.output.substr(at + marker.size());
  ASSERT_TRUE(absl::SimpleAtoi(rest.substr(0, rest.find(' ')), &offset))
      << run.output;
  EXPECT_GE(offset, writes.after_a) << run.output;
  EXPECT_LE(offset, flipped) << run.output;

  auto after = Snapshot(data);
  after.erase("LOG");
  EXPECT_TRUE(SameFiles(before, after));

  // The offline tool reports it too, and writes nothing either.
  const auto with_log = Snapshot(data);
  RunResult verify = Ctl({"verify", "--data_dir=" + data});
  EXPECT_EQ(verify.ExitCode(), 2) << verify.output;
  EXPECT_TRUE(absl::StrContains(verify.output, "DATA_LOSS")) << verify.output;
  EXPECT_TRUE(absl::StrContains(verify.output, writes.wal)) << verify.output;
  EXPECT_TRUE(SameFiles(with_log, Snapshot(data)));
}

TEST(WalDamageTest, TornTailStartsWithoutTheCutWriteAndKeepsACopy) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  ThreeWrites writes;
  {
    Daemon daemon(data);
    ASSERT_NO_FATAL_FAILURE(WriteThreeAndKill(daemon, data, &writes));
  }
  // The disk image of a crash during c's write, before its fsync returned: the
  // log ends inside c's record.
  const uint64_t cut = (writes.after_b + writes.after_c) / 2;
  ASSERT_EQ(truncate(writes.wal.c_str(), cut), 0) << std::strerror(errno);
  const std::string torn = ReadFile(writes.wal);

  // Offline, read-only: reads past the torn tail, says so, changes nothing.
  const auto before = Snapshot(data);
  RunResult verify = Ctl({"verify", "--data_dir=" + data});
  EXPECT_EQ(verify.ExitCode(), 0) << verify.output;
  EXPECT_TRUE(absl::StrContains(verify.output, "incomplete last record"))
      << verify.output;
  EXPECT_TRUE(SameFiles(before, Snapshot(data)));

  Daemon daemon(data, /*capture_stderr=*/true);
  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  std::string startup;
  for (const auto& line : daemon.startup_lines()) {
    absl::StrAppend(&startup, line, "\n");
  }
  EXPECT_TRUE(absl::StrContains(startup, "recovery:")) << startup;
  EXPECT_TRUE(absl::StrContains(startup, writes.wal)) << startup;
  EXPECT_EQ(daemon.Health(), HealthCheckResponse::SERVING);
  EXPECT_EQ(StatusOf(daemon, "a"), v1::RECIPIENT_STATUS_PAUSED);
  EXPECT_EQ(StatusOf(daemon, "b"), v1::RECIPIENT_STATUS_PAUSED);
  EXPECT_EQ(StatusOf(daemon, "c"), v1::RECIPIENT_STATUS_IN_PROGRESS);

  // The log as found is kept, byte for byte.
  std::vector<std::string> copies;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(data + "/evidence")) {
    if (entry.path().filename() ==
        std::filesystem::path(writes.wal).filename()) {
      copies.push_back(entry.path().string());
    }
  }
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_TRUE(absl::StrContains(
      startup, std::filesystem::path(copies[0]).parent_path().string()))
      << startup;
  EXPECT_TRUE(ReadFile(copies[0]) == torn) << "the copy differs";

  // Writes work, and the store is consistent.
  grpc::Status status = Pause(daemon, "c");
  EXPECT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(daemon.Stop(SIGTERM), 0);
  RunResult ok = Ctl({"verify", "--data_dir=" + data});
  EXPECT_EQ(ok.ExitCode(), 0) << ok.output;
}

TEST(OfflineCommandsTest, VerifyAndLogWriteNothingToTheDataDir) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  Daemon daemon(data);
  ThreeWrites writes;
  // After kill -9 the WAL holds unflushed writes: a read-write open would
  // replay, flush and delete it, and write a new MANIFEST and OPTIONS.
  ASSERT_NO_FATAL_FAILURE(WriteThreeAndKill(daemon, data, &writes));
  const auto before = Snapshot(data);

  RunResult verify = Ctl({"verify", "--data_dir=" + data});
  EXPECT_EQ(verify.ExitCode(), 0) << verify.output;
  EXPECT_TRUE(absl::StrContains(verify.output, "OK")) << verify.output;
  RunResult log = Ctl({"log", "--data_dir=" + data});
  EXPECT_EQ(log.ExitCode(), 0) << log.output;
  EXPECT_TRUE(absl::StrContains(log.output, "\tPaused\t")) << log.output;
  RunResult text = Ctl({"log", "--data_dir=" + data, "--format=text"});
  EXPECT_EQ(text.ExitCode(), 0) << text.output;

  EXPECT_TRUE(SameFiles(before, Snapshot(data)));

  // A directory without a database is refused and not created into.
  const std::string empty = dir.Sub("empty");
  ASSERT_TRUE(std::filesystem::create_directory(empty));
  RunResult none = Ctl({"verify", "--data_dir=" + empty});
  EXPECT_EQ(none.ExitCode(), 2) << none.output;
  EXPECT_TRUE(std::filesystem::is_empty(empty));
}

// ---- Full disk ------------------------------------------------------------

// A small tmpfs mounted for the test; unmounted (lazily) on destruction.
class Tmpfs {
 public:
  Tmpfs(const std::string& path, const std::string& size) : path_(path) {
    std::filesystem::create_directories(path);
    if (mount("tmpfs", path.c_str(), "tmpfs", 0,
              absl::StrCat("size=", size).c_str()) != 0) {
      error_ = std::strerror(errno);
    } else {
      mounted_ = true;
    }
  }
  ~Tmpfs() {
    if (mounted_) umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  std::string path_;
  bool mounted_ = false;
  std::string error_;
};

// Writes `path` until the file system is full.
void Fill(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  std::string chunk(1 << 20, 'f');
  for (size_t size : {size_t{1} << 20, size_t{4096}, size_t{1}}) {
    while (write(fd, chunk.data(), size) > 0) {
    }
    ASSERT_EQ(errno, ENOSPC) << std::strerror(errno);
  }
  close(fd);
}

// Polls the daemon's health until it reports `want` (bounded).
bool AwaitHealth(Daemon& daemon, HealthCheckResponse::ServingStatus want) {
  const absl::Time deadline = absl::Now() + kTimeout;
  while (absl::Now() < deadline) {
    if (daemon.Health() == want) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

class FullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    disk_ = std::make_unique<Tmpfs>(dir_.Sub("disk"), "16m");
    if (!disk_->mounted()) {
      GTEST_SKIP() << "cannot mount a tmpfs to fill (" << disk_->error()
                   << "); these tests need root (CAP_SYS_ADMIN)";
    }
    data_ = dir_.Sub("disk/data");
    filler_ = dir_.Sub("disk/filler");
  }

  TempDir dir_;
  std::unique_ptr<Tmpfs> disk_;
  std::string data_;
  std::string filler_;
};

std::vector<std::string> Ids(int count) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) ids.push_back(absl::StrCat("r", i));
  return ids;
}

TEST_F(FullDiskTest, WritesRefusedWhileFullResumeWithoutRestart) {
  Daemon daemon(data_);
  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  const std::vector<std::string> ids = Ids(200);
  ASSERT_NO_FATAL_FAILURE(CreateAndEnroll(daemon, ids));
  ASSERT_EQ(daemon.Health(), HealthCheckResponse::SERVING);

  size_t next = 0;
  std::vector<std::string> refused_ids;
  // Twice. The second time the disk fills right after the recovery, before any
  // write succeeded: RocksDB then has only the store's marker to flush.
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    ASSERT_NO_FATAL_FAILURE(Fill(filler_));
    // The last page of the WAL may still take a write or two.
    grpc::Status failed;
    std::string refused_id;
    while (next < ids.size()) {
      refused_id = ids[next++];
      failed = Pause(daemon, refused_id);
      if (!failed.ok()) break;
    }
    ASSERT_FALSE(failed.ok()) << "no write was refused";
    refused_ids.push_back(refused_id);
    EXPECT_THAT(failed, StatusIs(grpc::StatusCode::UNAVAILABLE))
        << failed.error_message();
    EXPECT_TRUE(
        absl::StrContains(failed.error_message(), "No space left on device"))
        << failed.error_message();
    // Health changed before the refusal was answered.
    EXPECT_EQ(daemon.Health(), HealthCheckResponse::NOT_SERVING);

    grpc::Status refused = Pause(daemon, ids[next]);
    EXPECT_THAT(refused, StatusIs(grpc::StatusCode::UNAVAILABLE));
    EXPECT_TRUE(absl::StrContains(refused.error_message(),
                                  "refuses writes until it recovers"))
        << refused.error_message();
    // Reads still work, and the refused write was not applied.
    EXPECT_EQ(StatusOf(daemon, refused_id), v1::RECIPIENT_STATUS_IN_PROGRESS);
    EXPECT_EQ(StatusOf(daemon, ids[0]), v1::RECIPIENT_STATUS_PAUSED);

    ASSERT_EQ(unlink(filler_.c_str()), 0);
    // No write in between: health comes back on its own.
    ASSERT_TRUE(AwaitHealth(daemon, HealthCheckResponse::SERVING))
        << "health did not return to SERVING";
  }
  for (const std::string& id : refused_ids) {
    grpc::Status retried = Pause(daemon, id);
    EXPECT_TRUE(retried.ok()) << id << ": " << retried.error_message();
    EXPECT_EQ(StatusOf(daemon, id), v1::RECIPIENT_STATUS_PAUSED);
  }

  const pid_t pid = daemon.process().pid();
  EXPECT_EQ(kill(pid, 0), 0) << "the daemon is the one started first";
  ASSERT_EQ(daemon.Stop(SIGTERM), 0);
  RunResult verify = Ctl({"verify", "--data_dir=" + data_});
  EXPECT_EQ(verify.ExitCode(), 0) << verify.output;
}

TEST_F(FullDiskTest, StartOnAFullDiskExitsWithAClearMessageAndLosesNothing) {
  Daemon daemon(data_);
  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  ASSERT_NO_FATAL_FAILURE(CreateAndEnroll(daemon, {"a", "b"}));
  grpc::Status paused = Pause(daemon, "a");
  ASSERT_TRUE(paused.ok()) << paused.error_message();
  // Unflushed writes in the WAL: opening must replay and flush them.
  ExpectKilled(daemon.Stop(SIGKILL));
  ASSERT_NO_FATAL_FAILURE(Fill(filler_));

  RunResult run = RunMerged(daemon.Argv());
  ASSERT_TRUE(WIFEXITED(run.wait_status))
      << "died of signal " << WTERMSIG(run.wait_status) << ": " << run.output;
  EXPECT_EQ(run.ExitCode(), 1) << run.output;
  EXPECT_TRUE(absl::StrContains(run.output, "RESOURCE_EXHAUSTED"))
      << run.output;
  EXPECT_TRUE(absl::StrContains(run.output, "the disk is full")) << run.output;

  ASSERT_EQ(unlink(filler_.c_str()), 0);
  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  EXPECT_EQ(daemon.Health(), HealthCheckResponse::SERVING);
  EXPECT_EQ(StatusOf(daemon, "a"), v1::RECIPIENT_STATUS_PAUSED);
  grpc::Status later = Pause(daemon, "b");
  EXPECT_TRUE(later.ok()) << later.error_message();
}

TEST_F(FullDiskTest, StopAndRestartWhileFullLoseNothing) {
  Daemon daemon(data_);
  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  const std::vector<std::string> ids = Ids(50);
  ASSERT_NO_FATAL_FAILURE(CreateAndEnroll(daemon, ids));
  ASSERT_NO_FATAL_FAILURE(Fill(filler_));
  std::vector<std::string> acknowledged;
  grpc::Status failed;
  for (const std::string& id : ids) {
    failed = Pause(daemon, id);
    if (!failed.ok()) break;
    acknowledged.push_back(id);
  }
  ASSERT_FALSE(failed.ok()) << "no write was refused";

  // SIGTERM while full: the closing flush fails, and the process still exits
  // cleanly instead of aborting inside RocksDB.
  const int stopped = daemon.Stop(SIGTERM);
  ASSERT_TRUE(WIFEXITED(stopped)) << "died of signal " << WTERMSIG(stopped);
  EXPECT_EQ(WEXITSTATUS(stopped), 0);

  // The failed flush freed what it had written: fill that too.
  const std::string top_up = filler_ + "2";
  ASSERT_NO_FATAL_FAILURE(Fill(top_up));
  RunResult run = RunMerged(daemon.Argv());
  ASSERT_TRUE(WIFEXITED(run.wait_status))
      << "died of signal " << WTERMSIG(run.wait_status) << ": " << run.output;
  EXPECT_EQ(run.ExitCode(), 1) << run.output;
  EXPECT_TRUE(absl::StrContains(run.output, "the disk is full")) << run.output;

  ASSERT_EQ(unlink(filler_.c_str()), 0);
  ASSERT_EQ(unlink(top_up.c_str()), 0);
  ASSERT_NO_FATAL_FAILURE(daemon.Start());
  EXPECT_EQ(daemon.Health(), HealthCheckResponse::SERVING);
  for (const std::string& id : acknowledged) {
    EXPECT_EQ(StatusOf(daemon, id), v1::RECIPIENT_STATUS_PAUSED) << id;
  }
  grpc::Status later = Pause(daemon, ids.back());
  EXPECT_TRUE(later.ok()) << later.error_message();
  ASSERT_EQ(daemon.Stop(SIGTERM), 0);
  RunResult verify = Ctl({"verify", "--data_dir=" + data_});
  EXPECT_EQ(verify.ExitCode(), 0) << verify.output;
}

}  // namespace
}  // namespace sequencer::testing
