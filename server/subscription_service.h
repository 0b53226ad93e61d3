// sequencer.v1.SubscriptionService: SubscribeEvents streams the tenant's
// committed events, catch-up from the log then live (see the service comment
// in proto/sequencer/v1/subscriptions.proto).
//
// Each call is a callback write reactor that holds no thread while it waits:
// it reads a chunk (app::EventFeed::Read: the in-memory ring when it still
// holds the positions, else the log), filters it (app/use_cases/
// event_subscription.h) and writes the matching events one at a time, each
// write started by the previous one's OnWriteDone; then it reads the next
// chunk on the subscription pool. At the live edge it parks in the feed,
// which wakes it on the next commit. So a subscriber holds at most one chunk
// and one message in gRPC's hands, whatever its speed, and writers never
// wait for it. Server shutdown (Shutdown) ends every subscription UNAVAILABLE;
// a client that goes away frees its subscription at once (OnCancel).

#ifndef SEQUENCER_SERVER_SUBSCRIPTION_SERVICE_H_
#define SEQUENCER_SERVER_SUBSCRIPTION_SERVICE_H_

#include <atomic>
#include <cstdint>

#include "app/runtime/event_feed.h"
#include "app/runtime/worker_pool.h"
#include "sequencer/v1/subscriptions.grpc.pb.h"
#include "server/unary_call.h"

namespace sequencer::server {

class SubscriptionServiceImpl final
    : public DecodingService<v1::SubscriptionService> {
 public:
  // Events per read of the feed (and at most that many messages held per
  // subscriber).
  static constexpr size_t kChunkEvents = 256;
  // During a filtered catch-up, a CaughtUp heartbeat at least every this
  // many positions passed without a match.
  static constexpr uint64_t kHeartbeatPositions = 4096;

  // `feed` and `pool` (which runs the reads) must outlive the service.
  SubscriptionServiceImpl(app::EventFeed* feed, app::WorkerPool* pool);

  grpc::ServerWriteReactor<v1::SubscribedEvent>* SubscribeEvents(
      grpc::CallbackServerContext* context,
      const v1::SubscribeEventsRequest* request) override;

  // Subscriptions started and not yet done.
  int open() const { return open_.load(); }

 private:
  class Subscriber;

  app::EventFeed& feed_;
  app::WorkerPool& pool_;
  std::atomic<int> open_{0};
};

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_SUBSCRIPTION_SERVICE_H_
