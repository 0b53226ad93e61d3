#include "tests/util/temp_dir.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <system_error>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace sequencer::testing {

TempDir::TempDir() {
  std::string pattern = ::testing::TempDir();
  if (pattern.empty() || pattern.back() != '/') pattern += '/';
  pattern += "sequencer_test_XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr)
    ADD_FAILURE() << "mkdtemp failed for " << pattern;
  path_ = pattern;
}

std::string Marker(const std::string& who) {
  std::mt19937 random(static_cast<uint32_t>(std::hash<std::string>()(who)));
  std::string marker;
  for (int i = 0; i < 32; ++i) {
    marker.push_back(static_cast<char>('a' + random() % 26));
  }
  return marker;
}

std::vector<std::string> FilesContaining(const std::string& dir,
                                         const std::string& needle) {
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)),
                            std::istreambuf_iterator<char>());
    if (absl::StrContains(bytes, needle)) {
      found.push_back(entry.path().filename().string());
    }
  }
  return found;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace sequencer::testing
