// Makes steps happen on time. Recipients waiting for a delay sit in the
// due-time index (due/ keys, app/storage/store_layout.h), kept in the same
// commit as their events; the scheduler reads only the front of that index,
// never scans all recipients, and starts reading at the in-memory front
// (AppDeps::fronts, app/runtime/queue_fronts.h), so the keys that earlier
// passes and pauses deleted cost nothing. For the recipients whose due time
// has come, oldest first, up to 512 at a time, it runs domain::MarkStepDue
// through the batch form of the recipient pipeline
// (CommandRunner::RunRecipientBatch): one durable commit per batch; a manual
// step becomes PENDING_ACTION, an automatic step joins its channel's delivery
// queue (or, with a missing variable, the recipient goes to ERROR). A
// recipient the batch refuses or finds changed is left as it is; the others
// still commit.
//
// With the system clock a background thread wakes at the next due time and
// when a commit adds a due/ entry earlier than that (QueueFronts::Watch). With
// the manual clock nothing runs by itself: ClockService/AdvanceTime calls
// RunDue, so tests are deterministic. Thread-safe.

#ifndef SEQUENCER_APP_USE_CASES_SCHEDULER_H_
#define SEQUENCER_APP_USE_CASES_SCHEDULER_H_

#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "app/app_deps.h"

namespace sequencer::app {

inline constexpr char kSchedulerActor[] = "system:scheduler";

class Scheduler {
 public:
  // `deps` (including deps.work) must outlive the scheduler.
  explicit Scheduler(AppDeps deps) : deps_(deps) {}
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;
  ~Scheduler();

  // Processes every recipient due at or before now, in due-time order,
  // repeating while that produces new due work (a step due right away).
  // Returns how many recipients changed. One run at a time.
  absl::StatusOr<int> RunDue();

  // The earliest due time in the index, if any (read from the front on).
  absl::StatusOr<std::optional<absl::Time>> NextDueTime() const;

  // Starts the background thread (system clock). Stop() or the destructor
  // ends it.
  void StartBackground();
  void Stop();

 private:
  absl::StatusOr<int> RunPass();
  QueueFronts::Scan BeginScan() const;
  void EndScan(const QueueFronts::Scan& scan,
               absl::string_view first_live) const;
  // The ScanIndex start_after that reads the due/ index from the scan's
  // front on.
  static std::string StartAfter(const QueueFronts::Scan& scan);
  void Loop();

  AppDeps deps_;
  absl::Mutex run_mu_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace sequencer::app

#endif  // SEQUENCER_APP_USE_CASES_SCHEDULER_H_
