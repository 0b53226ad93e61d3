// sequencer.v1.SubscriptionService: SubscribeEvents and SubscribeEventBatches
// stream the tenant's committed events, catch-up from the log then live (see
// the service comment in proto/sequencer/v1/subscriptions.proto).
//
// Each call is a callback write reactor that holds no thread while it waits:
// it reads a chunk (app::EventFeed::Read: the in-memory ring when it still
// holds the positions, else the log), filters it (app/use_cases/
// event_subscription.h) and writes the matching events, one message at a
// time, each write started by the previous one's OnWriteDone: SubscribeEvents
// one event per message, SubscribeEventBatches everything read so far (up to
// kBatchBytes) in one SubscribedEventBatch. After a write it reads the next
// chunk inline when the ring serves it, else on the subscription pool. So
// what committed while a message was being sent goes in the next one. At the
// live edge it parks in the feed, whose wake thread wakes it after the next
// commits (in rounds, at most every ServerOptions::
// subscription_round_interval) and which it then reads inline; one that had
// read to the end of the ring parks for the next round after each message
// rather than reading again at once, so it sends one message per round. So a
// subscriber holds at most one chunk and one message in gRPC's hands, whatever
// its speed, and writers never wait for it. Server shutdown (Shutdown) ends
// every subscription UNAVAILABLE; a client that goes away frees its
// subscription at once (OnCancel).
//
// Many subscribers get the same events: each event's SubscribedEvent is
// encoded once, when it enters the feed's ring (EncodeSubscribedEvent, given
// as app::EventFeed::Options::encode; the stored bytes are a serialized
// v1.Event, so they are copied in as the message's `event` field, never
// parsed), and every subscriber writes those shared bytes (EncodedMessage),
// or appends them to its batch (the wire form of a repeated message field is
// each element's tag, length and bytes, one after the other). Events read
// from the log (catch-up) are encoded by the subscriber that reads them.

#ifndef SEQUENCER_SERVER_SUBSCRIPTION_SERVICE_H_
#define SEQUENCER_SERVER_SUBSCRIPTION_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "app/runtime/event_feed.h"
#include "app/runtime/worker_pool.h"
#include "sequencer/v1/subscriptions.grpc.pb.h"
#include "server/unary_call.h"

namespace sequencer::server {

// A serialized message (here a v1.SubscribedEvent), shared by the calls that
// write it; gRPC sends the bytes as they are (no copy).
struct EncodedMessage {
  std::shared_ptr<const std::string> bytes;
  // The message's position (of the event, or caught up to).
  uint64_t position = 0;
  // A CaughtUp sent at the live edge.
  bool live = false;
};

// The serialized v1.SubscribedEvent of a stored event (with its data): what
// the feed keeps for every subscriber (app::EventFeed::Options::encode).
// Thread-safe.
std::string EncodeSubscribedEvent(const eventstore::StoredEvent& event);

class SubscriptionServiceImpl final
    : public DecodingService<v1::SubscriptionService> {
 public:
  // Events per read of the feed (and at most that many messages held per
  // subscriber).
  static constexpr size_t kChunkEvents = 256;
  // A SubscribedEventBatch holds events while it stays under this size (at
  // least one event, however large).
  static constexpr size_t kBatchBytes = 1 << 20;
  // During a filtered catch-up, a CaughtUp heartbeat at least every this
  // many positions passed without a match.
  static constexpr uint64_t kHeartbeatPositions = 4096;

  // `feed` and `pool` (which runs the reads) must outlive the service.
  // `access` admits each call (server/access_control.h); all must outlive
  // the service.
  SubscriptionServiceImpl(app::EventFeed* feed, app::WorkerPool* pool,
                          AccessControl* access);
  ~SubscriptionServiceImpl() override;

  // SubscribeEvents, as it is served (DecodeStreamingRequestsOf): writes
  // encoded v1.SubscribedEvent messages.
  grpc::ServerWriteReactor<EncodedMessage>* Subscribe(
      grpc::CallbackServerContext* context,
      const v1::SubscribeEventsRequest* request);
  // SubscribeEventBatches: writes encoded v1.SubscribedEventBatch messages.
  grpc::ServerWriteReactor<EncodedMessage>* SubscribeBatches(
      grpc::CallbackServerContext* context,
      const v1::SubscribeEventsRequest* request);

  // Subscriptions started and not yet done.
  int open() const { return open_.load(); }

 private:
  class Subscriber;

  app::EventFeed& feed_;
  app::WorkerPool& pool_;
  std::atomic<int> open_{0};
};

}  // namespace sequencer::server

namespace grpc {

template <>
class SerializationTraits<sequencer::server::EncodedMessage, void> {
 public:
  static grpc::Status Serialize(
      const sequencer::server::EncodedMessage& message,
      grpc::ByteBuffer* buffer, bool* own_buffer);
  static grpc::Status Deserialize(grpc::ByteBuffer* buffer,
                                  sequencer::server::EncodedMessage* message);
};

}  // namespace grpc

#endif  // SEQUENCER_SERVER_SUBSCRIPTION_SERVICE_H_
