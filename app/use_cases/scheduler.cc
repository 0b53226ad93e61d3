#include "app/use_cases/scheduler.h"

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "app/pipeline/command_runner.h"
#include "app/status_macros.h"
#include "app/storage/indexes.h"
#include "app/storage/store_layout.h"

namespace sequencer::app {
namespace {

// Entries read, and recipients committed together, at a time.
constexpr size_t kScanChunk = 512;
constexpr int kMaxPasses = 1000;

}  // namespace

Scheduler::~Scheduler() { Stop(); }

QueueFronts::Scan Scheduler::BeginScan() const {
  if (deps_.fronts == nullptr)
    return QueueFronts::Scan{layout::kDuePrefix, "", 0};
  return deps_.fronts->BeginScan(layout::kDuePrefix);
}

void Scheduler::EndScan(const QueueFronts::Scan& scan,
                        absl::string_view first_live) const {
  if (deps_.fronts != nullptr) deps_.fronts->EndScan(scan, first_live);
}

absl::StatusOr<std::optional<absl::Time>> Scheduler::NextDueTime() const {
  const QueueFronts::Scan scan = BeginScan();
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> entries =
      deps_.repository->store().ScanIndex(layout::kDuePrefix, StartAfter(scan),
                                          1);
  if (!entries.ok()) {
    EndScan(scan, "");
    return entries.status();
  }
  if (entries->empty()) {
    EndScan(scan, QueueFronts::kEmpty);
    return std::optional<absl::Time>();
  }
  EndScan(scan,
          layout::QueueEntryOf(entries->front().first, layout::kDuePrefix));
  std::optional<layout::DueEntry> entry =
      layout::ParseDueKey(entries->front().first);
  if (!entry.has_value()) return std::optional<absl::Time>();
  return std::optional<absl::Time>(entry->due);
}

absl::StatusOr<int> Scheduler::RunDue() {
  absl::MutexLock lock(&run_mu_);
  int changed = 0;
  for (int pass = 0; pass < kMaxPasses; ++pass) {
    SEQ_ASSIGN_OR_RETURN(int in_pass, RunPass());
    if (in_pass == 0) break;
    changed += in_pass;
  }
  return changed;
}

std::string Scheduler::StartAfter(const QueueFronts::Scan& scan) {
  return QueueFronts::StartAfter(layout::kDuePrefix, scan.front);
}

absl::StatusOr<int> Scheduler::RunPass() {
  const absl::Time now = deps_.clock->Now();
  const QueueFronts::Scan scan = BeginScan();
  // The first entry this pass leaves in the index: the first one not due
  // yet, or a due one that did not change (refused, failed).
  std::string first_live;
  auto leave = [&first_live](absl::string_view entry) {
    if (first_live.empty() || entry < first_live) {
      first_live = std::string(entry);
    }
  };
  int changed = 0;
  std::string cursor = StartAfter(scan);
  while (true) {
    absl::StatusOr<indexes::DueScan> due =
        indexes::DueBefore(deps_.repository->store(), now, cursor, kScanChunk);
    if (!due.ok()) {
      EndScan(scan, "");
      return due.status();
    }
    cursor = due->last_key;
    if (!due->first_later.empty()) leave(due->first_later);
    std::vector<BatchCommandItem> items;
    std::vector<std::string> queue_entries;
    for (const auto& [queue_entry, entry] : due->items) {
      if (!entry.has_value()) {
        leave(queue_entry);
        continue;
      }
      BatchCommandItem item;
      item.call = CallContext{entry->recipient.tenant, kSchedulerActor};
      item.request.identity = {"scheduler", "scheduler", 0, false};
      item.request.sequence_id = entry->recipient.sequence_id;
      item.request.recipient_id = entry->recipient.recipient_id;
      items.push_back(std::move(item));
      queue_entries.push_back(queue_entry);
    }
    // A step made ready is resolved now, from the state the pass has in
    // hand, so that leasing it need not fold the recipient again.
    CommandRunner::BatchCommitted remember_ready;
    if (deps_.ready_steps != nullptr) {
      remember_ready = [this, &items](size_t i, const domain::Recipient& after,
                                      const domain::Sequence& sequence) {
        std::optional<ReadyStep> ready = ResolveReadyStep(after, sequence);
        if (!ready.has_value()) return;
        deps_.ready_steps->Put(
            layout::RecipientStream(items[i].call.tenant_id,
                                    items[i].request.sequence_id,
                                    items[i].request.recipient_id),
            *std::move(ready));
      };
    }
    const std::vector<BatchItemResult> results =
        CommandRunner(deps_).RunRecipientBatch(items, domain::MarkStepDue{},
                                               remember_ready);
    for (size_t i = 0; i < results.size(); ++i) {
      const absl::Status& status = results[i].status;
      if (!status.ok() && !absl::IsNotFound(status)) {
        std::fprintf(stderr, "scheduler: %s/%s/%s: %s\n",
                     items[i].call.tenant_id.c_str(),
                     items[i].request.sequence_id.c_str(),
                     items[i].request.recipient_id.c_str(),
                     status.ToString().c_str());
      }
      if (results[i].changed) {
        ++changed;
      } else {
        leave(queue_entries[i]);
      }
    }
    if (due->end || !due->first_later.empty()) break;
  }
  EndScan(scan, first_live.empty() ? QueueFronts::kEmpty : first_live);
  return changed;
}

void Scheduler::StartBackground() {
  thread_ = std::thread([this] { Loop(); });
}

void Scheduler::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (deps_.work != nullptr) deps_.work->Notify();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::Loop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    const uint64_t seen = deps_.work->generation();
    absl::StatusOr<int> ran = RunDue();
    if (!ran.ok()) {
      std::fprintf(stderr, "scheduler: %s\n", ran.status().ToString().c_str());
    }
    // Entries that are due but produce nothing (none should exist) must not
    // spin the loop: then only a signal or the periodic wake-up retries.
    absl::Duration wait = absl::Minutes(1);
    std::optional<absl::Time> next;
    if (deps_.fronts != nullptr) {
      // From here on only an entry earlier than the front wakes the thread
      // (CommandRunner::Commit); entries added while RunDue ran have woken it.
      const std::string front = deps_.fronts->Watch(layout::kDuePrefix);
      if (!front.empty() && front != QueueFronts::kEmpty) {
        next = layout::ParseTimeKey(absl::string_view(front).substr(0, 16));
      }
    } else {
      absl::StatusOr<std::optional<absl::Time>> found = NextDueTime();
      if (found.ok()) next = *found;
    }
    if (next.has_value()) {
      const absl::Duration until = *next - deps_.clock->Now();
      if (until > absl::ZeroDuration()) wait = std::min(wait, until);
    }
    deps_.work->WaitAfter(seen, wait);
    if (deps_.fronts != nullptr) deps_.fronts->Unwatch(layout::kDuePrefix);
  }
}

}  // namespace sequencer::app
