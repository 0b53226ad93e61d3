#include "server/scheduler.h"

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "server/recipient_commands.h"
#include "server/status_macros.h"
#include "server/store_layout.h"

namespace sequencer::server {
namespace {

constexpr size_t kScanChunk = 256;
constexpr int kMaxPasses = 1000;

struct DueEntry {
  absl::Time due;
  std::string tenant;
  std::string sequence_id;
  std::string recipient_id;
};

// Parses "due/<time>/<tenant>/<sequence>/<recipient>".
std::optional<DueEntry> ParseDueKey(absl::string_view key) {
  if (!absl::ConsumePrefix(&key, layout::kDuePrefix)) return std::nullopt;
  std::vector<std::string> parts = absl::StrSplit(key, '/');
  uint64_t micros = 0;
  if (parts.size() != 4 || !absl::SimpleHexAtoi(parts[0], &micros)) {
    return std::nullopt;
  }
  return DueEntry{absl::FromUnixMicros(static_cast<int64_t>(micros)), parts[1],
                  parts[2], parts[3]};
}

}  // namespace

Scheduler::~Scheduler() { Stop(); }

absl::StatusOr<std::optional<absl::Time>> Scheduler::NextDueTime() const {
  SEQ_ASSIGN_OR_RETURN(auto entries, deps_.repository->store().ScanIndex(
                                         layout::kDuePrefix, "", 1));
  if (entries.empty()) return std::optional<absl::Time>();
  std::optional<DueEntry> entry = ParseDueKey(entries.front().first);
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

absl::StatusOr<int> Scheduler::RunPass() {
  const absl::Time now = deps_.clock->Now();
  int changed = 0;
  std::string cursor;
  while (true) {
    SEQ_ASSIGN_OR_RETURN(
        auto entries, deps_.repository->store().ScanIndex(layout::kDuePrefix,
                                                          cursor, kScanChunk));
    for (const auto& [key, value] : entries) {
      cursor = key;
      std::optional<DueEntry> entry = ParseDueKey(key);
      if (!entry.has_value()) continue;
      if (entry->due > now) return changed;
      RecipientCommandRequest request;
      request.method = "scheduler";
      request.request_id = "scheduler";
      request.idempotent = false;
      request.sequence_id = entry->sequence_id;
      request.recipient_id = entry->recipient_id;
      bool produced = false;
      const absl::Status status = RunRecipientCommand(
          deps_, CallContext{entry->tenant, kSchedulerActor}, request,
          domain::MarkStepDue{},
          [&produced](const CommandOutcome& outcome,
                      google::protobuf::Message*) {
            produced = !outcome.events.empty();
          },
          nullptr);
      if (!status.ok() && !absl::IsNotFound(status)) {
        std::fprintf(stderr, "scheduler: %s/%s/%s: %s\n", entry->tenant.c_str(),
                     entry->sequence_id.c_str(), entry->recipient_id.c_str(),
                     status.ToString().c_str());
      }
      if (status.ok() && produced) ++changed;
    }
    if (entries.size() < kScanChunk) return changed;
  }
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
    absl::StatusOr<std::optional<absl::Time>> next = NextDueTime();
    if (next.ok() && next->has_value()) {
      const absl::Duration until = **next - deps_.clock->Now();
      if (until > absl::ZeroDuration()) wait = std::min(wait, until);
    }
    deps_.work->WaitAfter(seen, wait);
  }
}

}  // namespace sequencer::server
