// Reading recipients: one recipient's state, content, skip preview and
// timeline, and the listing of a sequence's recipients. Reads take no lock
// and see every commit that returned before they started. Thread-safe.

#ifndef SEQUENCER_APP_USE_CASES_RECIPIENT_QUERIES_H_
#define SEQUENCER_APP_USE_CASES_RECIPIENT_QUERIES_H_

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "app/app_deps.h"
#include "app/caller.h"
#include "domain/model.h"
#include "domain/recipient.h"
#include "eventstore/event_store.h"
#include "sequencer/v1/events.pb.h"

namespace sequencer::app {

struct RecipientRef {
  std::string sequence_id;
  std::string recipient_id;
};

// A recipient with the sequence it runs (views need both).
struct RecipientView {
  domain::Sequence sequence;
  domain::Recipient recipient;
};

// INVALID_ARGUMENT for bad ids; NOT_FOUND for an unknown sequence, or an
// unknown or deleted recipient (the same for the calls below).
absl::StatusOr<RecipientView> GetRecipient(const AppDeps& deps,
                                           const CallContext& call,
                                           const RecipientRef& ref);

// The steps with their content as the recipient will get it (overrides and
// variables applied).
absl::StatusOr<std::vector<domain::StepView>> ViewContent(
    const AppDeps& deps, const CallContext& call, const RecipientRef& ref);

// What SkipStep would do now, changing nothing.
absl::StatusOr<domain::SkipPreview> PreviewSkip(const AppDeps& deps,
                                                const CallContext& call,
                                                const RecipientRef& ref);

// The recipient's events in their stored form, oldest first, with versions
// and log positions.
absl::StatusOr<std::vector<std::pair<eventstore::StoredEvent, v1::Event>>>
GetTimeline(const AppDeps& deps, const CallContext& call,
            const RecipientRef& ref);

struct RecipientPage {
  domain::Sequence sequence;
  std::vector<domain::Recipient> recipients;
  // The id to pass as `after` for the next page; empty on the last page.
  std::string next_after;
};

// The sequence's recipients with one of `statuses` (all when empty) in id
// order after `after`, at most `page_size`.
absl::StatusOr<RecipientPage> ListRecipients(
    const AppDeps& deps, const CallContext& call, absl::string_view sequence_id,
    const std::set<domain::RecipientStatus>& statuses, absl::string_view after,
    int page_size);

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_USE_CASES_RECIPIENT_QUERIES_H_
