// A RocksDB file system for tests that simulates a power loss, after LevelDB's
// FaultInjectionTestEnv: it remembers, for every file written through it, how
// much of it was synced (Sync/Fsync; RangeSync does not count), and which new
// files were created in a directory that has not been fsync'd since. A
// simulated power loss then keeps only what a real disk would have kept:
//
//   fs->PowerLoss();          // from now on every write, sync, rename and
//                             // delete fails: the disk is gone
//   store.reset();            // close whatever used it (its writes fail)
//   fs->DropUnsyncedData();   // truncate each file to its synced size and
//                             // delete new files whose directory entry was
//                             // never synced; the disk is back
//
// Limits (it is a model, not a disk): only files created or reopened through
// this file system are tracked (files that existed before are taken as
// durable); a rename moves the file's state to the new name (the new name is
// lost too when the old one was an unsynced new file), and the replaced name's
// old content is not restored; direct I/O (PositionedAppend) is refused;
// writes are never torn inside a synced range.
//
// Thread-safe.

#ifndef SEQUENCER_TESTS_UTIL_FAULT_INJECTION_FS_H_
#define SEQUENCER_TESTS_UTIL_FAULT_INJECTION_FS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "rocksdb/file_system.h"

namespace sequencer::testing {

class FaultInjectionFileSystem : public rocksdb::FileSystemWrapper {
 public:
  // Wraps rocksdb::FileSystem::Default(). Use it through
  // rocksdb::NewCompositeEnv(fs).
  FaultInjectionFileSystem();
  const char* Name() const override { return "FaultInjectionFileSystem"; }

  // The power goes out: every later mutating call fails with an IOError until
  // DropUnsyncedData.
  void PowerLoss();
  // Undoes what was not durable at PowerLoss (see the file comment) and turns
  // the power back on. Call it only when nothing uses the file system.
  // Returns the number of bytes dropped (truncated or in deleted files).
  uint64_t DropUnsyncedData();

  // Counters, for tests that show the model does something.
  uint64_t SyncCount() const;
  uint64_t UnsyncedBytes() const;

  rocksdb::IOStatus NewWritableFile(
      const std::string& name, const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* result,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(
      const std::string& name, const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* result,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(
      const std::string& name, const std::string& old_name,
      const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* result,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewRandomRWFile(
      const std::string& name, const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSRandomRWFile>* result,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewDirectory(const std::string& name,
                                 const rocksdb::IOOptions& options,
                                 std::unique_ptr<rocksdb::FSDirectory>* result,
                                 rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& name,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& src,
                               const std::string& target,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus LinkFile(const std::string& src, const std::string& target,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus Truncate(const std::string& name, size_t size,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;

 private:
  class File;
  class Directory;
  struct FileState {
    uint64_t size = 0;
    uint64_t synced_size = 0;
    // Created since its directory was last fsync'd.
    bool unsynced_entry = false;
  };

  enum class Opened { kNewName, kTruncated, kReopened };
  void Track(const std::string& name, Opened how, uint64_t existing_size);
  // Called by File.
  rocksdb::IOStatus CheckPower() const;
  void Appended(const std::string& name, uint64_t bytes);
  void Synced(const std::string& name, uint64_t size);
  uint64_t SizeOf(const std::string& name) const;
  // Called by Directory.
  void DirectorySynced(const std::string& dir);

  mutable absl::Mutex mu_;
  bool power_ ABSL_GUARDED_BY(mu_) = true;
  std::map<std::string, FileState> files_ ABSL_GUARDED_BY(mu_);
  uint64_t syncs_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sequencer::testing

#endif  // SEQUENCER_TESTS_UTIL_FAULT_INJECTION_FS_H_
