// A temporary directory for a test, removed with its contents on destruction.

#ifndef SEQUENCER_TESTS_UTIL_TEMP_DIR_H_
#define SEQUENCER_TESTS_UTIL_TEMP_DIR_H_

#include <string>
#include <vector>

namespace sequencer::testing {

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
