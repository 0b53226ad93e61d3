#include "app/runtime/lease_table.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sequencer::app {

std::string LeaseTable::RecipientKey(const Lease& lease) {
  return absl::StrCat(lease.tenant, "/", lease.sequence_id, "/",
                      lease.recipient_id);
}

void LeaseTable::DropExpired(absl::Time now) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
    auto lease = by_token_.find(by_expiry_.begin()->second);
    if (lease != by_token_.end()) {
      token_by_recipient_.erase(RecipientKey(lease->second));
      by_token_.erase(lease);
    }
    by_expiry_.erase(by_expiry_.begin());
  }
}

std::optional<std::string> LeaseTable::TryGrant(const Lease& lease,
                                                absl::Time now) {
  absl::MutexLock lock(&mu_);
  DropExpired(now);
  const std::string key = RecipientKey(lease);
  if (auto it = token_by_recipient_.find(key);
      it != token_by_recipient_.end()) {
    const Lease& held = by_token_.at(it->second);
    if (held.recipient_version == lease.recipient_version) return std::nullopt;
    by_expiry_.erase({held.expires_at, it->second});
    by_token_.erase(it->second);
    token_by_recipient_.erase(it);
  }
  const std::string token =
      absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(bits_),
                      absl::Uniform<uint64_t>(bits_));
  by_token_[token] = lease;
  token_by_recipient_[key] = token;
  by_expiry_.insert({lease.expires_at, token});
  return token;
}

std::optional<uint64_t> LeaseTable::HeldVersion(const std::string& tenant,
                                                const std::string& sequence_id,
                                                const std::string& recipient_id,
                                                absl::Time now) const {
  const std::string key =
      absl::StrCat(tenant, "/", sequence_id, "/", recipient_id);
  absl::MutexLock lock(&mu_);
  auto it = token_by_recipient_.find(key);
  if (it == token_by_recipient_.end()) return std::nullopt;
  const Lease& held = by_token_.at(it->second);
  if (held.expires_at <= now) return std::nullopt;
  return held.recipient_version;
}

std::optional<Lease> LeaseTable::Find(const std::string& token,
                                      absl::Time now) const {
  absl::MutexLock lock(&mu_);
  auto it = by_token_.find(token);
  if (it == by_token_.end() || it->second.expires_at <= now) {
    return std::nullopt;
  }
  return it->second;
}

size_t LeaseTable::Outstanding(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  size_t count = 0;
  for (auto it = by_expiry_.lower_bound({now, std::string()});
       it != by_expiry_.end(); ++it) {
    if (it->first > now) ++count;
  }
  return count;
}

void LeaseTable::Remove(const std::string& token) {
  absl::MutexLock lock(&mu_);
  auto it = by_token_.find(token);
  if (it == by_token_.end()) return;
  token_by_recipient_.erase(RecipientKey(it->second));
  by_expiry_.erase({it->second.expires_at, token});
  by_token_.erase(it);
}

}  // namespace sequencer::app
