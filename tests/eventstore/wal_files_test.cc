// FindWalDamage against write-ahead logs written by RocksDB itself: a clean
// log has no damage, a flipped byte is reported at the start of its record, a
// cut record as running past the end; KeepWalEvidence copies byte for byte.

#include "eventstore/wal_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "tests/util/temp_dir.h"

namespace sequencer::eventstore {
namespace {

using ::sequencer::testing::TempDir;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

// A WAL holding three records of `value_size` bytes (the third one spans
// blocks when large), as a crash would leave it: copied while the database is
// open. `ends` gets the file size after each record.
class WalFilesTest : public ::testing::TestWithParam<size_t> {
 protected:
  void SetUp() override {
    const std::string db_path = dir_.Sub("db");
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, db_path, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    const std::vector<std::string> wals = WalFiles(db_path);
    ASSERT_EQ(wals.size(), 1u);
    const std::string wal = db_path + "/" + wals[0];
    rocksdb::WriteOptions sync;
    sync.sync = true;
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(db->Put(sync, "k" + std::to_string(i),
                          std::string(GetParam(), 'a' + i))
                      .ok());
      ends_.push_back(std::filesystem::file_size(wal));
    }
    log_ = ReadFile(wal);
    crash_dir_ = dir_.Sub("crash");
    std::filesystem::create_directory(crash_dir_);
    path_ = crash_dir_ + "/" + wals[0];
    WriteFile(path_, log_);
  }

  TempDir dir_;
  std::string log_;
  std::string crash_dir_;
  std::string path_;
  std::vector<uint64_t> ends_;
};

TEST_P(WalFilesTest, CleanLogHasNoDamage) {
  EXPECT_FALSE(FindWalDamage(path_).has_value());
}

TEST_P(WalFilesTest, FlippedByteIsReportedAtItsRecord) {
  std::string damaged = log_;
  const uint64_t flipped = (ends_[0] + ends_[1]) / 2;
  damaged[flipped] ^= 0x40;
  WriteFile(path_, damaged);
  auto damage = FindWalDamage(path_);
  ASSERT_TRUE(damage.has_value());
  EXPECT_EQ(damage->what, "checksum mismatch");
  EXPECT_GE(damage->offset, ends_[0]);
  EXPECT_LE(damage->offset, flipped);
  EXPECT_GT(damage->offset + 32768, flipped);
  const std::string described =
      DescribeWalDamage(crash_dir_, "Corruption: checksum mismatch", "");
  EXPECT_NE(described.find(path_), std::string::npos) << described;
  EXPECT_NE(described.find("byte offset " + std::to_string(damage->offset)),
            std::string::npos)
      << described;
}

TEST_P(WalFilesTest, CutRecordRunsPastTheEnd) {
  const uint64_t cut = (ends_[1] + ends_[2]) / 2;
  WriteFile(path_, log_.substr(0, cut));
  auto damage = FindWalDamage(path_);
  ASSERT_TRUE(damage.has_value());
  EXPECT_GE(damage->offset, ends_[1]);
  EXPECT_LT(damage->offset, cut);
  EXPECT_TRUE(damage->what == "record runs past the end of the file" ||
              damage->what == "truncated record header at the end")
      << damage->what;
}

TEST_P(WalFilesTest, EvidenceIsAByteForByteCopy) {
  auto folder = KeepWalEvidence(crash_dir_);
  ASSERT_TRUE(folder.ok()) << folder.status();
  EXPECT_EQ(folder->rfind(crash_dir_ + "/evidence/wal-", 0), 0u) << *folder;
  const std::string copy =
      *folder + "/" + std::filesystem::path(path_).filename().string();
  EXPECT_TRUE(ReadFile(copy) == log_);
  // A second copy goes to a folder of its own.
  auto again = KeepWalEvidence(crash_dir_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_NE(*again, *folder);
}

// Records within one block, and records spanning several.
INSTANTIATE_TEST_SUITE_P(Sizes, WalFilesTest,
                         ::testing::Values(size_t{100}, size_t{50000}));

}  // namespace
}  // namespace sequencer::eventstore
