#include "tests/util/fault_injection_fs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

namespace sequencer::testing {
namespace {

std::string Parent(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  std::string dir = path.substr(0, slash);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

std::string Normalized(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

rocksdb::IOStatus NoPower() {
  return rocksdb::IOStatus::IOError("simulated power loss");
}

}  // namespace

class FaultInjectionFileSystem::File
    : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  File(std::unique_ptr<rocksdb::FSWritableFile> file, std::string name,
       FaultInjectionFileSystem* fs)
      : FSWritableFileOwnerWrapper(std::move(file)),
        name_(std::move(name)),
        fs_(fs) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data,
                           const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    if (auto s = fs_->CheckPower(); !s.ok()) return s;
    auto s = FSWritableFileOwnerWrapper::Append(data, options, dbg);
    if (s.ok()) fs_->Appended(name_, data.size());
    return s;
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data,
                           const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    if (auto s = fs_->CheckPower(); !s.ok()) return s;
    auto s = FSWritableFileOwnerWrapper::Append(data, options, info, dbg);
    if (s.ok()) fs_->Appended(name_, data.size());
    return s;
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice&, uint64_t,
                                     const rocksdb::IOOptions&,
                                     rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::NotSupported("PositionedAppend");
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice&, uint64_t,
                                     const rocksdb::IOOptions&,
                                     const rocksdb::DataVerificationInfo&,
                                     rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::NotSupported("PositionedAppend");
  }
  rocksdb::IOStatus Truncate(uint64_t, const rocksdb::IOOptions&,
                             rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::NotSupported("Truncate");
  }
  rocksdb::IOStatus Flush(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (auto s = fs_->CheckPower(); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::Flush(options, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                         rocksdb::IODebugContext* dbg) override {
    return Synced(
        [&] { return FSWritableFileOwnerWrapper::Sync(options, dbg); });
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    return Synced(
        [&] { return FSWritableFileOwnerWrapper::Fsync(options, dbg); });
  }
  rocksdb::IOStatus RangeSync(uint64_t, uint64_t, const rocksdb::IOOptions&,
                              rocksdb::IODebugContext*) override {
    return fs_->CheckPower();
  }
  rocksdb::IOStatus Close(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (auto s = fs_->CheckPower(); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::Close(options, dbg);
  }

 private:
  template <typename F>
  rocksdb::IOStatus Synced(F sync) {
    if (auto s = fs_->CheckPower(); !s.ok()) return s;
    // Only what was appended before the sync began is known to be covered.
    const uint64_t size = fs_->SizeOf(name_);
    auto s = sync();
    if (s.ok()) fs_->Synced(name_, size);
    return s;
  }

  const std::string name_;
  FaultInjectionFileSystem* const fs_;
};

class FaultInjectionFileSystem::Directory : public rocksdb::FSDirectoryWrapper {
 public:
  Directory(std::unique_ptr<rocksdb::FSDirectory> dir, std::string name,
            FaultInjectionFileSystem* fs)
      : FSDirectoryWrapper(std::move(dir)),
        name_(Normalized(std::move(name))),
        fs_(fs) {}

  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (auto s = fs_->CheckPower(); !s.ok()) return s;
    auto s = FSDirectoryWrapper::Fsync(options, dbg);
    if (s.ok()) fs_->DirectorySynced(name_);
    return s;
  }
  rocksdb::IOStatus FsyncWithDirOptions(
      const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg,
      const rocksdb::DirFsyncOptions& dir_options) override {
    if (auto s = fs_->CheckPower(); !s.ok()) return s;
    auto s = FSDirectoryWrapper::FsyncWithDirOptions(options, dbg, dir_options);
    if (s.ok()) fs_->DirectorySynced(name_);
    return s;
  }

 private:
  const std::string name_;
  FaultInjectionFileSystem* const fs_;
};

FaultInjectionFileSystem::FaultInjectionFileSystem()
    : FileSystemWrapper(rocksdb::FileSystem::Default()) {}

void FaultInjectionFileSystem::PowerLoss() {
  absl::MutexLock lock(&mu_);
  power_ = false;
}

uint64_t FaultInjectionFileSystem::DropUnsyncedData() {
  absl::MutexLock lock(&mu_);
  uint64_t dropped = 0;
  for (const auto& [name, state] : files_) {
    struct stat st;
    if (stat(name.c_str(), &st) != 0) continue;
    const uint64_t actual = static_cast<uint64_t>(st.st_size);
    if (state.unsynced_entry) {
      dropped += actual;
      unlink(name.c_str());
    } else if (actual > state.synced_size) {
      dropped += actual - state.synced_size;
      if (truncate(name.c_str(), static_cast<off_t>(state.synced_size)) != 0) {
        // Leaves more than a disk would: the test becomes weaker, not wrong.
        continue;
      }
    }
  }
  files_.clear();
  power_ = true;
  return dropped;
}

uint64_t FaultInjectionFileSystem::SyncCount() const {
  absl::MutexLock lock(&mu_);
  return syncs_;
}

uint64_t FaultInjectionFileSystem::UnsyncedBytes() const {
  absl::MutexLock lock(&mu_);
  uint64_t bytes = 0;
  for (const auto& [name, state] : files_) {
    bytes += state.unsynced_entry
                 ? state.size
                 : state.size - std::min(state.size, state.synced_size);
  }
  return bytes;
}

void FaultInjectionFileSystem::Track(const std::string& name, Opened how,
                                     uint64_t existing_size) {
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = files_.try_emplace(name);
  FileState& state = it->second;
  switch (how) {
    case Opened::kNewName:
      state = FileState{0, 0, /*unsynced_entry=*/true};
      break;
    case Opened::kTruncated:
      // The name stays as durable as it was; the old content is gone.
      state.size = 0;
      state.synced_size = 0;
      break;
    case Opened::kReopened:
      if (inserted) state = FileState{existing_size, existing_size, false};
      break;
  }
}

rocksdb::IOStatus FaultInjectionFileSystem::CheckPower() const {
  absl::MutexLock lock(&mu_);
  return power_ ? rocksdb::IOStatus::OK() : NoPower();
}

void FaultInjectionFileSystem::Appended(const std::string& name,
                                        uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  auto it = files_.find(name);
  if (it != files_.end()) it->second.size += bytes;
}

void FaultInjectionFileSystem::Synced(const std::string& name, uint64_t size) {
  absl::MutexLock lock(&mu_);
  ++syncs_;
  auto it = files_.find(name);
  if (it != files_.end() && size > it->second.synced_size) {
    it->second.synced_size = size;
  }
}

uint64_t FaultInjectionFileSystem::SizeOf(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = files_.find(name);
  return it == files_.end() ? 0 : it->second.size;
}

void FaultInjectionFileSystem::DirectorySynced(const std::string& dir) {
  absl::MutexLock lock(&mu_);
  for (auto& [name, state] : files_) {
    if (Parent(name) == dir) state.unsynced_entry = false;
  }
}

rocksdb::IOStatus FaultInjectionFileSystem::NewWritableFile(
    const std::string& name, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result,
    rocksdb::IODebugContext* dbg) {
  if (auto s = CheckPower(); !s.ok()) return s;
  struct stat st;
  const bool existed = stat(name.c_str(), &st) == 0;
  std::unique_ptr<rocksdb::FSWritableFile> file;
  auto s = target()->NewWritableFile(name, options, &file, dbg);
  if (!s.ok()) return s;
  Track(name, existed ? Opened::kTruncated : Opened::kNewName, 0);
  result->reset(new File(std::move(file), name, this));
  return s;
}

rocksdb::IOStatus FaultInjectionFileSystem::ReopenWritableFile(
    const std::string& name, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result,
    rocksdb::IODebugContext* dbg) {
  if (auto s = CheckPower(); !s.ok()) return s;
  struct stat st;
  const bool existed = stat(name.c_str(), &st) == 0;
  std::unique_ptr<rocksdb::FSWritableFile> file;
  auto s = target()->ReopenWritableFile(name, options, &file, dbg);
  if (!s.ok()) return s;
  Track(name, existed ? Opened::kReopened : Opened::kNewName,
        existed ? static_cast<uint64_t>(st.st_size) : 0);
  result->reset(new File(std::move(file), name, this));
  return s;
}

rocksdb::IOStatus FaultInjectionFileSystem::ReuseWritableFile(
    const std::string&, const std::string&, const rocksdb::FileOptions&,
    std::unique_ptr<rocksdb::FSWritableFile>*, rocksdb::IODebugContext*) {
  return rocksdb::IOStatus::NotSupported("ReuseWritableFile");
}

rocksdb::IOStatus FaultInjectionFileSystem::NewRandomRWFile(
    const std::string&, const rocksdb::FileOptions&,
    std::unique_ptr<rocksdb::FSRandomRWFile>*, rocksdb::IODebugContext*) {
  return rocksdb::IOStatus::NotSupported("NewRandomRWFile");
}

rocksdb::IOStatus FaultInjectionFileSystem::NewDirectory(
    const std::string& name, const rocksdb::IOOptions& options,
    std::unique_ptr<rocksdb::FSDirectory>* result,
    rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSDirectory> dir;
  auto s = target()->NewDirectory(name, options, &dir, dbg);
  if (s.ok()) result->reset(new Directory(std::move(dir), name, this));
  return s;
}

rocksdb::IOStatus FaultInjectionFileSystem::DeleteFile(
    const std::string& name, const rocksdb::IOOptions& options,
    rocksdb::IODebugContext* dbg) {
  if (auto s = CheckPower(); !s.ok()) return s;
  auto s = target()->DeleteFile(name, options, dbg);
  if (s.ok()) {
    absl::MutexLock lock(&mu_);
    files_.erase(name);
  }
  return s;
}

rocksdb::IOStatus FaultInjectionFileSystem::RenameFile(
    const std::string& src, const std::string& target_name,
    const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) {
  if (auto s = CheckPower(); !s.ok()) return s;
  auto s = target()->RenameFile(src, target_name, options, dbg);
  if (s.ok()) {
    absl::MutexLock lock(&mu_);
    auto it = files_.find(src);
    if (it == files_.end()) {
      files_.erase(target_name);
    } else {
      FileState state = it->second;
      files_.erase(it);
      files_[target_name] = state;
    }
  }
  return s;
}

rocksdb::IOStatus FaultInjectionFileSystem::LinkFile(const std::string&,
                                                     const std::string&,
                                                     const rocksdb::IOOptions&,
                                                     rocksdb::IODebugContext*) {
  return rocksdb::IOStatus::NotSupported("LinkFile");
}

rocksdb::IOStatus FaultInjectionFileSystem::Truncate(
    const std::string& name, size_t size, const rocksdb::IOOptions& options,
    rocksdb::IODebugContext* dbg) {
  if (auto s = CheckPower(); !s.ok()) return s;
  auto s = target()->Truncate(name, size, options, dbg);
  if (s.ok()) {
    absl::MutexLock lock(&mu_);
    auto it = files_.find(name);
    if (it != files_.end()) {
      it->second.size = std::min<uint64_t>(it->second.size, size);
      it->second.synced_size = std::min<uint64_t>(it->second.synced_size, size);
    }
  }
  return s;
}

}  // namespace sequencer::testing
