// The two ends of a use case for a gRPC handler: an encoder that turns the
// use case's result into the serialized response message (what the outcome
// record holds, app/pipeline/command_runner.h), and Respond, which fills the
// handler's response from what the use case answered, whether it ran now or
// answered a retry from its record.

#ifndef SEQUENCER_SERVER_RESPOND_H_
#define SEQUENCER_SERVER_RESPOND_H_

#include <cstdlib>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "app/pipeline/command_runner.h"
#include "google/protobuf/message.h"

namespace sequencer::server {

// An encoder from a function mapping a result to its response message. With
// `response` (the handler's own response, of that message type), the
// encoder also moves the message there, so that Respond need not parse the
// bytes back when the use case ran now.
template <typename Result, typename ToMessage>
app::ResponseEncoder<Result> EncodeWith(
    ToMessage to_message, google::protobuf::Message* response = nullptr) {
  return [to_message = std::move(to_message), response](const Result& result) {
    auto message = to_message(result);
    if (response == nullptr) return message.SerializeAsString();
    using Message = decltype(message);
    if (response->GetDescriptor() != Message::descriptor()) {
      std::abort();  // A handler passed another method's response.
    }
    Message& filled = *static_cast<Message*>(response);
    filled = std::move(message);
    return filled.SerializeAsString();
  };
}

// Fills `response` from what a use case answered: when it ran now, the
// encoder (EncodeWith with `response`) has filled it already; a retry
// answered from the record is parsed. The use case's error as it is;
// INTERNAL when the recorded bytes are not a `response` message.
template <typename Result>
absl::Status Respond(const absl::StatusOr<app::Answered<Result>>& answered,
                     google::protobuf::Message* response) {
  if (!answered.ok()) return answered.status();
  if (answered->result.has_value()) return absl::OkStatus();
  if (!response->ParseFromString(answered->response)) {
    return absl::InternalError(
        "the recorded response does not parse as the method's response");
  }
  return absl::OkStatus();
}

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_RESPOND_H_
