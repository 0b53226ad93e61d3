#include "app/runtime/ready_steps.h"

#include <utility>

#include "domain/recipient_views.h"
#include "domain/schedule.h"

namespace sequencer::app {

std::optional<ReadyStep> ResolveReadyStep(const domain::Recipient& recipient,
                                          const domain::Sequence& sequence) {
  const domain::RecipientSchedule schedule =
      domain::Schedule(recipient, sequence);
  if (schedule.kind != domain::ScheduleKind::kReadyForDelivery) {
    return std::nullopt;
  }
  domain::ResolvedStep step = domain::ResolveCurrentStep(recipient, sequence);
  if (!step.missing_variables.empty()) return std::nullopt;
  ReadyStep ready;
  ready.recipient_version = recipient.version;
  ready.sequence_version = sequence.version;
  ready.step_index = step.step_index;
  ready.content = std::move(step.content);
  ready.contact = recipient.contact;
  ready.due_at = schedule.at;
  return ready;
}

size_t ReadySteps::BytesOf(const std::string& key, const ReadyStep& step) {
  return 2 * key.size() + sizeof(Kept) + 64 + step.content.subject.size() +
         step.content.body.size() + step.content.message.size() +
         step.content.details.size() + step.contact.email.size() +
         step.contact.phone.size() + step.contact.social_profile.size();
}

void ReadySteps::Put(absl::string_view stream, ReadyStep step) {
  std::string key(stream);
  const size_t bytes = BytesOf(key, step);
  if (bytes > max_bytes_) return;
  absl::MutexLock lock(&mu_);
  const uint64_t serial = next_serial_++;
  auto [it, inserted] = kept_.try_emplace(key);
  if (!inserted) bytes_ -= it->second.bytes;
  it->second = Kept{std::move(step), serial, bytes};
  bytes_ += bytes;
  order_.emplace_back(std::move(key), serial);
  while (bytes_ > max_bytes_ && !order_.empty()) {
    auto oldest = kept_.find(order_.front().first);
    if (oldest != kept_.end() &&
        oldest->second.serial == order_.front().second) {
      bytes_ -= oldest->second.bytes;
      kept_.erase(oldest);
    }
    order_.pop_front();
  }
  // Taken and replaced entries leave their keys in the order queue: drop
  // them once they outnumber the entries kept (amortized O(1) per Put).
  if (order_.size() > 2 * kept_.size() + 1024) {
    std::deque<std::pair<std::string, uint64_t>> live;
    for (auto& entry : order_) {
      auto found = kept_.find(entry.first);
      if (found != kept_.end() && found->second.serial == entry.second) {
        live.push_back(std::move(entry));
      }
    }
    order_ = std::move(live);
  }
}

std::optional<ReadyStep> ReadySteps::Take(absl::string_view stream) {
  absl::MutexLock lock(&mu_);
  auto it = kept_.find(stream);
  if (it == kept_.end()) return std::nullopt;
  ReadyStep step = std::move(it->second.step);
  bytes_ -= it->second.bytes;
  kept_.erase(it);
  return step;
}

size_t ReadySteps::size() const {
  absl::MutexLock lock(&mu_);
  return kept_.size();
}

size_t ReadySteps::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

}  // namespace sequencer::app
