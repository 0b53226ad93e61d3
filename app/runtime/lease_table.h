// Outstanding delivery leases (phase one of two-phase delivery), in memory.
// A lease is fenced by the recipient's version when it was granted: any later
// change to the recipient (pause, stop, delete, edit, a sequence pause)
// revokes it, because BeginSend requires the same version. Leases do not
// survive a restart; their steps are simply offered again. Thread-safe.

#ifndef SEQUENCER_APP_RUNTIME_LEASE_TABLE_H_
#define SEQUENCER_APP_RUNTIME_LEASE_TABLE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace sequencer::app {

struct Lease {
  std::string tenant;
  std::string sequence_id;
  std::string recipient_id;
  int step_index = 0;
  uint64_t recipient_version = 0;
  absl::Time expires_at;
};

class LeaseTable {
 public:
  // Grants a lease unless the recipient holds one that is unexpired at `now`
  // and was granted at `lease.recipient_version`. Returns the new token.
  std::optional<std::string> TryGrant(const Lease& lease, absl::Time now);

  // The recipient version at which the recipient's lease unexpired at `now`
  // was granted, if it holds one (TryGrant refuses a lease at that version).
  std::optional<uint64_t> HeldVersion(const std::string& tenant,
                                      const std::string& sequence_id,
                                      const std::string& recipient_id,
                                      absl::Time now) const;

  // The lease of `token`, if it exists and is unexpired at `now`.
  std::optional<Lease> Find(const std::string& token, absl::Time now) const;

  void Remove(const std::string& token);

  // Leases held and unexpired at `now` (for metrics).
  size_t Outstanding(absl::Time now) const;

 private:
  static std::string RecipientKey(const Lease& lease);
  void DropExpired(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, Lease> by_token_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> token_by_recipient_ ABSL_GUARDED_BY(mu_);
  // Every lease by expiry, so that dropping the expired ones reads only them
  // (TryGrant does it on each call).
  std::set<std::pair<absl::Time, std::string>> by_expiry_ ABSL_GUARDED_BY(mu_);
  absl::BitGen bits_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_RUNTIME_LEASE_TABLE_H_
