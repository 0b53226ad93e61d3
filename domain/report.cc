#include "domain/report.h"

#include <algorithm>
#include <variant>

namespace sequencer::domain {
namespace {

// The step of a send in flight (its dispatched content is kept), else the
// current step.
int InFlightStepOf(const Recipient& r) {
  for (size_t i = 0; i < r.steps.size(); ++i) {
    if (r.steps[i].dispatched_content.has_value()) return static_cast<int>(i);
  }
  return r.current_step;
}

// The counters of `step` in `history` (before_first_send for a negative one).
StepTally& TallyOf(ReportHistory& history, int step) {
  if (step < 0) return history.before_first_send;
  if (static_cast<size_t>(step) >= history.steps.size()) {
    history.steps.resize(step + 1);
  }
  return history.steps[step];
}

void CountSent(ReportHistory& history, int step) {
  if (step < 0) return;
  ++TallyOf(history, step).sent;
  history.last_sent_step = step;
}

struct Counter {
  Recipient& r;
  ReportHistory& h;

  void operator()(const StepCompleted& e) const { CountSent(h, e.step_index); }
  void operator()(const ManualStepCompleted& e) const {
    CountSent(h, e.step_index);
  }
  void operator()(const DeliveryReportedLate& e) const {
    if (e.outcome == DeliveryOutcome::kSent) CountSent(h, e.step_index);
  }
  void operator()(const StepSkipped& e) const {
    if (e.step_index >= 0) ++TallyOf(h, e.step_index).skipped;
  }
  void operator()(const StepFailed& e) const {
    if (e.step_index >= 0) ++TallyOf(h, e.step_index).failed;
  }
  void operator()(const SendTimedOut& e) const {
    if (e.step_index >= 0) ++TallyOf(h, e.step_index).failed;
  }
  void operator()(const Bounced& e) const {
    int step = h.last_sent_step;
    if (!e.lease_token.empty()) {
      if (e.lease_token == r.in_flight_token) {
        step = InFlightStepOf(r);
      } else if (e.lease_token == r.unreported_send.lease_token) {
        step = r.unreported_send.step_index;
      }
    }
    ++TallyOf(h, step).bounced;
  }
  void operator()(const ReplyReceived&) const {
    ++TallyOf(h, h.last_sent_step).replies;
  }
  void operator()(const MeetingBooked&) const {
    ++TallyOf(h, h.last_sent_step).meetings;
  }
  void operator()(const Deleted&) const { h = ReportHistory{}; }
  // Nothing else is history the report counts.
  template <typename Other>
  void operator()(const Other&) const {}
};

}  // namespace

StepTally& StepTally::operator+=(const StepTally& other) {
  waiting += other.waiting;
  due += other.due;
  sent += other.sent;
  skipped += other.skipped;
  failed += other.failed;
  bounced += other.bounced;
  replies += other.replies;
  meetings += other.meetings;
  return *this;
}

bool operator==(const ReportContribution& a, const ReportContribution& b) {
  if (a.status != b.status || a.before_first_send != b.before_first_send) {
    return false;
  }
  // Trailing empty steps do not matter.
  const size_t n = std::max(a.steps.size(), b.steps.size());
  static const StepTally kEmpty;
  for (size_t i = 0; i < n; ++i) {
    const StepTally& x = i < a.steps.size() ? a.steps[i] : kEmpty;
    const StepTally& y = i < b.steps.size() ? b.steps[i] : kEmpty;
    if (x != y) return false;
  }
  return true;
}

void CountEvent(const RecipientEventPayload& payload, Recipient& recipient) {
  std::visit(Counter{recipient, recipient.report}, payload);
}

std::optional<ReportContribution> ContributionOf(const Recipient& r) {
  if (!r.exists || r.deleted) return std::nullopt;
  ReportContribution out;
  out.status = r.status;
  out.steps = r.report.steps;
  out.before_first_send = r.report.before_first_send;
  const int step = r.current_step;
  if (step >= 0 && step < static_cast<int>(r.steps.size()) && r.IsRunning() &&
      r.status != RecipientStatus::kError) {
    const bool due_now = r.awaiting_delivery || r.awaiting_manual_action ||
                         !r.in_flight_token.empty();
    if (due_now || r.due_at.has_value()) {
      if (static_cast<size_t>(step) >= out.steps.size()) {
        out.steps.resize(step + 1);
      }
      ++(due_now ? out.steps[step].due : out.steps[step].waiting);
    }
  }
  // Trailing steps with nothing to count are left out.
  while (!out.steps.empty() && out.steps.back().empty()) out.steps.pop_back();
  return out;
}

SequenceReport EmptyReport(int step_count) {
  SequenceReport report;
  for (RecipientStatus status :
       {RecipientStatus::kInProgress, RecipientStatus::kPendingAction,
        RecipientStatus::kPaused, RecipientStatus::kError,
        RecipientStatus::kFinished, RecipientStatus::kResponded,
        RecipientStatus::kMeetingBooked, RecipientStatus::kBounced,
        RecipientStatus::kStopped, RecipientStatus::kUnsubscribed}) {
    report.by_status[status] = 0;
  }
  report.steps.resize(std::max(0, step_count));
  return report;
}

void AddContribution(const ReportContribution& contribution,
                     SequenceReport* report) {
  ++report->recipients;
  ++report->by_status[contribution.status];
  for (size_t i = 0; i < contribution.steps.size(); ++i) {
    if (i < report->steps.size()) report->steps[i] += contribution.steps[i];
    report->totals += contribution.steps[i];
  }
  report->before_first_send += contribution.before_first_send;
  report->totals += contribution.before_first_send;
}

}  // namespace sequencer::domain
