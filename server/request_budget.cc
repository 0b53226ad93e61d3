#include "server/request_budget.h"

#include <malloc.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace sequencer::server {
namespace {

std::string Mib(size_t bytes) {
  return absl::StrCat(bytes / (1 << 20), ".", (bytes % (1 << 20)) * 10 >> 20,
                      " MiB");
}

}  // namespace

RequestBudget::Hold& RequestBudget::Hold::operator=(Hold&& other) noexcept {
  if (this != &other) {
    Release();
    budget_ = std::exchange(other.budget_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void RequestBudget::Hold::Release() {
  if (budget_ == nullptr) return;
  std::exchange(budget_, nullptr)->Release(std::exchange(bytes_, 0));
}

absl::Status RequestBudget::Admit(size_t bytes, Hold* hold) {
  {
    absl::MutexLock lock(&mu_);
    if (limit_ != 0 && in_flight_ != 0 && in_flight_ + bytes > limit_) {
      ++refused_;
      return absl::ResourceExhaustedError(
          absl::StrCat("the server is busy: ", Mib(in_flight_),
                       " of requests are in progress and this one (",
                       Mib(bytes), ") would exceed the ", Mib(limit_),
                       " it works on at once; retry with backoff"));
    }
    in_flight_ += bytes;
    if (bytes >= kTrimThresholdBytes) ++large_in_flight_;
  }
  *hold = Hold(this, bytes);
  return absl::OkStatus();
}

void RequestBudget::Release(size_t bytes) {
  bool trim = false;
  {
    absl::MutexLock lock(&mu_);
    in_flight_ -= bytes;
    if (bytes >= kTrimThresholdBytes) trim = --large_in_flight_ == 0;
  }
  if (trim) malloc_trim(0);
}

}  // namespace sequencer::server
