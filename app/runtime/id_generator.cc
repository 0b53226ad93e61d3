#include "app/runtime/id_generator.h"

#include "absl/strings/str_cat.h"

namespace sequencer::app {

std::string RandomIdGenerator::NewId(absl::string_view prefix) {
  static constexpr char kAlphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
  std::string id = absl::StrCat(prefix, "_");
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < 20; ++i)
    id.push_back(kAlphabet[absl::Uniform(bits_, 0, 32)]);
  return id;
}

std::string SequentialIdGenerator::NewId(absl::string_view prefix) {
  return absl::StrCat(prefix, "_", next_.fetch_add(1));
}

}  // namespace sequencer::app
