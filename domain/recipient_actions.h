// The action-by-status table of the product contract
// (../shared/spec/product.md): which of the recipient actions are available
// now, and why not. The one rule every caller uses: Decide refuses with it,
// the API lists it on every recipient, bulk actions judge each selected
// recipient by it. Included by domain/recipient.h.

#ifndef SEQUENCER_DOMAIN_RECIPIENT_ACTIONS_H_
#define SEQUENCER_DOMAIN_RECIPIENT_ACTIONS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "domain/model.h"
#include "domain/refusal.h"

namespace sequencer::domain {

struct ActionAvailability {
  Action action = Action::kPause;
  bool available = false;
  // When unavailable: the reason (domain/refusal.h) and a sentence a person
  // can read.
  std::optional<RefusalReason> reason;
  std::string message;
};

// Every action of kAllActions, in that order, for this recipient now.
std::vector<ActionAvailability> AvailableActions(const Recipient& recipient,
                                                 const Sequence& sequence);

// OK when `action` is available; otherwise the FAILED_PRECONDITION refusal
// Decide would answer.
absl::Status CheckActionAvailable(Action action, const Recipient& recipient,
                                  const Sequence& sequence);

}  // namespace sequencer::domain

#endif  // SEQUENCER_DOMAIN_RECIPIENT_ACTIONS_H_
