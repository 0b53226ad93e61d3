// A temporary directory for a test, removed with its contents on destruction.

#ifndef SEQUENCER_TESTS_UTIL_TEMP_DIR_H_
#define SEQUENCER_TESTS_UTIL_TEMP_DIR_H_

#include <string>
#include <vector>

namespace sequencer::testing {

// 32 letters drawn at random, fixed per `who`: bytes found nowhere but where
// a test puts them. Table files are compressed, and a compressor stores a
// repeated run of 4+ bytes as a reference to its earlier copy, so markers
// share no such run with each other or with ids (a byte scan must still be
// shown to see through the compression, with a positive control).
std::string Marker(const std::string& who);

// The names of the files under `dir` (recursively) whose bytes contain
// `needle`: the byte scans of the erasure tests.
std::vector<std::string> FilesContaining(const std::string& dir,
                                         const std::string& needle);

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // A path inside the directory (not created).
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace sequencer::testing

#endif  // SEQUENCER_TESTS_UTIL_TEMP_DIR_H_
