// sequencer.v1.ClockService: reads and moves the manual clock. Registered only
// when sequencerd runs with --clock=manual, so production servers have no way
// to move time.

#ifndef SEQUENCER_SERVER_CLOCK_SERVICE_H_
#define SEQUENCER_SERVER_CLOCK_SERVICE_H_

#include "app/runtime/clock.h"
#include "app/runtime/poll_registry.h"
#include "app/use_cases/scheduler.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "server/unary_call.h"

namespace sequencer::server {

class ClockServiceImpl final : public DecodingService<v1::ClockService> {
 public:
  // `clock`, `scheduler` and `polls` must outlive the service. AdvanceTime
  // runs the scheduler, then ends the long polls whose wait has run out
  // (PollRegistry::ExpireDue), before answering.
  ClockServiceImpl(app::ManualClock* clock, app::Scheduler* scheduler,
                   app::PollRegistry* polls, AccessControl* access);

  grpc::ServerUnaryReactor* GetTime(grpc::CallbackServerContext* context,
                                    const v1::GetTimeRequest* request,
                                    v1::TimeResponse* response) override;
  grpc::ServerUnaryReactor* AdvanceTime(grpc::CallbackServerContext* context,
                                        const v1::AdvanceTimeRequest* request,
                                        v1::TimeResponse* response) override;

 private:
  app::ManualClock& clock_;
  app::Scheduler& scheduler_;
  app::PollRegistry& polls_;
};

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_CLOCK_SERVICE_H_
