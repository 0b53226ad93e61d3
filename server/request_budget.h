// Bounds the bytes of requests the server works on at once, so that a burst
// of large requests (enrollments near the size limit) cannot take the process
// to gigabytes: a request is admitted while the bytes in flight plus its own
// stay within the budget, or when nothing else is in flight (so the largest
// valid request always runs alone); otherwise the caller answers
// RESOURCE_EXHAUSTED and the client retries with backoff.
//
// When the last large request in flight (at least kTrimThresholdBytes) ends,
// the allocator is asked to give free memory back to the system
// (malloc_trim): glibc otherwise keeps what many worker threads' arenas held
// at the peak. Thread-safe.

#ifndef SEQUENCER_SERVER_REQUEST_BUDGET_H_
#define SEQUENCER_SERVER_REQUEST_BUDGET_H_

#include <cstddef>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace sequencer::server {

class RequestBudget {
 public:
  static constexpr size_t kTrimThresholdBytes = 1 << 20;

  // `limit_bytes` 0 admits everything (no bound).
  explicit RequestBudget(size_t limit_bytes) : limit_(limit_bytes) {}
  RequestBudget(const RequestBudget&) = delete;
  RequestBudget& operator=(const RequestBudget&) = delete;

  // A request's hold on the budget; releases it when destroyed. Movable.
  class Hold {
   public:
    Hold() = default;
    Hold(Hold&& other) noexcept { *this = std::move(other); }
    Hold& operator=(Hold&& other) noexcept;
    ~Hold() { Release(); }
    void Release();

   private:
    friend class RequestBudget;
    Hold(RequestBudget* budget, size_t bytes)
        : budget_(budget), bytes_(bytes) {}
    RequestBudget* budget_ = nullptr;
    size_t bytes_ = 0;
  };

  // Admits a request of `bytes`, or RESOURCE_EXHAUSTED saying how much is in
  // flight and that the client should retry with backoff.
  absl::Status Admit(size_t bytes, Hold* hold);

  size_t in_flight_bytes() const {
    absl::MutexLock lock(&mu_);
    return in_flight_;
  }
  // Requests refused since the start (for tests and operators).
  uint64_t refused() const {
    absl::MutexLock lock(&mu_);
    return refused_;
  }

 private:
  void Release(size_t bytes);

  const size_t limit_;
  mutable absl::Mutex mu_;
  size_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  size_t large_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t refused_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_REQUEST_BUDGET_H_
