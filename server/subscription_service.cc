#include "server/subscription_service.h"

#include <deque>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "app/use_cases/event_subscription.h"
#include "server/call_context.h"
#include "server/status_conversion.h"

namespace sequencer::server {
namespace {

app::SubscriptionRequest FromProto(const v1::SubscribeEventsRequest& request) {
  app::SubscriptionRequest out;
  using Start = app::SubscriptionRequest::Start;
  switch (request.start_case()) {
    case v1::SubscribeEventsRequest::kAfterPosition:
      out.start = Start::kAfterPosition;
      out.after_position = request.after_position();
      break;
    case v1::SubscribeEventsRequest::kFromStart:
      out.start = Start::kFromStart;
      out.start_flag = request.from_start();
      break;
    case v1::SubscribeEventsRequest::kFromNow:
      out.start = Start::kFromNow;
      out.start_flag = request.from_now();
      break;
    case v1::SubscribeEventsRequest::START_NOT_SET:
      break;
  }
  out.sequence_id = request.sequence_id();
  out.recipient_id = request.recipient_id();
  out.event_types.assign(request.event_types().begin(),
                         request.event_types().end());
  return out;
}

grpc::Status ShuttingDown() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      "the server is shutting down; subscribe again after "
                      "the last position received");
}

void AppendVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

std::shared_ptr<const std::string> EncodeCaughtUp(uint64_t position) {
  v1::SubscribedEvent message;
  message.set_position(position);
  message.mutable_caught_up();
  return std::make_shared<const std::string>(message.SerializeAsString());
}

std::shared_ptr<const std::string> EncodeFellBehind(uint64_t position,
                                                    uint64_t last_position) {
  v1::SubscribedEvent message;
  message.set_position(position);
  message.mutable_fell_behind()->set_last_position(last_position);
  return std::make_shared<const std::string>(message.SerializeAsString());
}

// The bytes a subscriber writes for `ref`: the feed's encoding, shared.
std::shared_ptr<const std::string> BytesOf(const app::FeedEventRef& ref) {
  if (!ref->encoded.empty()) {
    // Aliasing: holds the FeedEvent, points at its bytes.
    return std::shared_ptr<const std::string>(ref, &ref->encoded);
  }
  return std::make_shared<const std::string>(EncodeSubscribedEvent(ref->event));
}

}  // namespace

std::string EncodeSubscribedEvent(const eventstore::StoredEvent& event) {
  v1::SubscribedEvent head;
  head.set_position(event.position);
  head.set_stream(event.stream);
  head.set_version(event.version);
  head.set_type(event.type);
  std::string bytes;
  bytes.reserve(head.ByteSizeLong() + 10 + event.data.size());
  head.AppendToString(&bytes);
  constexpr int kEventField = v1::SubscribedEvent::kEventFieldNumber;
  AppendVarint((kEventField << 3) | 2, &bytes);  // length-delimited
  AppendVarint(event.data.size(), &bytes);
  bytes.append(event.data);
  return bytes;
}

// One SubscribeEvents or SubscribeEventBatches call. At any time at most one of
// these is under way, and it alone touches the subscriber's state: a read
// (Pump: on the pool, or inline after a write when memory serves it), a write
// (until OnWriteDone), or a park in the feed (until Wake or a successful
// Remove). OnCancel may come at any time: it only sets `cancelled_` and takes
// the subscriber out of the feed when parked; the activity under way notices
// the flag and finishes.
class SubscriptionServiceImpl::Subscriber final
    : public grpc::ServerWriteReactor<EncodedMessage>,
      public app::FeedWaiter {
 public:
  Subscriber(SubscriptionServiceImpl* service,
             grpc::CallbackServerContext* context,
             const v1::SubscribeEventsRequest* request, bool batched)
      : service_(*service),
        context_(*context),
        request_(*request),
        batched_(batched),
        call_(AdmittedCallContext()) {
    ++service_.open_;
  }

  void Start() { Schedule(); }

  // Parked only once started, at the live edge: what woke it is in memory,
  // so it reads it on the waking thread (the feed's), without a hop.
  void Wake(bool shutdown) override {
    if (shutdown) {
      End(ShuttingDown());
    } else {
      Pump(/*on_pool=*/false);
    }
  }

  bool Cancelled() const override { return cancelled_.load(); }

  // Set before Remove: a park that has not happened yet is refused (the
  // feed asks Cancelled() under its lock), one that has is taken back.
  void OnCancel() override {
    cancelled_.store(true);
    if (service_.feed_.Remove(this)) End(grpc::Status::CANCELLED);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      End(grpc::Status::CANCELLED);
      return;
    }
    written_ = writing_.position;
    if (writing_.live) first_heartbeat_ = false;
    outbox_.erase(outbox_.begin(), outbox_.begin() + writing_count_);
    writing_ = EncodedMessage();
    WriteOrFetch();
  }

  void OnDone() override {
    --service_.open_;
    delete this;
  }

 private:
  void Schedule() {
    service_.pool_.Schedule([this] { Pump(/*on_pool=*/true); });
  }

  void End(const grpc::Status& status) {
    if (finished_.exchange(true)) return;
    Finish(status);
  }

  void WriteOrFetch() {
    if (cancelled_.load()) {
      End(grpc::Status::CANCELLED);
    } else if (service_.feed_.shut_down()) {
      End(ShuttingDown());
    } else if (!outbox_.empty() && !ErasedSinceRead()) {
      WriteNext();
    } else if (read_to_end_ && !first_heartbeat_ && cursor_ == reported_ &&
               service_.feed_.has_wake_thread()) {
      // It had read all there was and owes no CaughtUp: what committed
      // since waits for the feed's next round of wake-ups, so that one
      // message carries it all rather than one message per commit.
      // Once parked, this object may be woken and gone on another thread:
      // nothing of it is touched after a successful park.
      if (!service_.feed_.ParkForNextRound(this, cursor_)) {
        End(cancelled_.load() ? grpc::Status::CANCELLED : ShuttingDown());
      }
    } else {
      Pump(/*on_pool=*/false);
    }
  }

  // True when an erasure committed since the chunk in the outbox was read:
  // the outbox is dropped and the reading resumes after the last message
  // written, so that no erased event is sent after its delete answered.
  bool ErasedSinceRead() {
    if (service_.feed_.erasures() == erasures_seen_) return false;
    outbox_.clear();
    cursor_ = written_;
    read_to_end_ = false;
    reported_ = written_;
    return true;
  }

  // Reads until there is something to write, then writes it, or parks. Off
  // the pool (on gRPC's thread, after a write) it reads only from memory and
  // hands anything else (the start, a read of the log) to the pool.
  void Pump(bool on_pool) {
    if (!started_) {
      if (!on_pool) {
        Schedule();
        return;
      }
      started_ = true;
      const absl::StatusOr<CallContext>& call = call_;
      absl::StatusOr<app::Subscription> opened =
          call.ok() ? app::OpenSubscription(service_.feed_, *call,
                                            FromProto(request_))
                    : call.status();
      if (!opened.ok()) {
        End(ToGrpcStatus(opened.status()));
        return;
      }
      filter_ = std::move(opened->filter);
      cursor_ = opened->after;
      reported_ = cursor_;
      written_ = cursor_;
      // Every subscriber learns when it is live (the first CaughtUp).
      first_heartbeat_ = true;
    }
    while (outbox_.empty() || ErasedSinceRead()) {
      if (cancelled_.load()) {
        End(grpc::Status::CANCELLED);
        return;
      }
      if (service_.feed_.shut_down()) {
        End(ShuttingDown());
        return;
      }
      erasures_seen_ = service_.feed_.erasures();
      app::EventFeed::Chunk read;
      const app::EventFeed::Chunk* chunk = &read;
      if (!service_.feed_.ReadMemory(cursor_, kChunkEvents, &read)) {
        if (!on_pool) {
          Schedule();
          return;
        }
        if (!first_heartbeat_) {
          // It had been live and the ring has moved past it: it is told,
          // and owes a CaughtUp once it is live again.
          outbox_.push_back(EncodedMessage{
              EncodeFellBehind(cursor_, service_.feed_.LastPosition()),
              cursor_});
          reported_ = cursor_;
          first_heartbeat_ = true;
        }
        absl::StatusOr<app::EventFeed::Chunk> from_log =
            service_.feed_.Read(cursor_, kChunkEvents);
        if (!from_log.ok()) {
          End(ToGrpcStatus(from_log.status()));
          return;
        }
        read = *std::move(from_log);
      }
      for (const app::FeedEventRef& ref : chunk->events) {
        const eventstore::StoredEvent& event = ref->event;
        if (!filter_.Matches(event.stream, event.type)) continue;
        outbox_.push_back(EncodedMessage{BytesOf(ref), event.position});
        reported_ = event.position;
      }
      read_to_end_ = chunk->at_end;
      const bool at_edge = chunk->through == cursor_;
      cursor_ = chunk->through;
      if (at_edge) {
        if (first_heartbeat_ || cursor_ > reported_) {
          Heartbeat(/*live=*/true);
          continue;  // written unless an erasure came meanwhile
        }
        // Refused (moved on, cancelled, shut down): the loop's top says
        // which. Parked: nothing of this object is touched any more.
        if (!service_.feed_.Park(this, cursor_)) continue;
        return;
      }
      if (outbox_.empty() && cursor_ - reported_ >= kHeartbeatPositions) {
        Heartbeat(/*live=*/false);
      }
    }
    WriteNext();
  }

  // Writes the front of the outbox: one message, or (batched) as many as
  // fit in kBatchBytes, at least one, as one SubscribedEventBatch.
  void WriteNext() {
    if (!batched_) {
      writing_ = outbox_.front();
      writing_count_ = 1;
      StartWrite(&writing_);
      return;
    }
    // Each element: the tag of field 1 (length-delimited), the length, the
    // SubscribedEvent's bytes.
    constexpr char kEventsTag =
        (v1::SubscribedEventBatch::kEventsFieldNumber << 3) | 2;
    size_t count = 0;
    size_t size = 0;
    bool live = false;
    for (const EncodedMessage& message : outbox_) {
      const size_t element = 1 + 10 + message.bytes->size();
      if (count > 0 && size + element > kBatchBytes) break;
      size += element;
      live = live || message.live;
      ++count;
    }
    auto bytes = std::make_shared<std::string>();
    bytes->reserve(size);
    for (size_t i = 0; i < count; ++i) {
      const std::string& element = *outbox_[i].bytes;
      bytes->push_back(kEventsTag);
      AppendVarint(element.size(), bytes.get());
      bytes->append(element);
    }
    writing_ =
        EncodedMessage{std::move(bytes), outbox_[count - 1].position, live};
    writing_count_ = count;
    StartWrite(&writing_);
  }

  void Heartbeat(bool live) {
    outbox_.push_back(EncodedMessage{EncodeCaughtUp(cursor_), cursor_, live});
    reported_ = cursor_;
  }

  SubscriptionServiceImpl& service_;
  grpc::CallbackServerContext& context_;
  const v1::SubscribeEventsRequest& request_;
  // SubscribeEventBatches (else one event per message).
  const bool batched_;
  // Who subscribes (admitted by the access control when the call started).
  const absl::StatusOr<CallContext> call_;
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> finished_{false};
  // Touched only by the activity under way (see the class comment).
  bool started_ = false;
  bool first_heartbeat_ = false;
  app::SubscriptionFilter filter_;
  // The last position read, the last one the client will have been sent
  // once the outbox is written, and the last one written.
  uint64_t cursor_ = 0;
  uint64_t reported_ = 0;
  uint64_t written_ = 0;
  // The last read reached the end of the ring (EventFeed::Chunk::at_end).
  bool read_to_end_ = false;
  // EventFeed::erasures() when the chunk in the outbox was read.
  uint64_t erasures_seen_ = 0;
  // The messages of one chunk; the first `writing_count_` are being written
  // (as `writing_`).
  std::deque<EncodedMessage> outbox_;
  EncodedMessage writing_;
  size_t writing_count_ = 0;
};

SubscriptionServiceImpl::SubscriptionServiceImpl(app::EventFeed* feed,
                                                 app::WorkerPool* pool,
                                                 AccessControl* access)
    : feed_(*feed), pool_(*pool) {
  ControlAccess(access);
  DecodeStreamingRequestsOf<v1::SubscribedEvent>(
      "SubscribeEvents", &SubscriptionServiceImpl::Subscribe);
  DecodeStreamingRequestsOf<v1::SubscribedEventBatch>(
      "SubscribeEventBatches", &SubscriptionServiceImpl::SubscribeBatches);
}

SubscriptionServiceImpl::~SubscriptionServiceImpl() = default;

grpc::ServerWriteReactor<EncodedMessage>* SubscriptionServiceImpl::Subscribe(
    grpc::CallbackServerContext* context,
    const v1::SubscribeEventsRequest* request) {
  auto* subscriber = new Subscriber(this, context, request, /*batched=*/false);
  subscriber->Start();
  return subscriber;
}

grpc::ServerWriteReactor<EncodedMessage>*
SubscriptionServiceImpl::SubscribeBatches(
    grpc::CallbackServerContext* context,
    const v1::SubscribeEventsRequest* request) {
  auto* subscriber = new Subscriber(this, context, request, /*batched=*/true);
  subscriber->Start();
  return subscriber;
}

}  // namespace sequencer::server

namespace grpc {

grpc::Status
SerializationTraits<sequencer::server::EncodedMessage, void>::Serialize(
    const sequencer::server::EncodedMessage& message, grpc::ByteBuffer* buffer,
    bool* own_buffer) {
  // The slice holds a reference to the shared bytes until gRPC has sent them.
  auto* held = new std::shared_ptr<const std::string>(message.bytes);
  grpc::Slice slice(
      const_cast<char*>(message.bytes->data()), message.bytes->size(),
      [](void* user_data) {
        delete static_cast<std::shared_ptr<const std::string>*>(user_data);
      },
      held);
  grpc::ByteBuffer encoded(&slice, 1);
  buffer->Swap(&encoded);
  *own_buffer = true;
  return grpc::Status::OK;
}

grpc::Status
SerializationTraits<sequencer::server::EncodedMessage, void>::Deserialize(
    grpc::ByteBuffer* buffer, sequencer::server::EncodedMessage* message) {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      "encoded messages are only sent");
}

}  // namespace grpc
