// Where new ids come from. Injected, so tests get predictable ids.

#ifndef SEQUENCER_APP_RUNTIME_ID_GENERATOR_H_
#define SEQUENCER_APP_RUNTIME_ID_GENERATOR_H_

#include <atomic>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace sequencer::app {

// Thread-safe.
class IdGenerator {
 public:
  virtual ~IdGenerator() = default;
  // A new id starting with `prefix`, valid under domain::ValidateId.
  virtual std::string NewId(absl::string_view prefix) = 0;
};

// "<prefix>_" followed by 20 random base-32 characters (100 bits).
class RandomIdGenerator final : public IdGenerator {
 public:
  std::string NewId(absl::string_view prefix) override;

 private:
  absl::Mutex mu_;
  absl::BitGen bits_ ABSL_GUARDED_BY(mu_);
};

// "<prefix>_1", "<prefix>_2", ...: for tests and demos.
class SequentialIdGenerator final : public IdGenerator {
 public:
  std::string NewId(absl::string_view prefix) override;

 private:
  std::atomic<uint64_t> next_{1};
};

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_RUNTIME_ID_GENERATOR_H_
