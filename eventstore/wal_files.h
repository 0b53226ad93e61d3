// RocksDB write-ahead log (WAL) files, as RocksDbEventStore::Open inspects and
// keeps them when the log is damaged (the policy is in
// eventstore/rocksdb_event_store.h, the layout in eventstore/FORMAT.md). Plain
// file access, no RocksDB: usable on a directory no database has open.
//
// Thread-compatible functions of the file system only.

#ifndef SEQUENCER_EVENTSTORE_WAL_FILES_H_
#define SEQUENCER_EVENTSTORE_WAL_FILES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sequencer::eventstore {

struct WalDamage {
  // Byte offset in the file of the first physical record that is damaged.
  uint64_t offset = 0;
  // What is wrong, e.g. "checksum mismatch", "record runs past the end of the
  // file".
  std::string what;
  // The damaged record is cut by the end of the file (a record or header that
  // runs past it): what a crash during a write leaves, a torn tail.
  bool at_end = false;
};

// The first damaged physical record of a WAL file in RocksDB's log format
// (32 KiB blocks of records: masked crc32c of type and payload, u16 length,
// u8 type, payload), or nullopt when every record checks out. Recyclable
// records are not checked (nullopt from the first one); an unreadable file is
// nullopt too.
std::optional<WalDamage> FindWalDamage(const std::string& path);

// The WAL files of `dir` ("<digits>.log"), in name order, which is log-number
// order; empty when `dir` cannot be listed.
std::vector<std::string> WalFiles(const std::string& dir);

// Copies every WAL file of `dir` into a new folder
// <dir>/evidence/wal-<UTC time>/ (read-only files), fsyncs the copies and the
// folders, and returns the folder. UNAVAILABLE, naming the file, when any step
// fails (e.g. the disk is full); copies made so far are left in place.
absl::StatusOr<std::string> KeepWalEvidence(const std::string& dir);

// For an operator: which WAL file of `dir` is damaged, at which offset and
// how (from FindWalDamage), with RocksDB's status; or, when no WAL file shows
// damage, `rocksdb_status` and `rocksdb_report` (e.g. RocksDB's "dropping N
// bytes" log line) alone.
std::string DescribeWalDamage(const std::string& dir,
                              const std::string& rocksdb_status,
                              const std::string& rocksdb_report);

}  // namespace sequencer::eventstore

#endif  // SEQUENCER_EVENTSTORE_WAL_FILES_H_
