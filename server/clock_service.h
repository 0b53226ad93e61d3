// sequencer.v1.ClockService: reads and moves the manual clock. Registered only
// when sequencerd runs with --clock=manual, so production servers have no way
// to move time.

#ifndef SEQUENCER_SERVER_CLOCK_SERVICE_H_
#define SEQUENCER_SERVER_CLOCK_SERVICE_H_

#include "sequencer/v1/sequencer.grpc.pb.h"
#include "server/clock.h"
#include "server/scheduler.h"

namespace sequencer::server {

class ClockServiceImpl final : public v1::ClockService::CallbackService {
 public:
  // `clock` and `scheduler` must outlive the service. AdvanceTime runs the
  // scheduler before answering.
  ClockServiceImpl(ManualClock* clock, Scheduler* scheduler)
      : clock_(*clock), scheduler_(*scheduler) {}

  grpc::ServerUnaryReactor* GetTime(grpc::CallbackServerContext* context,
                                    const v1::GetTimeRequest* request,
                                    v1::TimeResponse* response) override;
  grpc::ServerUnaryReactor* AdvanceTime(grpc::CallbackServerContext* context,
                                        const v1::AdvanceTimeRequest* request,
                                        v1::TimeResponse* response) override;

 private:
  ManualClock& clock_;
  Scheduler& scheduler_;
};

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_CLOCK_SERVICE_H_
