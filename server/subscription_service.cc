#include "server/subscription_service.h"

#include <deque>
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

}  // namespace

// One SubscribeEvents call. At any time at most one of these is under way,
// and it alone touches the subscriber's state: a read on the pool (Fetch), a
// write (until OnWriteDone), or a park in the feed (until Wake or a
// successful Remove). OnCancel may come at any time: it only sets
// `cancelled_` and takes the subscriber out of the feed when parked; the
// activity under way notices the flag and finishes.
class SubscriptionServiceImpl::Subscriber final
    : public grpc::ServerWriteReactor<v1::SubscribedEvent>,
      public app::FeedWaiter {
 public:
  Subscriber(SubscriptionServiceImpl* service,
             grpc::CallbackServerContext* context,
             const v1::SubscribeEventsRequest* request)
      : service_(*service), context_(*context), request_(*request) {
    ++service_.open_;
  }

  void Start() { Schedule(); }

  void Wake(bool shutdown) override {
    if (shutdown) {
      End(ShuttingDown());
    } else {
      Schedule();
    }
  }

  void OnCancel() override {
    cancelled_.store(true);
    if (service_.feed_.Remove(this)) End(grpc::Status::CANCELLED);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      End(grpc::Status::CANCELLED);
      return;
    }
    outbox_.pop_front();
    WriteOrFetch();
  }

  void OnDone() override {
    --service_.open_;
    delete this;
  }

 private:
  void Schedule() {
    service_.pool_.Schedule([this] { Fetch(); });
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
    } else if (!outbox_.empty()) {
      StartWrite(&outbox_.front());
    } else {
      Schedule();
    }
  }

  // Runs on the pool: reads until there is something to write, or parks.
  void Fetch() {
    if (!started_) {
      started_ = true;
      absl::StatusOr<CallContext> call =
          CallContextFromMetadata(context_.client_metadata());
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
      // Every subscriber learns when it is live (the first CaughtUp).
      first_heartbeat_ = true;
    }
    while (outbox_.empty()) {
      if (cancelled_.load()) {
        End(grpc::Status::CANCELLED);
        return;
      }
      if (service_.feed_.shut_down()) {
        End(ShuttingDown());
        return;
      }
      absl::StatusOr<app::EventFeed::Chunk> chunk =
          service_.feed_.Read(cursor_, kChunkEvents);
      if (!chunk.ok()) {
        End(ToGrpcStatus(chunk.status()));
        return;
      }
      for (eventstore::StoredEvent& event : chunk->events) {
        if (!filter_.Matches(event.stream, event.type)) continue;
        v1::SubscribedEvent& message = outbox_.emplace_back();
        message.set_position(event.position);
        message.set_stream(std::move(event.stream));
        message.set_version(event.version);
        message.set_type(std::move(event.type));
        // Stored events are v1.Event; one that does not parse goes with
        // its position, stream and type.
        message.mutable_event()->ParseFromString(event.data);
        reported_ = event.position;
      }
      const bool at_edge = chunk->through == cursor_;
      cursor_ = chunk->through;
      if (at_edge) {
        if (first_heartbeat_ || cursor_ > reported_) {
          Heartbeat();
          break;
        }
        if (!service_.feed_.Park(this, cursor_)) continue;
        // OnCancel may have missed the park: take it back if so.
        if (cancelled_.load() && service_.feed_.Remove(this)) {
          End(grpc::Status::CANCELLED);
        }
        return;
      }
      if (outbox_.empty() && cursor_ - reported_ >= kHeartbeatPositions) {
        Heartbeat();
      }
    }
    StartWrite(&outbox_.front());
  }

  void Heartbeat() {
    v1::SubscribedEvent& message = outbox_.emplace_back();
    message.set_position(cursor_);
    message.mutable_caught_up();
    reported_ = cursor_;
    first_heartbeat_ = false;
  }

  SubscriptionServiceImpl& service_;
  grpc::CallbackServerContext& context_;
  const v1::SubscribeEventsRequest& request_;
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> finished_{false};
  // Touched only by the activity under way (see the class comment).
  bool started_ = false;
  bool first_heartbeat_ = false;
  app::SubscriptionFilter filter_;
  // The last position read, and the last one the client was sent.
  uint64_t cursor_ = 0;
  uint64_t reported_ = 0;
  // The messages of one chunk; the front one is being written.
  std::deque<v1::SubscribedEvent> outbox_;
};

SubscriptionServiceImpl::SubscriptionServiceImpl(app::EventFeed* feed,
                                                 app::WorkerPool* pool)
    : feed_(*feed), pool_(*pool) {
  DecodeRequestsOf("SubscribeEvents",
                   &SubscriptionServiceImpl::SubscribeEvents);
}

grpc::ServerWriteReactor<v1::SubscribedEvent>*
SubscriptionServiceImpl::SubscribeEvents(
    grpc::CallbackServerContext* context,
    const v1::SubscribeEventsRequest* request) {
  auto* subscriber = new Subscriber(this, context, request);
  subscriber->Start();
  return subscriber;
}

}  // namespace sequencer::server
