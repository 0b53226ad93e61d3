#include "eventstore/wal_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace sequencer::eventstore {
namespace {

// CRC-32C (Castagnoli), as RocksDB's log records use it.
uint32_t Crc32c(absl::string_view data) {
  static const std::array<uint32_t, 256> kTable = [] {
    std::array<uint32_t, 256> table{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
      table[i] = c;
    }
    return table;
  }();
  uint32_t crc = 0xffffffffu;
  for (unsigned char byte : data)
    crc = kTable[(crc ^ byte) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

absl::Status FsyncPath(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fsync(fd) != 0) {
    const int error = errno;
    if (fd >= 0) close(fd);
    return absl::UnavailableError(
        absl::StrCat("fsync ", path, ": ", std::strerror(error)));
  }
  close(fd);
  return absl::OkStatus();
}

absl::Status CopyDurably(const std::string& from, const std::string& to) {
  const int in = open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    return absl::UnavailableError(
        absl::StrCat("reading ", from, ": ", std::strerror(errno)));
  }
  const int out =
      open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (out < 0) {
    const int error = errno;
    close(in);
    return absl::UnavailableError(
        absl::StrCat("creating ", to, ": ", std::strerror(error)));
  }
  char chunk[1 << 16];
  ssize_t n;
  int error = 0;
  while ((n = read(in, chunk, sizeof(chunk))) > 0) {
    for (ssize_t done = 0; done < n;) {
      const ssize_t w = write(out, chunk + done, n - done);
      if (w < 0) {
        error = errno;
        break;
      }
      done += w;
    }
    if (error != 0) break;
  }
  if (n < 0) error = errno;
  if (error == 0 && fsync(out) != 0) error = errno;
  close(in);
  close(out);
  if (error != 0) {
    return absl::UnavailableError(
        absl::StrCat("copying ", from, " to ", to, ": ", std::strerror(error)));
  }
  return absl::OkStatus();
}

}  // namespace

std::optional<WalDamage> FindWalDamage(const std::string& path) {
  constexpr uint64_t kBlock = 32768;
  constexpr uint64_t kHeader = 7;
  std::string data;
  {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    char chunk[1 << 16];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0) data.append(chunk, n);
    close(fd);
  }
  uint64_t offset = 0;
  while (offset < data.size()) {
    const uint64_t block_left = kBlock - offset % kBlock;
    if (block_left < kHeader) {
      offset += block_left;
      continue;
    }
    if (data.size() - offset < kHeader) {
      return WalDamage{offset, "truncated record header at the end", true};
    }
    const auto* p =
        reinterpret_cast<const unsigned char*>(data.data() + offset);
    const uint32_t masked =
        p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
    const uint64_t length = p[4] | (p[5] << 8);
    const unsigned type = p[6];
    if (type == 0 && length == 0) {  // Preallocated, never written.
      offset += block_left;
      continue;
    }
    if (type >= 5 && type <= 8) return std::nullopt;
    if (offset + kHeader + length > data.size()) {
      return WalDamage{offset, "record runs past the end of the file", true};
    }
    if (kHeader + length > block_left) {
      return WalDamage{offset, "record length runs past its block"};
    }
    const uint32_t rot = masked - 0xa282ead8u;
    const uint32_t expected = (rot >> 17) | (rot << 15);
    if (Crc32c(absl::string_view(data.data() + offset + 6, 1 + length)) !=
        expected) {
      return WalDamage{offset, "checksum mismatch"};
    }
    offset += kHeader + length;
  }
  return std::nullopt;
}

std::vector<std::string> WalFiles(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && absl::EndsWith(name, ".log") &&
        name.size() > 4 &&
        name.find_first_not_of("0123456789") == name.size() - 4) {
      files.push_back(name);
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

absl::StatusOr<std::string> KeepWalEvidence(const std::string& dir) {
  const std::string parent = dir + "/evidence";
  std::error_code error;
  std::filesystem::create_directories(parent, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("creating ", parent, ": ", error.message()));
  }
  const std::string stem = absl::StrCat(
      parent, "/wal-",
      absl::FormatTime("%Y%m%dT%H%M%E6SZ", absl::Now(), absl::UTCTimeZone()));
  std::string folder = stem;
  for (int n = 2; mkdir(folder.c_str(), 0755) != 0; ++n) {
    if (errno != EEXIST) {
      return absl::UnavailableError(
          absl::StrCat("creating ", folder, ": ", std::strerror(errno)));
    }
    folder = absl::StrCat(stem, "-", n);
  }
  for (const std::string& name : WalFiles(dir)) {
    absl::Status copied = CopyDurably(dir + "/" + name, folder + "/" + name);
    if (!copied.ok()) return copied;
  }
  for (const std::string& path : {folder, parent, dir}) {
    absl::Status synced = FsyncPath(path);
    if (!synced.ok()) return synced;
  }
  return folder;
}

std::string DescribeWalDamage(const std::string& dir,
                              const std::string& rocksdb_status,
                              const std::string& rocksdb_report) {
  for (const std::string& name : WalFiles(dir)) {
    const std::string path = dir + "/" + name;
    if (std::optional<WalDamage> damage = FindWalDamage(path)) {
      struct stat st;
      const uint64_t size = stat(path.c_str(), &st) == 0 ? st.st_size : 0;
      return absl::StrFormat(
          "write-ahead log %s is damaged at byte offset %d of %d (%s; "
          "RocksDB: %s)",
          path, damage->offset, size, damage->what, rocksdb_status);
    }
  }
  return absl::StrCat(
      "the database in ", dir, " is damaged (RocksDB: ", rocksdb_status,
      rocksdb_report.empty() ? "" : absl::StrCat("; ", rocksdb_report), ")");
}

}  // namespace sequencer::eventstore
